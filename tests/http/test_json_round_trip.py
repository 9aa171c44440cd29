"""Property: a variation value the API accepts comes back unchanged from every way out of the
server (the admin API, the SDK snapshot, the server stream, evaluation, export and import
again); one it refuses is refused with 422 and a stable code, and changes nothing.

Values are generated JSON (any scalar JSON can carry, arrays, objects), wrapped in up to 40
extra levels of arrays and padded up to past the size bound, so that both sides of the depth
and size bounds are reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.http.test_delivery import SseStream, evaluate, make_flag, sdk, setup_env
from tests.support.live import LiveServer

MAX_DEPTH = 32
MAX_BYTES = 65_536
OTHER = "the-other-variation"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)


@st.composite
def candidates(draw: st.DrawFn) -> Any:
    value = draw(json_values)
    if draw(st.booleans()):  # padded: near, at or past the size bound
        value = [value, "x" * draw(st.integers(MAX_BYTES - 200, MAX_BYTES + 10))]
    for _ in range(draw(st.integers(0, 40))):
        value = [value]
    return value


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def same(a: Any, b: Any) -> bool:
    """JSON equality, types included (True is not 1, 1.0 is not 1)."""
    option = orjson.OPT_SORT_KEYS
    return orjson.dumps(a, option=option) == orjson.dumps(b, option=option)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    """One server, one project and one open server stream for every example."""
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("data")), secret_key="test-secret")
    server = LiveServer(create_app(settings)).start()
    run = RoundTrip(server.url)
    try:
        yield run
    finally:
        run.stream.close()
        server.stop()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(candidates(), min_size=1, max_size=3))
def test_accepted_values_round_trip_everywhere_and_refused_ones_change_nothing(
    round_trip: RoundTrip, values: list[Any]
) -> None:
    for value in values:
        assume(value is not None and value != OTHER)
        round_trip.check(value)


class RoundTrip:
    def __init__(self, url: str) -> None:
        self.e = setup_env(url, "round-trip@example.com")
        body = {"type": "json", "variations": [{"value": {"start": 1}}, {"value": OTHER}]}
        make_flag(self.e, "shape", {"on": True, "off_variation": 1,
                                    "fallthrough": {"variation": 0}}, **body)  # fmt: skip
        self.current: Any = {"start": 1}
        headers = {"Authorization": f"Bearer {self.e.server_key}"}
        self.stream = SseStream(url, "/sdk/v1/stream", headers).open()
        assert self.stream.next_data_event().event == "put"
        self.url = url

    def check(self, value: Any) -> None:
        e, flag = self.e, f"{self.e.base}/flags/shape"
        size = len(orjson.dumps(value))
        accepted = depth(value) <= MAX_DEPTH and size <= MAX_BYTES
        answer = e.user.patch(flag, json={"variations": [{"value": value}, {"value": OTHER}]})
        if not accepted:
            assert answer.status_code == 422, answer.text[:200]
            code = answer.json()["error"]["code"]
            assert code == ("value_too_deep" if depth(value) > MAX_DEPTH else "value_too_large")
            assert same(e.user.get(flag).json()["variations"][0]["value"], self.current)
            return
        assert answer.status_code == 200, answer.text[:300]
        changed, self.current = not same(value, self.current), value
        assert same(e.user.get(flag).json()["variations"][0]["value"], value)
        snapshot = sdk(self.url, "/sdk/v1/snapshot", e.server_key).json()
        assert same(snapshot["flags"]["shape"]["variations"][0]["value"], value)
        while changed:  # the stream's next patch of the flag carries it
            ev = self.stream.next_data_event(timeout=10)
            if ev.event == "patch" and ev.data.get("key") == "shape":
                assert same(ev.data["flag"]["variations"][0]["value"], value)
                break
        result = evaluate(e, {"key": "u-1"}, ["shape"])["flags"]["shape"]
        assert same(result["value"], value)
        document = e.user.get(f"{e.base}/export").json()
        imported = e.user.post(f"/api/v1/orgs/{e.user.org}/import?project=copy", json=document)
        assert imported.status_code == 200, imported.text[:300]
        copy = e.user.get(f"/api/v1/orgs/{e.user.org}/projects/copy/flags/shape").json()
        assert same(copy["variations"][0]["value"], value)
