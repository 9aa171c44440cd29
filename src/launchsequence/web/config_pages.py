"""A flag's page in one environment (switch, targets, rules, fallthrough, test a context),
and segments. Saving names the version it edited: a stale one shows the other change."""

from __future__ import annotations

import re
from typing import Any

import launchsequence_engine as engine
import orjson
from starlette.responses import Response

from ..services import Conflict, Invalid, PreconditionFailed
from . import rules_form as rf
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]


def _draft(config: dict[str, Any], count: int) -> dict[str, Any]:
    targets = {t["variation"]: "\n".join(t["values"]) for t in config["targets"]}
    return {
        "on": config["on"],
        "client_side": config["client_side"],
        # "": unset, the application's own default is served.
        "off_variation": "" if config["off_variation"] is None else str(config["off_variation"]),
        "targets": [targets.get(k, "") for k in range(count)],
        "rules": rf.draft_rules(config["rules"], count),
        "ft": rf.draft_serve(config["fallthrough"], count),
        "version": config["version"],
    }


def _draft_from_form(p: Page, count: int) -> dict[str, Any]:
    f = p.form
    return {
        "on": f.get("on") == "1",
        "client_side": f.get("client_side") == "1",
        "off_variation": f.get("off_variation", "0"),
        "targets": [f.get(f"target{k}", "") for k in range(count)],
        "rules": rf.draft_from_form(f, count),
        "ft": rf.fallthrough_from_form(f, count),
        "version": int(f["version"]) if f.get("version", "").isdigit() else None,
    }


def _config(d: dict[str, Any], count: int, prerequisites: list[Any]) -> dict[str, Any]:
    """The configuration the form describes; `prerequisites` (not edited here) are kept."""
    off = d["off_variation"]
    if off != "" and (not off.isdigit() or int(off) >= count):
        raise Invalid("choose a variation", field="off_variation")
    return {
        "on": d["on"],
        "client_side": d["client_side"],
        "off_variation": int(off) if off else None,
        "prerequisites": prerequisites,
        "targets": [
            {"variation": k, "values": rf.split_keys(text)}
            for k, text in enumerate(d["targets"])
            if rf.split_keys(text)
        ],
        "rules": rf.rules_from_draft(d["rules"], count),
        "fallthrough": rf.serve_from_draft(d["ft"], "ft", count),
    }


def _why(r: engine.EvaluationResult, rules: list[dict[str, Any]], env: str) -> dict[str, Any]:
    """What decided a result, in the page's words: what matched (the off switch, an individual
    target, rule N with its description and id, or nothing), whether a rollout chose, the error."""
    why: dict[str, Any] = {"rollout": r.reason == engine.Reason.SPLIT, "error": None}
    if r.reason == engine.Reason.ERROR:
        why["matched"] = "Nothing: the evaluation failed"
        why["error"] = r.error_message or r.error_code
    elif r.prerequisite is not None:
        why["matched"] = f"Nothing: its prerequisite {r.prerequisite} does not hold in {env}"
    elif r.reason == engine.Reason.DISABLED:
        why["matched"] = f"Nothing: the flag is off in {env}, so it serves its off variation"
    elif r.rule_index is not None:
        rule = next((x for x in rules if x.get("id") == r.rule_id), {})
        described = f" “{rule['description']}”" if rule.get("description") else ""
        why["matched"] = f"Rule {r.rule_index + 1}{described} (id {r.rule_id})"
    elif r.reason == engine.Reason.TARGETING_MATCH:
        why["matched"] = "An individual target: the context's key is listed for this variation"
    else:
        why["matched"] = "No target or rule, so the default rule decides"
    return why


def _test(p: Page, org: str, project: str, env: str, flag: str) -> dict[str, Any] | None:
    raw = p.query.get("context")
    if raw is None:
        return None
    out: dict[str, Any] = {"context": raw}
    try:
        context = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        out["error"] = f"not valid JSON: {exc}"
        return out
    snapshot = p.services.flags.snapshot(p.need_actor(), org, project, env)
    compiled = engine.compile(snapshot, strict=False)
    r = engine.evaluate(compiled, flag, context, now=p.services.rt.now())
    out["result"] = {
        "value": r.value,
        "variation": r.variation,
        "variant": r.variant,
        "reason": r.reason,
        "error_code": r.error_code,
        "error_message": r.error_message,
        "rule_id": r.rule_id,
        "rule_index": r.rule_index,
    }
    rules = snapshot.get("flags", {}).get(flag, {}).get("rules", [])
    out["why"] = _why(r, rules, env)
    return out


