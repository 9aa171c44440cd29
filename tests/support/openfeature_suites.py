"""OpenFeature's own Gherkin suites (open-feature/spec), read where CI puts them, and their flags.

The feature files and `test-flags.json` live in `<repo>/../shared/openfeature-spec/` (never
copied into the repository). `load_flags` writes the flags into a real server through the admin
API, translated from flagd's format: `variants` become variations (named by their variant),
`defaultVariant` the fallthrough (unset when null or absent: the caller's default),
`disabled` an off flag with no off variation (the caller's default, as OpenFeature expects),
`flagMetadata` the flag's metadata, and `contextEvaluator` (conditions joined by `&&`, each
`attr == 'text'`, `attr > number` or `!attr`, choosing a variant or '' for none) one rule.

`pickles()` gives every scenario (outlines expanded) and `not_applicable` the reason a scenario
cannot apply to a remote provider, or None.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler

from tests.support.api import ApiUser

__all__ = ["FEATURES", "flag_body", "load_flags", "not_applicable", "pickles", "spec_dir"]

FEATURES = ("evaluation.feature", "evaluation_v2.feature", "metadata.feature")
ROOT = Path(__file__).resolve().parents[2]

#: Scenarios that test the OpenFeature SDK itself (its provider states, hooks, immutability,
#: asynchronous API, its cache) rather than what a provider answers: a remote provider against
#: a running server cannot be put in those states, so they do not apply to it.
_NOT_FOR_A_REMOTE_PROVIDER = {
    "a not ready provider": "needs a provider that never becomes ready (an SDK state)",
    "a fatal provider": "needs a provider in the FATAL state (an SDK state)",
    "evaluation options containing specific hooks": "tests the SDK's hooks, not a provider",
    "an evaluation context with modifiable data": "tests the SDK's immutability, not a provider",
}
_STATUS = re.compile(r"^an? (\w+) provider$")


def spec_dir() -> Path | None:
    """`<repo>/../shared/openfeature-spec`, or None when it is not there."""
    path = ROOT.parent / "shared" / "openfeature-spec"
    return path if (path / "test-flags.json").is_file() else None


def required() -> bool:
    """Under CI the suites must run: a missing copy is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def pickles(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """(feature file, pickle) of every scenario, outlines expanded, in file order."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name in FEATURES:
        path = directory / name
        document = Parser().parse(path.read_text(encoding="utf-8"))
        document["uri"] = name
        out.extend((name, pickle) for pickle in Compiler().compile(document))
    return out


def not_applicable(pickle: dict[str, Any], flags: dict[str, Any]) -> str | None:
    """Why a scenario cannot apply to a remote provider against our server, or None."""
    for step in pickle["steps"]:
        text = step["text"]
        reason = _NOT_FOR_A_REMOTE_PROVIDER.get(text)
        if reason is not None:
            return reason
        status = _STATUS.match(text)
        if status and status.group(1) != "stable":
            return f"needs a provider in the {status.group(1)} SDK state"
        if text.startswith("the flag was evaluated with details") and "CACHED" in json.dumps(
            pickle["steps"]
        ):
            return "CACHED is the SDK's cache answering; a remote provider asks every time"
        for key in re.findall(r'flag with key "([^"]+)"', text):
            if key not in flags and not key.startswith(("non-existent", "missing")):
                return f"its flag {key!r} is not in test-flags.json"
    return None


def flag_body(key: str, flag: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The flag (POST .../flags) and its production configuration (PUT) for a flagd flag."""
    names = list(flag["variants"])
    values = [flag["variants"][n] for n in names]
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        flag_type = "boolean"
    elif kinds == {str}:
        flag_type = "string"
    elif kinds <= {int, float}:
        flag_type = "number"
    else:
        flag_type = "json"
    body: dict[str, Any] = {
        "key": key,
        "type": flag_type,
        "variations": [{"value": v, "name": n} for n, v in zip(names, values, strict=True)],
        "client_side": True,
    }
    if flag.get("flagMetadata"):
        body["metadata"] = flag["flagMetadata"]
    default = flag.get("defaultVariant")
    config: dict[str, Any] = {
        "on": not flag.get("disabled", False),
        "off_variation": None,
        "fallthrough": {"variation": names.index(default)} if default is not None else None,
    }
    evaluator = flag.get("contextEvaluator")
    if evaluator:
        config["rules"] = [_rule(evaluator, names)]
    return body, config


_EVALUATOR = re.compile(r"^(?P<conditions>.+?)\s*\?\s*'(?P<then>[^']*)'\s*:\s*'(?P<otherwise>)'$")


def _rule(expression: str, names: list[str]) -> dict[str, Any]:
    match = _EVALUATOR.match(expression.strip())
    if match is None or match["then"] not in names:
        raise ValueError(f"cannot translate contextEvaluator {expression!r}")
    clauses = [_clause(part.strip()) for part in match["conditions"].split("&&")]
    return {
        "id": "evaluator",
        "clauses": clauses,
        "serve": {"variation": names.index(match["then"])},
    }


def _clause(condition: str) -> dict[str, Any]:
    if condition.startswith("!"):
        return {"attribute": condition[1:].strip(), "op": "in", "values": [False]}
    equal = re.fullmatch(r"(\w+)\s*==\s*'([^']*)'", condition)
    if equal:
        return {"attribute": equal[1], "op": "in", "values": [equal[2]]}
    greater = re.fullmatch(r"(\w+)\s*>\s*(-?\d+(?:\.\d+)?)", condition)
    if greater:
        return {"attribute": greater[1], "op": "gt", "values": [json.loads(greater[2])]}
    raise ValueError(f"cannot translate condition {condition!r}")


def load_flags(user: ApiUser, base: str, flags: dict[str, Any]) -> None:
    """Create every flag of test-flags.json in the project at `base` (/api/v1/orgs/.../projects/
    ...), configured in its production environment."""
    for key, flag in flags.items():
        body, config = flag_body(key, flag)
        created = user.post(f"{base}/flags", json=body)
        assert created.status_code == 201, created.text
        put = user.put(f"{base}/flags/{key}/environments/production", json=config)
        assert put.status_code == 200, put.text


if __name__ == "__main__":  # the Node suites (tests/openfeature-node) load the same flags
    found = spec_dir()
    flags = json.loads((found / "test-flags.json").read_text()) if found else {}
    bodies = [flag_body(k, f) for k, f in flags.items()]
    print(json.dumps({"dir": str(found or ""), "flags": bodies}))
