"""The edge's usage forwarder: what this edge counted, posted to its upstream.

Every `interval` seconds (the core's `usage_flush_seconds`) and at shutdown, the forwarder
drains the edge's `UsageCounter` on the event loop (where the evaluation paths count, so no
count falls between the drain and the post) and posts it to `{upstream}/relay/v1/usage`
with the relay key, cut into posts that fit (`sdk/relay_usage.py`). The counter holds both
the evaluations this edge answered and the reports SDKs posted to it (`POST /sdk/v1/usage`),
and, on an edge that is another edge's upstream, what that edge forwarded: all of it goes
onwards the same way.

Each post carries a `post_id`. When a post fails (the upstream is unreachable, or answers
408, 409, 429 or 5xx), it is kept as it is and sent again, unchanged, first thing at the next
interval, before anything counted since: a post that timed out although the upstream did
apply it is then recognised by its id and not applied again (the upstream remembers the last
ids of each edge, `sdk/relay_usage.py`). Nothing is lost while the upstream is away, and
memory stays bounded: the posts kept are one interval's (bounded by the counter's `max_keys`
distinct (environment, flag, variation, application) keys), and the counter goes on counting
within the same bound; evaluations of keys past that bound are dropped, and logged when the
interval is drained. A post the upstream will never take (400, 413) is dropped and logged; a
revoked relay key (401, 403) drops it too (the edge stops serving). At shutdown the last posts
have `STOP_SECONDS`; what is still unsent is written to `usage-pending.json` in the data
directory (0600), the kept posts with their ids, and sent by the next start of this edge. A
killed edge (SIGKILL) loses what it counted since its last successful post: at most one
interval. A post is applied twice only when its repeat reaches an upstream process that does
not remember its id: one restarted in between, or another instance of a core that runs several
behind a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from .. import __version__
from ..sdk.relay_usage import RELAY_USAGE_PATH, chunks
from ..usagecount import AppSeen, Drained, UsageCounter
from .wire import UpstreamError, UpstreamHTTP

__all__ = ["PENDING_FILE", "STOP_SECONDS", "UsageForwarder"]

log = logging.getLogger("launchsequence.edge")

PENDING_FILE = "usage-pending.json"
STOP_SECONDS = 5.0
_POST_SECONDS = 10.0


class UsageForwarder:
    def __init__(
        self,
        counter: UsageCounter,
        relay_key: str,
        *,
        edge_id: str,
        data_dir: Path,
        interval: float,
    ) -> None:
        self.counter = counter
        self.key = relay_key
        self.edge_id = edge_id
        self.data_dir = data_dir
        self.interval = max(0.05, interval)
        self.forwarded = 0  # evaluations the upstream accepted, since start (for /metrics)
        self.failures = 0  # posts in a row that failed
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[bool] | None = None  # the timer's post under way
        self._client: UpstreamHTTP | None = None
        #: Posts sent but not confirmed (each with its `post_id`): sent again as they are.
        self.unsent: list[bytes] = []

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, client: UpstreamHTTP) -> None:
        """Post through `client` (the edge's one `wire.UpstreamHTTP`, shared with the relay
        stream)."""
        if not self.counter.enabled:
            return
        pending, posts = await asyncio.to_thread(self._take_pending)
        if pending is not None:
            self.counter.restore(pending)
        self.unsent = posts + self.unsent
        self._client = client
        self._task = asyncio.create_task(self._run(), name="launchseq-edge-usage")

    async def stop(self) -> None:
        """Stop the timer, post what is left (within STOP_SECONDS), and keep on disk what
        could not be posted."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None
        inflight = self._inflight
        if inflight is not None and not inflight.done():  # let it finish: never cut a post
            await asyncio.wait({inflight}, timeout=_POST_SECONDS + 1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await self.forward()
        left = self._drain()
        posts, self.unsent = self.unsent, []
        if left.counts or left.apps or posts:
            n = sum(left.counts.values()) + sum(_evaluations(body) for body in posts)
            try:
                await asyncio.to_thread(self._save_pending, left, posts)
                log.warning(
                    "usage: the upstream is unreachable; %d evaluations kept in %s for the "
                    "next start",
                    n,
                    PENDING_FILE,
                )
            except OSError as exc:
                log.error("usage: %d evaluations lost: %s", n, exc)
        self._client = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            # Shielded: a stop waits for the post under way rather than cutting it, which
            # could leave the upstream with counts the edge then sends again.
            self._inflight = asyncio.ensure_future(self.forward())
            try:
                await asyncio.shield(self._inflight)
            except Exception:  # the timer must survive anything; the next interval retries
                log.exception("usage: forwarding failed")

    # --- posting --------------------------------------------------------------------------

    async def forward(self) -> bool:
        """Send the posts kept from before, then drain the counter and post it. True when
        everything was delivered (or there was nothing); on a failure the posts not confirmed
        are kept, unchanged, for the next call."""
        if not await self._send_unsent():
            return False  # the counter keeps counting meanwhile (bounded by `max_keys`)
        drained = self._drain()
        if drained.counts or drained.apps:
            self.unsent = [body for _, body in chunks(drained, self.edge_id)]
        return await self._send_unsent()

    def _drain(self) -> Drained:
        """The counter's interval; its overflow is logged here, where it is known (it is not
        sent: only this edge can say it dropped counts)."""
        drained = self.counter.drain()
        if drained.overflow:
            log.warning(
                "usage: %d evaluations not counted at this edge (too many distinct flags and "
                "applications in one interval)",
                drained.overflow,
            )
        return drained

    async def _send_unsent(self) -> bool:
        """Post the kept posts in order, each removed once the upstream answered it for good
        (a cancelled post stays: it is sent again, or saved by `stop`)."""
        while self.unsent:
            body = self.unsent[0]
            outcome = await self._post(body)
            if outcome == "retry":
                self.failures += 1
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning(
                        "usage: the upstream did not take the counts; %d post(s) kept for the "
                        "next interval",
                        len(self.unsent),
                    )
                return False
            del self.unsent[0]
            if outcome == "dropped":
                log.error(
                    "usage: the upstream refused %d evaluations for good; dropped",
                    _evaluations(body),
                )
        if self.failures:
            log.warning("usage: the upstream takes the counts again")
        self.failures = 0
        return True

    async def _post(self, body: bytes) -> str:
        """'ok', 'retry' (kept for later) or 'dropped' (the upstream will never take it)."""
        client = self._client
        if client is None:
            return "retry"
        headers = {
            "authorization": f"Bearer {self.key}",
            "content-type": "application/json",
            "user-agent": f"launchseq-edge/{__version__}",
        }
        try:
            response = await client.post(RELAY_USAGE_PATH, body, headers, timeout=_POST_SECONDS)
        except UpstreamError:
            return "retry"
        if response.status == 202:
            # A repeat the upstream had applied (`duplicate`) answers what it took then: this
            # edge never had that answer, so it counts now.
            with contextlib.suppress(Exception):
                self.forwarded += int(orjson.loads(response.body)["accepted"])
            return "ok"
        if response.status in (400, 401, 403, 405, 413):
            return "dropped"
        return "retry"  # 404 (an upstream without the endpoint yet), 408, 409, 429, 5xx

    # --- the file kept across a restart ---------------------------------------------------

    def _save_pending(self, drained: Drained, posts: list[bytes]) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = orjson.dumps(
            {
                "posts": [orjson.loads(body) for body in posts],
                "counts": [[*key, n] for key, n in drained.counts.items()],
                "applications": [
                    [*key, seen.last_seen, sorted(seen.instances)]
                    for key, seen in drained.apps.items()
                ],
            }
        )
        path = self.data_dir / PENDING_FILE
        partial = self.data_dir / f"{PENDING_FILE}.{os.getpid()}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)

    def _take_pending(self) -> tuple[Drained | None, list[bytes]]:
        """What the last run could not post: its counts, and its posts kept with their ids
        (the file is removed: it is in memory now)."""
        path = self.data_dir / PENDING_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None, []
        except OSError as exc:
            log.error("usage: cannot read %s: %s", path, exc)
            return None, []
        with contextlib.suppress(OSError):
            path.unlink()
        try:
            data: dict[str, Any] = orjson.loads(raw)
            counts = {
                (int(env), str(flag), int(variation), str(app)): int(n)
                for env, flag, variation, app, n in data["counts"]
            }
            apps = {
                (int(env), str(app), str(sdk), str(version)): AppSeen(int(seen), set(instances))
                for env, app, sdk, version, seen, instances in data["applications"]
            }
            posts = [orjson.dumps(p) for p in data.get("posts", []) if isinstance(p, dict)]
        except (ValueError, KeyError, TypeError) as exc:
            log.error("usage: %s is damaged, its counts are lost: %s", path, exc)
            return None, []
        return Drained(counts, apps, 0), posts


def _evaluations(body: bytes) -> int:
    """The evaluations a post carries (for the logs)."""
    try:
        return sum(int(c["count"]) for c in orjson.loads(body)["counts"])
    except (ValueError, KeyError, TypeError):
        return 0