@page()
def flag_page(p: Page) -> Response:
    org_key, project_key, flag_key = p.param("org"), p.param("project"), p.param("flag")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    flag = p.services.flags.get_flag(actor, org_key, project_key, flag_key)
    envs = [e["key"] for e in project["environments"]]
    env = p.form.get("env") or p.query.get("env") or (envs[0] if envs else "")
    config = p.services.flags.get_config(actor, org_key, project_key, flag_key, env)
    count = len(flag["variations"])
    errors: dict[str, str] = {}
    notice = None
    stale = None
    draft = _draft(config, count)
    if p.request.method == "POST":
        action = p.form.get("action", "save")
        if action in ("archive", "restore"):
            p.services.flags.update_flag(
                actor, org_key, project_key, flag_key, {"archived": action == "archive"}
            )
            raise Redirect(f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}")
        if action == "details":
            details = {
                "name": p.form.get("name", ""),
                "description": p.form.get("description", ""),
                "tags": [t for t in re.split(r"[\s,]+", p.form.get("tags", "")) if t],
            }
            try:
                p.services.flags.update_flag(actor, org_key, project_key, flag_key, details)
            except Invalid as exc:
                errors[f"details-{(exc.field or 'name').split('[')[0]}"] = exc.message
                flag = {**flag, **details, "tags": p.form.get("tags", "")}
                p.status = 422
            else:
                raise Redirect(
                    f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}&saved=details"
                )
        elif action != "save":
            draft = _draft_from_form(p, count)
            rf.apply_action(draft["rules"], action, count)
        else:
            draft = _draft_from_form(p, count)
            try:
                p.services.flags.write_config(
                    actor,
                    org_key,
                    project_key,
                    flag_key,
                    env,
                    _config(draft, count, config["prerequisites"]),
                    if_match=draft["version"],
                    replace=True,
                )
            except Invalid as exc:
                errors[rf.engine_field(exc.field)] = exc.message
                p.status = 422
            except PreconditionFailed:
                config = p.services.flags.get_config(actor, org_key, project_key, flag_key, env)
                draft = _draft(config, count)
                entries = p.services.audit.list_entries(
                    actor, org_key, project=project_key, environment=env, flag=flag_key, limit=1
                )["entries"]
                stale = entries[0] if entries else {}
                p.status = 409
            else:
                raise Redirect(f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}&saved=1")
    if p.query.get("saved") == "details":
        notice = "Saved the flag's name, description and tags."
    elif p.query.get("saved"):
        notice = f"Saved. {env} now serves version {config['version']}."
    context = {
        "org": org,
        "project": project,
        "flag": flag,
        "env": env,
        "config": config,
        "draft": draft,
        # The form holds what the user typed, not the stored configuration: live updates
        # must not replace it.
        "edited": draft != _draft(config, count),
        "errors": errors,
        "notice": notice,
        "stale": stale,
        "operators": rf.OPERATORS,
        "test": _test(p, org_key, project_key, env, flag_key),
        "segments": p.services.flags.list_segments(actor, org_key, project_key, env),
    }
    if p.request.headers.get("x-partial") == "status":
        return p.render("_flag_status.html", **context)
    return p.render("flag.html", **context)


@page()
def segment_list(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    envs = [e["key"] for e in project["environments"]]
    env = p.form.get("env") or p.query.get("env") or (envs[0] if envs else "")
    errors: dict[str, str] = {}
    values = {"key": "", "name": ""}
    if p.request.method == "POST":
        values = {"key": p.form.get("key", "").strip(), "name": p.form.get("name", "").strip()}
        try:
            p.services.flags.write_segment(
                actor,
                org_key,
                project_key,
                env,
                values["key"],
                {"name": values["name"] or values["key"]},
                create=True,
            )
        except (Invalid, Conflict) as exc:
            errors[getattr(exc, "field", None) or "key"] = exc.message
            p.status = 422
        else:
            raise Redirect(f"/o/{org_key}/p/{project_key}/segments/{values['key']}?env={env}")
    segments = p.services.flags.list_segments(actor, org_key, project_key, env)
    return p.render(
        "segments.html",
        org=org,
        project=project,
        env=env,
        segments=segments,
        errors=errors,
        values=values,
    )


@page()
def segment_page(p: Page) -> Response:
    org_key, project_key, key = p.param("org"), p.param("project"), p.param("segment")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    envs = [e["key"] for e in project["environments"]]
    env = p.form.get("env") or p.query.get("env") or (envs[0] if envs else "")
    segment = p.services.flags.get_segment(actor, org_key, project_key, env, key)
    errors: dict[str, str] = {}
    draft = {
        "name": segment["name"],
        "description": segment["description"],
        "included": "\n".join(segment["included"]),
        "excluded": "\n".join(segment["excluded"]),
        "rules": rf.draft_rules(segment["rules"], 0, serve=False),
    }
    if p.request.method == "POST":
        f = p.form
        draft = {
            "name": f.get("name", ""),
            "description": f.get("description", ""),
            "included": f.get("included", ""),
            "excluded": f.get("excluded", ""),
            "rules": rf.draft_from_form(f, 0, serve=False),
        }
        action = f.get("action", "save")
        if action == "delete":
            try:
                p.services.flags.delete_segment(actor, org_key, project_key, env, key)
            except Conflict as exc:
                errors["form"] = f"Not deleted: {exc.message}. Take it out of their rules first."
                p.status = 409
            else:
                raise Redirect(f"/o/{org_key}/p/{project_key}/segments?env={env}")
        elif action != "save":
            rf.apply_action(draft["rules"], action, 0, serve=False)
        else:
            try:
                body = {
                    "name": draft["name"],
                    "description": draft["description"],
                    "included": rf.split_keys(draft["included"]),
                    "excluded": rf.split_keys(draft["excluded"]),
                    "rules": rf.rules_from_draft(draft["rules"], 0, serve=False),
                }
                p.services.flags.write_segment(
                    actor, org_key, project_key, env, key, body, create=False
                )
            except Invalid as exc:
                field = exc.field or "form"
                errors[
                    field
                    if field in ("name", "description", "included", "excluded")
                    else rf.engine_field(field)
                ] = exc.message
                p.status = 422
            else:
                raise Redirect(f"/o/{org_key}/p/{project_key}/segments/{key}?env={env}")
    return p.render(
        "segment.html",
        org=org,
        project=project,
        env=env,
        segment=segment,
        draft=draft,
        errors=errors,
        operators=rf.OPERATORS,
    )


ROUTES = [
    ("/o/{org}/p/{project}/flags/{flag}", flag_page, ["GET", "POST"]),
    ("/o/{org}/p/{project}/segments", segment_list, ["GET", "POST"]),
    ("/o/{org}/p/{project}/segments/{segment}", segment_page, ["GET", "POST"]),
]
