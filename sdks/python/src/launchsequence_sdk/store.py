"""The held snapshot: applies `put`, `patch` and `delete`, recompiles, swaps, tells listeners.

Evaluation reads `store.state` without a lock: each change builds a new document and a new
compiled snapshot and replaces the one reference, so a reader sees either the old state or the
new one, never half of each. Writers are serialized by a lock.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import launchsequence_engine as engine

from .errors import SnapshotLoadError
from .persist import save_snapshot

__all__ = ["ClientEvent", "FlagStore", "State", "changed_flags"]

log = logging.getLogger("launchsequence_sdk")

ChangeListener = Callable[[str], None]
EventListener = Callable[["ClientEvent"], None]


@dataclass(frozen=True, slots=True)
class State:
    """One immutable version of what the client serves; `source` says where it came from:
    "server", "file" (the persisted snapshot), "offline" or "test". `stale` is true while it is
    not known to be current: always for "file", for "server" while the stream is down."""

    document: Mapping[str, Any]
    compiled: engine.CompiledSnapshot
    source: str
    uses_now: bool = True  # does any clause read `$now` (else evaluation skips the clock)
    stale: bool = False

    @property
    def version(self) -> int:
        return self.compiled.version


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """What happened to a client: "ready" (it has flags to serve, or is connected again),
    "changed" (`flags` changed), "stale" (the connection was lost; last values are served) or
    "error" (the key was refused: permanent)."""

    kind: str
    flags: tuple[str, ...] = ()
    message: str = ""


def _segment_refs(doc: Any) -> set[str]:
    """The segments a flag or segment document names in `segment_match` clauses."""
    found: set[str] = set()
    for clause in _clauses(doc):
        if clause.get("op") == "segment_match":
            values = clause.get("values")
            if isinstance(values, list):
                found.update(v for v in values if isinstance(v, str))
    return found


def _clauses(doc: Any) -> Iterator[Mapping[str, Any]]:
    rules = doc.get("rules") if isinstance(doc, Mapping) else None
    for rule in rules if isinstance(rules, list) else ():
        clauses = rule.get("clauses") if isinstance(rule, Mapping) else None
        for clause in clauses if isinstance(clauses, list) else ():
            if isinstance(clause, Mapping):
                yield clause


def _uses_now(document: Mapping[str, Any]) -> bool:
    for collection in ("flags", "segments"):
        members = document.get(collection)
        for doc in members.values() if isinstance(members, Mapping) else ():
            for clause in _clauses(doc):
                if clause.get("attribute") == engine.NOW_ATTRIBUTE:
                    return True
    return False


def _differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def changed_flags(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Keys of the flags whose evaluation may differ between two documents: flags whose own
    document changed, and flags using (directly or through other segments) a changed segment."""
    new_flags = new.get("flags") or {}
    if old is None:
        return sorted(new_flags)
    old_flags = old.get("flags") or {}
    changed = _differing(old_flags, new_flags)
    old_segs, new_segs = old.get("segments") or {}, new.get("segments") or {}
    segments = _differing(old_segs, new_segs)
    if segments:
        both = {**old_segs, **new_segs}
        grew = True
        while grew:  # segments that use a changed segment changed too
            grew = False
            for key, doc in both.items():
                if key not in segments and _segment_refs(doc) & segments:
                    segments.add(key)
                    grew = True
        for key in old_flags.keys() | new_flags.keys():
            doc = new_flags.get(key, old_flags.get(key))
            if _segment_refs(doc) & segments:
                changed.add(key)
    return sorted(changed)


