"""The usage counter's bounds hold for what is put back after a failed flush or post, as
for what is counted."""

from __future__ import annotations

from launchsequence.usagecount import AppSeen, Drained, UsageCounter

APP = (1, "checkout", "python", "1.0.0")


def test_restore_keeps_at_most_max_instances_per_application() -> None:
    counter = UsageCounter()
    counter.add_seen(APP, 10, [f"a{i}" for i in range(600)])
    # What a failed post put back (or an edge's pending file held): 600 other instances.
    counter.restore(Drained({}, {APP: AppSeen(20, {f"b{i}" for i in range(600)})}, 0))
    seen = counter.apps[APP]
    assert len(seen.instances) == counter.max_instances == 1000
    assert seen.last_seen == 20


def test_restore_into_an_empty_counter_is_bounded_too() -> None:
    counter = UsageCounter()
    counter.restore(Drained({}, {APP: AppSeen(5, {f"i{i}" for i in range(5000)})}, 0))
    assert len(counter.apps[APP].instances) == counter.max_instances


def test_restore_keeps_at_most_max_keys_applications_and_counts() -> None:
    counter = UsageCounter(max_keys=2)
    apps = {(1, f"app{i}", "python", "1"): AppSeen(1) for i in range(5)}
    counts = {(1, "beta", 0, f"app{i}"): 3 for i in range(5)}
    counter.restore(Drained(counts, apps, 0))
    assert len(counter.apps) == 2 and len(counter.counts) == 2
    assert counter.overflow == 9  # the three counts that did not fit
