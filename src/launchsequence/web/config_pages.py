"""A flag's page in one environment (switch, targets, rules, fallthrough, test a context).
Saving names the version it edited: a stale one shows the other change. In an environment
that confirms changes, a save without the form's `confirmed` field shows a confirmation step
(scripts ask in a dialog first)."""

from __future__ import annotations

import re
from typing import Any

import launchsequence_engine as engine
import orjson
from starlette.responses import Response

from ..services import InUse, Invalid, PreconditionFailed
from ..services.access import refuse_read_only
from . import context_form, params
from . import relations_form as relations
from . import rules_form as rf
from .confirm import asks_confirmation
from .lifecycle_pages import flag_page_context, lifecycle_form
from .pages import Page, Redirect, page
from .request_pages import request_form_edits
from .schedule_pages import flag_schedules, local_input, schedule_form_edits

__all__ = ["ROUTES"]

MAX_VERSION = 10**12 - 1  # as If-Match in the API: up to 12 digits
OPEN_REQUESTS_SHOWN = 10  # the flag page lists its newest waiting requests; the rest a click away


def _draft(config: dict[str, Any], count: int) -> dict[str, Any]:
    targets = {t["variation"]: "\n".join(t["values"]) for t in config["targets"]}
    # Not `on`: the switch at the top turns the flag on or off, at once; the form never does.
    return {
        "client_side": config["client_side"],
        # "": unset, the application's own default is served.
        "off_variation": "" if config["off_variation"] is None else str(config["off_variation"]),
        "prerequisites": [f"{x['flag']}:{x['variation']}" for x in config["prerequisites"]],
        "targets": [targets.get(k, "") for k in range(count)],
        "rules": rf.draft_rules(config["rules"], count),
        "ft": rf.draft_serve(config["fallthrough"], count),
        "version": config["version"],
    }


def _draft_from_form(p: Page, count: int, config: dict[str, Any]) -> dict[str, Any]:
    """The form as typed. A form without prerequisite rows (a page from before they were
    editable, or a draft kept from one) keeps the stored ones rather than clearing them."""
    f = p.form
    stored = _draft(config, count)["prerequisites"]
    return {
        "client_side": f.get("client_side") == "1",
        "off_variation": f.get("off_variation", "0"),
        "prerequisites": (relations.prerequisites_from_form(f) if "prereq_rows" in f else stored),
        "targets": [f.get(f"target{k}", "") for k in range(count)],
        "rules": rf.draft_from_form(f, count),
        "ft": rf.fallthrough_from_form(f, count),
        # The version the form was made from (a stale one shows the other change).
        "version": params.optional_integer(f.get("version"), "version", lo=0, hi=MAX_VERSION),
    }


def _config(d: dict[str, Any], count: int, on: bool) -> dict[str, Any]:
    """The configuration the form describes, `on` as stored (the switch sets it, not the
    form). An empty off variation serves the application's own default; an empty
    prerequisite row is none."""
    raw_off = d["off_variation"]
    off = None if raw_off in ("", None) else params.index(raw_off, count)
    if raw_off not in ("", None) and off is None:
        raise Invalid("choose a variation", field="off_variation")
    return {
        "on": on,
        "client_side": d["client_side"],
        "off_variation": off,
        "prerequisites": relations.prerequisites_from_draft(d["prerequisites"]),
        "targets": [
            {"variation": k, "values": rf.split_keys(text)}
            for k, text in enumerate(d["targets"])
            if rf.split_keys(text)
        ],
        "rules": rf.rules_from_draft(d["rules"], count),
        "fallthrough": rf.serve_from_draft(d["ft"], "ft", count),
    }


def _form_field(path: str | None) -> str:
    """The form field beside which an error on `path` shows: `prerequisites[i]...` beside
    row i (the saved draft holds no empty rows, so the numbers agree), else the list."""
    if path and path.startswith("prerequisites"):
        m = re.match(r"prerequisites\[(\d+)\]", path)
        return f"prereq{m.group(1)}" if m else "prerequisites"
    return rf.engine_field(path)


def _required_by(
    p: Page, org_key: str, project_key: str, by_env: dict[str, list[str]]
) -> list[dict[str, str]]:
    """Each flag requiring the one being archived, per environment, with what it will serve
    once its prerequisite fails: what it serves when off."""
    actor = p.need_actor()
    out = []
    for env, keys in by_env.items():
        for key in keys:
            other = p.services.flags.get_flag(actor, org_key, project_key, key)
            config = p.services.flags.get_config(actor, org_key, project_key, key, env)
            out.append({"env": env, "flag": key, "serves": relations.off_result(other, config)})
    return out


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


