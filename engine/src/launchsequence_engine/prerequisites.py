"""Prerequisites: a flag that serves its targeting only while other flags serve given variations.

Checked once the snapshot's flags are compiled, since they name each other: every prerequisite
names a flag of the snapshot that has that variation, and no chain of prerequisites returns to
where it began (the fault is reported at the flag whose prerequisite closes the cycle, naming
the cycle) or runs deeper than MAX_PREREQUISITE_DEPTH. A prerequisite missing from the snapshot
(an archived or deleted flag, or one set aside by lenient compilation) is not a fault: it simply
never holds, so the flag serves its off result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from .codegen import CachedRun, GeneratedRun
from .errors import SnapshotError
from .flags import CompiledFlag
from .result import EvaluationResult, Reason
from .sharing import ClauseTable

__all__ = ["MAX_PREREQUISITE_DEPTH", "link_prerequisites"]

#: How long a chain of prerequisites may be: a flag without prerequisites is 1 deep.
MAX_PREREQUISITE_DEPTH: Final = 32


def link_prerequisites(
    flags: dict[str, CompiledFlag],
    broken: dict[str, SnapshotError],
    table: ClauseTable,
    *,
    strict: bool,
) -> None:
    """Check every flag's prerequisites and give each flag that has some a `run` testing them
    first. Strict: raise the first fault; lenient: move the faulty flag (and every flag whose
    prerequisites lead to it) into `broken`."""
    depth: dict[str, int] = {}
    for key in list(flags):
        if key in flags:
            _check(key, flags, broken, depth, [], strict=strict)
    for key, flag in list(flags.items()):
        if flag.prerequisites:
            run = _with_prerequisites(flag, flags)
            shared = CachedRun(run, table)
            flags[key] = replace(flag, run=shared.run, shared=shared)


def _check(
    key: str,
    flags: dict[str, CompiledFlag],
    broken: dict[str, SnapshotError],
    depth: dict[str, int],
    path: list[str],
    *,
    strict: bool,
) -> int:
    """The depth of `key`'s chain (0 for a missing or broken flag); faults raise or set aside."""
    known = depth.get(key)
    if known is not None:
        return known
    flag = flags.get(key)
    if flag is None:
        return 0
    path.append(key)
    deepest = 0
    try:
        for i, (other, variation) in enumerate(flag.prerequisites):
            where = f"prerequisites[{i}]"
            if other in path:
                cycle = " -> ".join([*path[path.index(other) :], other])
                raise SnapshotError(f"closes a cycle: {cycle}", path=f"{where}.flag", flag=key)
            target = flags.get(other)
            if target is not None and not 0 <= variation < len(target.variations):
                raise SnapshotError(
                    f"flag {other!r} has no variation {variation}",
                    path=f"{where}.variation",
                    flag=key,
                )
            below = _check(other, flags, broken, depth, path, strict=strict)
            if key not in flags:  # set aside by a fault further down its chain
                return 0
            deepest = max(deepest, below)
        if deepest + 1 > MAX_PREREQUISITE_DEPTH:
            raise SnapshotError(
                f"its prerequisites are more than {MAX_PREREQUISITE_DEPTH} deep",
                path="prerequisites",
                flag=key,
            )
    except SnapshotError as exc:
        if strict:
            raise
        _set_aside(key, exc, flags, broken)
        return 0
    finally:
        path.pop()
    depth[key] = deepest + 1
    return deepest + 1


def _set_aside(
    key: str, exc: SnapshotError, flags: dict[str, CompiledFlag], broken: dict[str, SnapshotError]
) -> None:
    """Move a faulty flag, and every flag that depends on it, into `broken`."""
    pending = [(key, exc)]
    while pending:
        name, fault = pending.pop()
        if flags.pop(name, None) is None:
            continue
        broken[name] = fault
        for other, flag in flags.items():
            if any(p == name for p, _ in flag.prerequisites):
                pending.append(
                    (other, SnapshotError(f"its prerequisite {name!r} is invalid", flag=other))
                )


def _with_prerequisites(flag: CompiledFlag, flags: dict[str, CompiledFlag]) -> GeneratedRun:
    """The flag's run, preceded by its prerequisites: each must be on and serve its variation,
    else the flag serves its off result with `prerequisite` naming the first that failed."""
    inner = flag.run
    off = flag.off
    assert off is not None
    checks: list[tuple[str, int, EvaluationResult]] = [
        (other, variation, replace(off, prerequisite=other))
        for other, variation in flag.prerequisites
    ]

    def run(
        context: Any, key: Any, now: Any, cache: Any = None, seg: Any = None, /
    ) -> EvaluationResult:
        for other, variation, failed in checks:
            target = flags.get(other)
            if target is None:
                return failed
            result = target.run(context, key, now, cache, seg)  # type: ignore[call-arg]
            if result.variation != variation or result.reason == Reason.DISABLED:
                return failed
        return inner(context, key, now, cache, seg)  # type: ignore[call-arg]

    return run
