"""Setting up an environment through the admin API, as a user would, for the SDK's tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.api import ApiUser, signup

BOOL = {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}


@dataclass
class Env:
    url: str
    user: ApiUser
    base: str  # /api/v1/orgs/{org}/projects/default
    key: str  # the production environment's server key

    def make_flag(self, key: str, config: dict[str, Any] | None = None, **fields: Any) -> None:
        r = self.user.post(f"{self.base}/flags", json={"key": key, **fields})
        assert r.status_code == 201, r.text
        if config is not None:
            self.configure(key, config)

    def configure(self, key: str, config: dict[str, Any]) -> None:
        path = f"{self.base}/flags/{key}/environments/production"
        write = self.user.put if "fallthrough" in config else self.user.patch
        r = write(path, json=config)
        assert r.status_code == 200, r.text

    def toggle(self, key: str, on: bool) -> None:
        self.configure(key, {"on": on})

    def rotate_key(self) -> str:
        body = {"kind": "server", "grace_seconds": 0}
        r = self.user.post(f"{self.base}/environments/production/sdk-keys", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


def setup_env(url: str, email: str) -> Env:
    user = signup(url, email)
    env = Env(url, user, f"/api/v1/orgs/{user.org}/projects/default", "")
    env.key = env.rotate_key()
    return env


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {message}")
        time.sleep(0.01)


#: One flag of each type and each way of being decided, for the evaluation tests.
def make_catalog(env: Env) -> None:
    env.make_flag("dark", {"on": False, "off_variation": 1, "fallthrough": {"variation": 0}})
    env.make_flag(
        "checkout",
        {"on": True, "off_variation": 1,
         "targets": [{"variation": 0, "values": ["vip-1"]}],
         "rules": [{"id": "eu", "clauses": [{"attribute": "country", "op": "in",
                                             "values": ["DE"]}],
                    "serve": {"variation": 0}}],
         "fallthrough": {"variation": 1}},
        client_side=True,
    )  # fmt: skip
    env.make_flag(
        "theme",
        {"on": True, "off_variation": 0,
         "fallthrough": {"rollout": {"weights": [{"variation": 0, "weight": 50_000},
                                                 {"variation": 1, "weight": 50_000}]}}},
        type="string",
        variations=[{"value": "light", "name": "Light"}, {"value": "dark", "name": "Dark"}],
    )  # fmt: skip
    env.make_flag(
        "limit",
        {"on": True, "off_variation": 0, "fallthrough": {"variation": 1},
         "targets": [{"variation": 2, "values": ["u-3"]}]},
        type="number", variations=[{"value": 10}, {"value": 2.5}, {"value": 7}],
    )  # fmt: skip
    env.make_flag(
        "layout",
        {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}},
        type="json", variations=[{"value": {"cols": 1}}, {"value": {"cols": 3}}],
    )  # fmt: skip
