"""The core starts without its admin app: SDK, relay and operations requests are answered by a
process that has not loaded FastAPI, pydantic, Jinja2 or the flag services, and the first
dashboard or REST request builds the admin app (docs/benchmarks.md, "Memory and start").

Run in a fresh interpreter (this test process has loaded everything already), on a real SQLite
file, through the core's real ASGI application and lifespan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_SCRIPT = r"""
import json, sys
from starlette.testclient import TestClient
from launchsequence.app import create_app
from launchsequence.config import Settings

HEAVY = ("fastapi", "pydantic", "jinja2", "launchsequence.web", "launchsequence.services.flags")
app = create_app(Settings(data_dir=sys.argv[1]))
out = {"after_start": [m for m in HEAVY if m in sys.modules]}
with TestClient(app, base_url="http://127.0.0.1") as client:
    answers = {
        "healthz": client.get("/healthz"),
        "readyz": client.get("/readyz"),
        "metrics": client.get("/metrics"),
        "evaluate": client.post("/sdk/v1/evaluate", json={"context": {"key": "u"}},
                                headers={"Authorization": "Bearer ls_srv_nope"}),
        "ofrep": client.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u"}},
                             headers={"Authorization": "Bearer ls_srv_nope"}),
    }
    out["status"] = {name: r.status_code for name, r in answers.items()}
    out["headers"] = {name: r.headers.get("x-content-type-options") for name, r in answers.items()}
    out["after_sdk"] = [m for m in HEAVY if m in sys.modules]
    out["built_before"] = app.lazy_admin.built
    login = client.get("/login")
    out["login"] = [login.status_code, "<form" in login.text, login.headers.get("x-frame-options")]
    out["openapi_ops"] = sorted(
        p for p in client.get("/api/v1/openapi.json").json()["paths"]
        if p in ("/healthz", "/readyz", "/metrics")
    )
    out["after_admin"] = [m for m in HEAVY if m in sys.modules]
    out["built_after"] = app.lazy_admin.built
print(json.dumps(out))
"""


def test_the_admin_app_is_built_by_its_first_request(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["after_start"] == []
    # Operations and SDK requests are answered (an unknown key is refused as usual) ...
    assert out["status"] == {
        "healthz": 200,
        "readyz": 200,
        "metrics": 200,
        "evaluate": 401,
        "ofrep": 401,
    }
    assert set(out["headers"].values()) == {"nosniff"}
    # ... with none of the admin side loaded.
    assert out["after_sdk"] == []
    assert out["built_before"] is False
    # The first dashboard request builds it, and it answers as ever.
    assert out["login"] == [200, True, "DENY"]
    assert out["openapi_ops"] == ["/healthz", "/metrics", "/readyz"]
    assert out["built_after"] is True
    assert set(out["after_admin"]) == {
        "fastapi",
        "pydantic",
        "jinja2",
        "launchsequence.web",
        "launchsequence.services.flags",
    }
