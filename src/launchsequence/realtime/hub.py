"""One environment's hub: its compiled snapshot, and the subscribers of its streams.

A hub's state is replaced whole (never mutated), so evaluations read `hub.state` without locks.
Fan-out runs on the event loop: each event is encoded once, and the same bytes are written to
every subscriber's connection; a subscriber more than `max_buffer` bytes behind is dropped (it
reconnects and starts from a fresh `put`), so no subscriber holds memory without bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import launchsequence_engine as engine
import orjson

from ..usagecount import UNKNOWN, Caller, UsageCounter
from . import sse
from .legacy import legacy_flag, legacy_snapshot
from .writer import Writer

__all__ = ["ClientSubscriber", "Hub", "HubState", "OfrepSubscriber", "ServerSubscriber"]


@dataclass(frozen=True, slots=True)
class HubState:
    """Everything one version of an environment serves, prepared once."""

    version: int
    document: dict[str, Any]
    compiled: engine.CompiledSnapshot
    body: bytes  # the snapshot as JSON, for GET /sdk/v1/snapshot?schema=2
    put: bytes  # the snapshot as an SSE `put` event
    etag: str
    client_flags: frozenset[str]
    legacy_body: bytes  # the same as schema version 1, for SDKs that do not ask for 2
    legacy_put: bytes

    @classmethod
    def build(cls, document: dict[str, Any]) -> HubState:
        version = int(document["version"])
        body = orjson.dumps(document)
        put = b"event: put\nid: %d\ndata: %b\n\n" % (version, body)
        legacy_body = orjson.dumps(legacy_snapshot(document))
        legacy_put = b"event: put\nid: %d\ndata: %b\n\n" % (version, legacy_body)
        compiled = engine.compile(document, strict=False)
        client = frozenset(k for k, f in compiled.flags.items() if f.client_side)
        if compiled.broken:
            # A client-side flag set aside answers ERROR to client keys too, not nothing.
            docs = document["flags"]
            client |= {k for k in compiled.broken if _client_side(docs.get(k))}
        return cls(version, document, compiled, body, put, f'"{version}"', client,
                   legacy_body, legacy_put)  # fmt: skip

    def set_aside(self) -> dict[str, str]:
        """The flags this state cannot evaluate (each answers ERROR), and why."""
        return {key: str(exc) for key, exc in self.compiled.broken.items()}


def _client_side(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("client_side") is True


def client_values(state: HubState, context: dict[str, Any], keys: Any = None) -> dict[str, Any]:
    """Evaluated values of the client-side flags (or of `keys` among them) for a context."""
    out: dict[str, Any] = {}
    compiled = state.compiled
    for key in state.client_flags if keys is None else keys:
        if key in state.client_flags:
            r = engine.evaluate(compiled, key, context)
            out[key] = {"value": r.value, "variation": r.variation, "variant": r.variant,
                        "reason": r.reason}  # fmt: skip
            if r.error_code is not None:
                out[key]["error_code"] = r.error_code
            if r.metadata:
                out[key]["metadata"] = r.metadata
    return out


class _Subscriber:
    __slots__ = ("caller", "credential", "hub", "version", "writer")

    def __init__(self, hub: Hub, writer: Writer, credential: Any) -> None:
        self.hub = hub
        self.writer = writer
        self.credential = credential  # the SDK key it came with: checked for expiry
        self.version = 0
        self.caller: Caller = UNKNOWN  # the application and SDK that opened it


class ServerSubscriber(_Subscriber):
    """A server-side SDK on GET /sdk/v1/stream: gets the raw patches (as schema version 1
    unless it asked for version 2)."""

    __slots__ = ("legacy",)

    def __init__(self, hub: Hub, writer: Writer, credential: Any, legacy: bool = False) -> None:
        super().__init__(hub, writer, credential)
        self.legacy = legacy


class ClientSubscriber(_Subscriber):
    """A browser on GET /sdk/v1/client/stream: gets its own evaluated values."""

    __slots__ = ("context", "values")

    def __init__(self, hub: Hub, writer: Writer, credential: Any,
                 context: dict[str, Any]) -> None:  # fmt: skip
        super().__init__(hub, writer, credential)
        self.context = context
        self.values: dict[str, Any] = {}


class OfrepSubscriber(_Subscriber):
    """An OFREP provider on the event stream: told to re-fetch when what it sees changes."""

    __slots__ = ("client_only",)

    def __init__(self, hub: Hub, writer: Writer, credential: Any,
                 client_only: bool) -> None:  # fmt: skip
        super().__init__(hub, writer, credential)
        self.client_only = client_only


@dataclass(frozen=True, slots=True)
class Change:
    """What one new state changed: frames for server streams and the keys concerned."""

    state: HubState
    frames: bytes
    legacy_frames: bytes  # the same events for schema version 1 subscribers
    flags: frozenset[str]
    segments_changed: bool
    client_visible: bool  # did anything a client key can see change
    started: float  # monotonic time of the commit's notification, for the delay metric


def diff(old: HubState, new: HubState, started: float) -> Change:
    old_flags, new_flags = old.document["flags"], new.document["flags"]
    old_segs, new_segs = old.document["segments"], new.document["segments"]
    frames: list[bytes] = []
    legacy: list[bytes] = []
    changed: set[str] = set()
    v = new.version
    for key, doc in new_flags.items():
        if old_flags.get(key) != doc:
            changed.add(key)
            frames.append(sse.event("patch", {"version": v, "kind": "flag", "key": key,
                                              "flag": doc}, v))  # fmt: skip
            legacy.append(sse.event("patch", {"version": v, "kind": "flag", "key": key,
                                              "flag": legacy_flag(doc)}, v))  # fmt: skip
    for key in old_flags.keys() - new_flags.keys():
        changed.add(key)
        frames.append(sse.event("delete", {"version": v, "kind": "flag", "key": key}, v))
        legacy.append(frames[-1])
    segments_changed = False
    for key, doc in new_segs.items():
        if old_segs.get(key) != doc:
            segments_changed = True
            frames.append(sse.event("patch", {"version": v, "kind": "segment", "key": key,
                                              "segment": doc}, v))  # fmt: skip
            legacy.append(frames[-1])
    for key in old_segs.keys() - new_segs.keys():
        segments_changed = True
        frames.append(sse.event("delete", {"version": v, "kind": "segment", "key": key}, v))
        legacy.append(frames[-1])
    if not frames:
        # Nothing a stream shows changed (a rename, say): still tell them the new version.
        frames.append(sse.event("patch", {"version": v, "kind": "none"}, v))
        legacy.append(frames[-1])
    client_visible = segments_changed or any(
        k in old.client_flags or k in new.client_flags for k in changed
    )
    return Change(new, b"".join(frames), b"".join(legacy), frozenset(changed), segments_changed,
                  client_visible, started)  # fmt: skip


class Hub:
    """The live state and subscribers of one environment (created on first use)."""

    def __init__(self, env_id: int, org_id: int, project_id: int, state: HubState) -> None:
        self.env_id = env_id
        self.org_id = org_id
        self.project_id = project_id
        self.state = state
        self.lock = threading.Lock()  # serializes state replacement across threads
        self.server_subs: set[ServerSubscriber] = set()
        self.client_subs: set[ClientSubscriber] = set()
        self.ofrep_subs: set[OfrepSubscriber] = set()
        #: Counts the values client streams are sent (set by `Hubs`; None: not counted).
        self.usage: UsageCounter | None = None

    def subscribers(self) -> list[_Subscriber]:
        return [*self.server_subs, *self.client_subs, *self.ofrep_subs]

    def publish(self, change: Change, max_buffer: int, on_drop: Callable[[str], None]) -> int:
        """Write `change` to every subscriber (on the event loop); the number of writes."""
        state = change.state
        sent = 0
        # The event framed once per writer kind and schema version, not per writer.
        framed: dict[tuple[type, bool], bytes] = {}
        version = state.version
        for sub in list(self.server_subs):
            if sub.version >= version:
                continue
            sub.version = version
            writer = sub.writer
            kind = (type(writer), sub.legacy)
            data = framed.get(kind)
            if data is None:
                frames = change.legacy_frames if sub.legacy else change.frames
                data = framed[kind] = writer.frame(frames)
            if writer.buffered() > max_buffer:
                writer.close()  # too far behind: it reconnects and gets a fresh put
                on_drop("slow")
                continue
            writer.write_chunk(data)
            sent += 1
        if self.client_subs:
            keys = None if change.segments_changed else change.flags
            for csub in list(self.client_subs):
                if csub.version >= state.version:
                    continue
                csub.version = state.version
                fresh = client_values(state, csub.context, keys)
                gone = [k for k in (csub.values if keys is None else keys)
                        if k in csub.values and k not in fresh]  # fmt: skip
                updates = {k: v for k, v in fresh.items() if csub.values.get(k) != v}
                if not updates and not gone:
                    continue
                for k in gone:
                    del csub.values[k]
                csub.values.update(updates)
                if self.usage is not None:
                    self.usage.add_values(self.env_id, csub.caller.application, updates)
                payload = {"version": state.version, "flags": updates, "deleted": gone}
                sent += _deliver(csub, sse.event("patch", payload, state.version), max_buffer,
                                 on_drop)  # fmt: skip
        if self.ofrep_subs:
            frame = sse.event("message", {"type": "refetchEvaluation", "etag": state.etag},
                              state.version)  # fmt: skip
            for osub in list(self.ofrep_subs):
                if osub.version >= state.version:
                    continue
                osub.version = state.version
                if osub.client_only and not change.client_visible:
                    continue
                sent += _deliver(osub, frame, max_buffer, on_drop)
        return sent

    def broadcast(self, frame: bytes, max_buffer: int, on_drop: Callable[[str], None]) -> None:
        framed: dict[type, bytes] = {}
        for sub in self.subscribers():
            writer = sub.writer
            kind = type(writer)
            data = framed.get(kind)
            if data is None:
                data = framed[kind] = writer.frame(frame)
            if writer.buffered() > max_buffer:
                writer.close()
                on_drop("slow")
                continue
            writer.write_chunk(data)


def _deliver(
    sub: _Subscriber, frame: bytes, max_buffer: int, on_drop: Callable[[str], None]
) -> int:
    writer = sub.writer
    if writer.buffered() > max_buffer:
        writer.close()  # too far behind: it reconnects and gets a fresh put
        on_drop("slow")
        return 0
    writer.write(frame)
    return 1