def _test(
    p: Page, org: str, project: str, env: str, flag: str, config: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The "test a context" panel's answer: for the stored configuration (the `context` query
    parameter), or for `config`, the form's unsaved one (the `context` form field)."""
    raw, problem = context_form.context_text(p.query if config is None else p.form)
    if raw is None:
        return None
    out: dict[str, Any] = {"context": raw, "draft": config is not None}
    if problem:
        out["error"] = problem
        return out
    try:
        context = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        out["error"] = f"not valid JSON: {exc}"
        return out
    if config is None:
        snapshot = p.services.flags.snapshot(p.need_actor(), org, project, env)
        compiled = engine.compile(snapshot, strict=False)
        r = engine.evaluate(compiled, flag, context, now=p.services.rt.now())
        rules = snapshot.get("flags", {}).get(flag, {}).get("rules", [])
    else:
        r, rules = p.services.drafts.evaluate(
            p.need_actor(), org, project, flag, env, config, context
        )
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
    out["why"] = _why(r, rules, env)
    return out


@page()
def flag_page(p: Page) -> Response:
    org_key, project_key, flag_key = p.param("org"), p.param("project"), p.param("flag")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    flag = p.services.flags.get_flag(actor, org_key, project_key, flag_key)
    # Edits sent after the session had ended, kept while the user logged in again.
    restored = p.take_draft() if p.request.method == "GET" else None
    if restored:
        p.lists = restored
        p.form = {k: v[0] for k, v in restored.items() if v}
    envs = [e["key"] for e in project["environments"]]
    env = p.form.get("env") or p.query.get("env") or (envs[0] if envs else "")
    config = p.services.flags.get_config(actor, org_key, project_key, flag_key, env)
    here_env: dict[str, Any] = next((e for e in project["environments"] if e["key"] == env), {})
    count = len(flag["variations"])
    errors: dict[str, str] = {}
    notice = None
    stale = None
    test = None
    confirming = False
    metadata_text = None
    draft = _draft(config, count)
    if restored:
        draft = _draft_from_form(p, count, config)
        notice = (
            "Restored your unsaved changes from before your session ended. They are not "
            "saved yet: check them, then save."
        )
    if p.request.method == "POST":
        action = p.form.get("action", "save")
        if action in ("archive", "restore"):
            try:
                p.services.flags.update_flag(
                    actor,
                    org_key,
                    project_key,
                    flag_key,
                    {"archived": action == "archive"},
                    force=p.form.get("force") == "1",
                )
            except InUse as exc:
                return p.render(
                    "confirm_archive.html",
                    org=org,
                    project=project,
                    flag=flag,
                    env=env,
                    exc=exc,
                    required_by=_required_by(p, org_key, project_key, exc.dependents),
                    recent_days=p.services.rt.settings.lifecycle_recent_days,
                    comment=p.form.get("comment", ""),
                )
            raise Redirect(f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}")
        if action == "details":
            details: dict[str, Any] = {
                "name": p.form.get("name", ""),
                "description": p.form.get("description", ""),
                "tags": [t for t in re.split(r"[\s,]+", p.form.get("tags", "")) if t],
                **lifecycle_form(p),
            }
            try:
                if "metadata" in p.form:
                    details["metadata"] = relations.parse_metadata(p.form["metadata"])
                p.services.flags.update_flag(actor, org_key, project_key, flag_key, details)
            except Invalid as exc:
                field = re.split(r"[\[.]", exc.field or "name")[0]
                errors[f"details-{field}"] = exc.message
                flag = {**flag, **details, "tags": p.form.get("tags", "")}
                metadata_text = p.form.get("metadata")
                p.status = 422
            else:
                raise Redirect(
                    f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}&saved=details"
                )
        elif action == "test":
            # Evaluate the form as it stands, saved or not; it comes back with every edit.
            draft = _draft_from_form(p, count, config)
            draft["prerequisites"] = [r for r in draft["prerequisites"] if r]
            try:
                test = _test(
                    p,
                    org_key,
                    project_key,
                    env,
                    flag_key,
                    _config(draft, count, config["on"]),
                )
            except Invalid as exc:
                errors[_form_field(exc.field)] = exc.message
                p.status = 422
        elif action == "prereq-add":
            draft = _draft_from_form(p, count, config)
            draft["prerequisites"].append("")
        elif action.startswith("prereq-remove-"):
            draft = _draft_from_form(p, count, config)
            row = params.index(action.removeprefix("prereq-remove-"), len(draft["prerequisites"]))
            if row is None:
                raise Invalid("no such prerequisite row", field="action")
            del draft["prerequisites"][row]
        elif action == "schedule":
            draft = _draft_from_form(p, count, config)
            draft["prerequisites"] = [r for r in draft["prerequisites"] if r]
            try:
                if draft["version"] is not None and draft["version"] != config["version"]:
                    raise Invalid(
                        f"someone else changed this flag in {env} since you loaded it: reload "
                        "the page and make your edits again before scheduling them",
                        field="schedule",
                    )
                schedule_form_edits(
                    p, org_key, project_key, flag_key, env, _config(draft, count, config["on"]),
                    config,
                )  # fmt: skip
            except Invalid as exc:
                field = exc.field or "schedule"
                key = "schedule" if field.startswith(("schedule", "at", "changes", "comment")) \
                    else _form_field(field)  # fmt: skip
                errors[key] = exc.message
                p.status = 422
        elif action == "request":
            draft = _draft_from_form(p, count, config)
            draft["prerequisites"] = [r for r in draft["prerequisites"] if r]
            try:
                request_form_edits(
                    p,
                    org_key,
                    project_key,
                    flag_key,
                    env,
                    _config(draft, count, config["on"]),
                    config,
                )
            except Invalid as exc:
                field = exc.field or "request"
                key = "request" if field.startswith(("request", "changes", "comment")) \
                    else _form_field(field)  # fmt: skip
                errors[key] = exc.message
                p.status = 422
        elif action != "save":
            draft = _draft_from_form(p, count, config)
            rf.apply_action(draft["rules"], action, count)
        else:
            draft = _draft_from_form(p, count, config)
            draft["prerequisites"] = [r for r in draft["prerequisites"] if r]
            try:
                wanted = _config(draft, count, config["on"])
                if asks_confirmation(project, env) and p.form.get("confirmed") != "1":
                    refuse_read_only(org["role"])
                    # Refused edits say why now, not after the confirmation.
                    p.services.drafts.evaluate(
                        actor, org_key, project_key, flag_key, env, wanted, {}
                    )
                    confirming = True  # the page again, the edits kept, asking to confirm
                else:
                    p.services.flags.write_config(
                        actor,
                        org_key,
                        project_key,
                        flag_key,
                        env,
                        wanted,
                        if_match=draft["version"],
                        replace=True,
                    )
            except Invalid as exc:
                errors[_form_field(exc.field)] = exc.message
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
                if not confirming:
                    raise Redirect(
                        f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}&saved=1"
                    )
    scheduled_notice = None
    if p.query.get("scheduled"):
        scheduled_notice = "Scheduled. It applies at its time unless you edit or cancel it."
    elif p.query.get("schedule"):
        scheduled_notice = f"Scheduled change {p.query.get('schedule')}."
    if p.query.get("saved") == "details":
        notice = "Saved the flag's name, description, tags and metadata."
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
        "confirming": confirming,
        "request_schedule_on": p.form.get("schedule_on", ""),
        "confirm_env": asks_confirmation(project, env),
        "comment": p.form.get("comment", ""),
        "test_failed": p.form.get("action") == "test",
        "notice": notice,
        "stale": stale,
        "operators": rf.OPERATORS,
        "test": test or _test(p, org_key, project_key, env, flag_key),
        "schedules": flag_schedules(p, org_key, project_key, flag_key, env),
        "schedule_default": p.form.get("schedule_at")
        or local_input(p.services.rt.now() + 3_600_000),
        "scheduled_notice": scheduled_notice,
        "protected": bool(here_env.get("protected")),
        "required_approvals": here_env.get("required_approvals", 1),
        "open_requests": (
            p.services.change_requests.list_requests(
                actor,
                org_key,
                project_key,
                env_key=env,
                flag_key=flag_key,
                waiting=True,
                limit=OPEN_REQUESTS_SHOWN,
            )
            if here_env.get("protected")
            else []
        ),
        "here": f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={env}",
        "set_aside": p.services.flags.set_aside(actor, org_key, project_key, flag_key, env),
        "segments": p.services.flags.list_segments(actor, org_key, project_key, env),
        "metadata_text": (
            relations.format_metadata(flag.get("metadata") or {})
            if metadata_text is None
            else metadata_text
        ),
        "code_refs": p.services.code_refs.for_flag(actor, org_key, project_key, flag_key),
        "prerequisite_choices": relations.prerequisite_choices(
            p.services.flags.list_flags(actor, org_key, project_key), flag_key
        ),
    }
    if p.request.headers.get("x-partial") == "status":
        return p.render("_flag_status.html", **context)
    context.update(flag_page_context(p, org_key, project_key, flag, env))
    return p.render("flag.html", **context)


ROUTES = [
    ("/o/{org}/p/{project}/flags/{flag}", flag_page, ["GET", "POST"]),
]
