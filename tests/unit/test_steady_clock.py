"""SteadyClock: the wall clock without its jumps."""

from __future__ import annotations

from launchsequence.services.runtime import SteadyClock


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_700_000_000_000
        self.elapsed = 5_000

    def tick(self, ms: int) -> None:
        self.wall += ms
        self.elapsed += ms


def make(skew_ms: int = 1_000) -> tuple[Clocks, SteadyClock]:
    clocks = Clocks()
    return clocks, SteadyClock(lambda: clocks.wall, lambda: clocks.elapsed, skew_ms)


def test_it_is_the_wall_clock_while_nothing_jumps() -> None:
    clocks, steady = make()
    for _ in range(5):
        clocks.tick(60_000)
        assert steady() == clocks.wall


def test_small_corrections_within_the_skew_are_followed() -> None:
    clocks, steady = make(skew_ms=1_000)
    clocks.tick(10_000)
    clocks.wall += 900  # NTP stepping the clock a little
    assert steady() == clocks.wall


def test_a_jump_back_is_ignored_until_the_clock_is_corrected() -> None:
    clocks, steady = make()
    start = steady()
    clocks.wall -= 3_600_000
    clocks.tick(10_000)
    assert steady() == start + 10_000
    clocks.tick(5_000)
    assert steady() == start + 15_000
    clocks.wall += 3_600_000  # corrected
    assert steady() == clocks.wall == start + 15_000


def test_a_jump_forward_is_ignored() -> None:
    clocks, steady = make()
    start = steady()
    clocks.wall += 86_400_000
    assert steady() == start
    clocks.tick(2_000)
    assert steady() == start + 2_000  # still counting real time, not the jump
