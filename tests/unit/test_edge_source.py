"""The edge's copy of its upstream's environments (`edge/source.py`): what `put` reports.

A flag change arrives at an edge as the environment's whole copy, keys included. Re-reading the
keys walks every open stream (to close those whose key expired), so the upstream client does it
only when `put` says the keys are not the ones held: a new environment, or new key digests or
expiries; a toggle with the same keys does not.
"""

from __future__ import annotations

from typing import Any

from launchsequence.edge.source import EnvironmentCopy, UpstreamSource

SERVER = {"digest": "a" * 64, "kind": "server", "expires_at": None}
CLIENT = {"digest": "b" * 64, "kind": "client", "expires_at": None}


def copy(version: int, *keys: dict[str, Any]) -> EnvironmentCopy:
    return EnvironmentCopy.from_json(
        {
            "env_id": 7,
            "owner": {
                "org_id": 1,
                "project_id": 2,
                "org": "acme",
                "project": "web",
                "environment": "prod",
            },
            "snapshot": {"version": version, "flags": {}},
            "keys": list(keys),
        }
    )


def test_put_says_whether_the_keys_changed_and_the_keys_answer_as_sent() -> None:
    source = UpstreamSource()
    assert source.put(copy(1, SERVER)) is True  # new: its keys are new
    assert source.put(copy(2, SERVER)) is False  # a flag change, same keys
    assert source.key("a" * 64) is not None and source.key("b" * 64) is None
    assert source.put(copy(3, SERVER, CLIENT)) is True  # a key added
    assert source.key("b" * 64) is not None
    rotated = {**SERVER, "expires_at": 1_900_000_000_000}
    assert source.put(copy(4, rotated, CLIENT)) is True  # an expiry set by a rotation
    record = source.key("a" * 64)
    assert record is not None and record.expires_at == 1_900_000_000_000
    assert source.put(copy(5, rotated, CLIENT)) is False
    assert source.snapshot(7) == {"version": 5, "flags": {}}