class FlagStore:
    """The current `State` (None before the first snapshot), its listeners, its file copy.

    `heard_at` is when the server last sent anything (a byte of the stream, heartbeats included,
    or the snapshot), on the monotonic clock; `silence_limit` is how long the server's flags
    count as current after it (the client's read timeout). See `is_stale`.
    """

    def __init__(self, persist_path: Path | None = None, silence_limit: float = math.inf) -> None:
        self.state: State | None = None
        self.persist_path = persist_path
        self.heard_at = time.monotonic()
        self.silence_limit = silence_limit
        self._lock = threading.RLock()
        self._by_key: dict[str | None, tuple[ChangeListener, ...]] = {}
        self._observers: tuple[EventListener, ...] = ()

    # --- listeners -------------------------------------------------------------------------

    def on_change(self, callback: ChangeListener, key: str | None = None) -> Callable[[], None]:
        with self._lock:
            self._by_key[key] = (*self._by_key.get(key, ()), callback)

        def remove() -> None:
            with self._lock:
                rest = tuple(c for c in self._by_key.get(key, ()) if c is not callback)
                self._by_key[key] = rest

        return remove

    def on_event(self, callback: EventListener) -> Callable[[], None]:
        with self._lock:
            self._observers = (*self._observers, callback)

        def remove() -> None:
            with self._lock:
                self._observers = tuple(c for c in self._observers if c is not callback)

        return remove

    def emit(self, event: ClientEvent) -> None:
        """Tell every event listener; a listener's exception is logged and swallowed."""
        for callback in self._observers:
            try:
                callback(event)
            except Exception:
                log.exception("launchsequence: an event listener failed")

    def _notify(self, keys: Iterable[str]) -> None:
        listeners = self._by_key
        everything = listeners.get(None, ())
        for key in keys:
            for callback in (*listeners.get(key, ()), *everything):
                try:
                    callback(key)
                except Exception:
                    log.exception("launchsequence: an on_change callback failed for %r", key)

    # --- staleness -------------------------------------------------------------------------

    def heard(self) -> None:
        """The server just sent something: its flags are current for `silence_limit` more."""
        self.heard_at = time.monotonic()

    def is_stale(self, state: State) -> bool:
        """Whether `state` may be out of date: marked so, or the server's flags after the server
        has been silent longer than `silence_limit`. The second rule needs no thread to notice:
        it holds when whatever should have read the stream cannot (a frozen loop, a listener
        that never returns, a fork that skipped the SDK's hook)."""
        if state.stale:
            return True
        return state.source == "server" and time.monotonic() - self.heard_at > self.silence_limit

    def after_fork(self) -> None:
        """In a child process: a fresh lock (the parent's may have been held by a thread that
        does not exist here, and would never be released)."""
        self._lock = threading.RLock()

    # --- changes ---------------------------------------------------------------------------

    def mark_stale(self, stale: bool) -> bool:
        """Say whether the server's flags are still current (the stream is open) or may be out
        of date (it is down); answers whether that changed anything. Only "server" flags
        change: the file's are stale until replaced, offline and test flags never are.
        Listeners are not told: the protocol emits the events."""
        with self._lock:
            state = self.state
            if state is None or state.source != "server" or state.stale == stale:
                return False
            self.state = dataclasses.replace(state, stale=stale)
            return True

    def replace(self, document: Any, source: str) -> None:
        """Serve a whole new snapshot (a `put`, a download, the file, test data).

        Raises SnapshotLoadError, keeping the current state, when it is not a snapshot at all.
        """
        self._install(lambda _: document, source)

    def patch(self, kind: str, key: str, doc: Any, version: int | None) -> None:
        """A `patch` (doc given) or `delete` (doc None) of one flag or segment."""
        collection = "flags" if kind == "flag" else "segments" if kind == "segment" else None

        def change(old: Mapping[str, Any] | None) -> Any:
            if old is None:
                raise SnapshotLoadError("a patch arrived before any snapshot")
            new = dict(old)
            if collection is not None:
                members = dict(old.get(collection) or {})
                if doc is None:
                    members.pop(key, None)
                else:
                    members[key] = doc
                new[collection] = members
            if version is not None:
                new["version"] = version
            return new

        self._install(change, "server", key if kind == "flag" else None)

    def _install(
        self,
        change: Callable[[Mapping[str, Any] | None], Any],
        source: str,
        only_flag: str | None = None,
    ) -> None:
        """Swap in the document `change` makes of the current one. With `only_flag`, only that
        flag changed: it alone is compiled (flags are independent of each other), so a patch
        costs one flag's compilation however many flags the environment has."""
        with self._lock:
            old = self.state
            document = change(None if old is None else old.document)
            try:
                if old is not None and only_flag is not None:
                    compiled = _recompile_one(old.compiled, document, only_flag)
                    before = (old.document.get("flags") or {}).get(only_flag)
                    after = (document.get("flags") or {}).get(only_flag)
                    keys = [only_flag] if before != after else []
                    # Conservative: a flag that stops using `$now` leaves the clock read.
                    uses_now = old.uses_now or _uses_now({"flags": {only_flag: after}})
                else:
                    compiled = engine.compile(document, strict=False)
                    keys = changed_flags(None if old is None else old.document, document)
                    uses_now = _uses_now(document)
            except engine.EngineError as exc:
                raise SnapshotLoadError(f"not a usable snapshot: {exc}") from exc
            # A change from the server comes over a working connection: current, not stale.
            self.state = State(document, compiled, source, uses_now, stale=source == "file")
            if source == "server" and self.persist_path is not None:
                save_snapshot(self.persist_path, document)
        if old is None:
            self.emit(ClientEvent("ready"))
            return
        if keys:
            self._notify(keys)
            self.emit(ClientEvent("changed", tuple(keys)))


def _recompile_one(
    old: engine.CompiledSnapshot, document: Mapping[str, Any], key: str
) -> engine.CompiledSnapshot:
    """`old` with flag `key` compiled again from `document` (or removed, if it has none)."""
    raw = (document.get("flags") or {}).get(key)
    flags = dict(old.flags)
    broken = dict(old.broken)
    flags.pop(key, None)
    broken.pop(key, None)
    if raw is not None:
        single = {**document, "flags": {key: raw}}
        one = engine.compile(single, strict=False)
        flags.update(one.flags)
        broken.update(one.broken)
    version = document.get("version", old.version)
    return engine.CompiledSnapshot(
        version if type(version) is int else old.version,
        old.environment, old.project, flags, broken,
    )  # fmt: skip
