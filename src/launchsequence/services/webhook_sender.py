"""The webhook sender: one per process, of which only the holder of the `webhooks` lease sends.

Every `webhook_poll_seconds` the holder (renewing its lease as it goes; another process takes
over within `webhook_lease_seconds` of its death) reads the deliveries due now, the oldest
pending one per webhook and order key (per flag: a later event for a flag waits until the
earlier one succeeded or was given up), and sends each on its own task, at most
`webhook_concurrency` at once per webhook, so that a receiver that hangs holds up only its own
webhook, and only for `webhook_timeout_seconds` per attempt.

A delivery is recorded only after its answer: a process killed mid-send leaves it pending, and
it is sent again (at least once; receivers deduplicate on the event `id`). A failed attempt
(not a 2xx answer, a timeout, a refused address) is retried after
`webhook_backoff_seconds`, doubling up to an hour, until `webhook_retry_hours` after the event;
then the delivery is `failed`. A webhook that has answered no attempt for
`webhook_disable_after_hours` is disabled with the reason, and `on_disabled` is called with it
(the point where an email to its creator belongs once the server sends mail).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..secrets import unseal, webhook_signature
from ..store import leases
from ..store import webhooks as store
from .addresses import AddressRefused, allowed_addresses, check_url
from .events import slack_text
from .runtime import Runtime

if TYPE_CHECKING:
    import httpx

__all__ = ["LEASE", "WebhookSender", "backoff_ms"]

log = logging.getLogger("launchsequence.webhooks")

LEASE = "webhooks"
#: Deliveries in flight at once over all webhooks, per process.
MAX_IN_FLIGHT = 256
MAX_BACKOFF_MS = 3_600_000
PRUNE_EVERY_SECONDS = 3600
USER_AGENT = "LaunchSequence-Webhooks/1"


def backoff_ms(first_seconds: int, attempt: int) -> int:
    """The wait after failed attempt number `attempt`: doubling from `first_seconds`, at
    most an hour."""
    return int(min(first_seconds * 1000 * 2 ** min(attempt - 1, 30), MAX_BACKOFF_MS))


#: A delivery ready to send: its webhook, its event, and itself.
_Loaded = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


class _Outcome:
    __slots__ = ("duration_ms", "error", "excerpt", "status")

    def __init__(
        self, status: int | None, excerpt: str | None, error: str | None, duration_ms: int
    ) -> None:
        self.status = status
        self.excerpt = excerpt
        self.error = error
        self.duration_ms = duration_ms

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    def __init__(
        self, rt: Runtime, *, on_disabled: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.rt = rt
        self.on_disabled = on_disabled
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._settings = rt.settings
        self._lease_until = 0
        self._task: asyncio.Task[None] | None = None
        # By (webhook, order key): one task per queue, which sends its deliveries in turn.
        self._in_flight: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._per_hook: collections.Counter[int] = collections.Counter()
        self._client: httpx.AsyncClient | None = None
        self._pruned_at = 0.0
        # One of this sender's writes at a time: on SQLite every write takes the file's one
        # write lock, and the changes users are making must not queue behind a crowd of them.
        self._writing = asyncio.Lock()

    @property
    def _ttl_ms(self) -> int:
        return self._settings.webhook_lease_seconds * 1000

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._lease_until:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._release)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.tick()
                if failing:
                    failing = False
                    log.info("the webhook sender runs again")
            except Exception as exc:  # the database may be away: try again at the next tick
                # Once per outage, not once a second: the store reports the outage itself.
                log.debug("the webhook sender could not run", exc_info=True)
                if not failing:
                    failing = True
                    log.warning("the webhook sender cannot reach the database: %s",
                                type(exc).__name__)  # fmt: skip
                self._lease_until = 0
            await asyncio.sleep(self._settings.webhook_poll_seconds)

    async def tick(self) -> None:
        """Take or renew the lease when due, then start the deliveries due now."""
        now = self.rt.now()
        if now >= self._lease_until - self._ttl_ms * 2 // 3:
            held = await asyncio.to_thread(self._acquire, now)
            self._lease_until = now + self._ttl_ms if held else 0
        if self._lease_until <= now:
            return
        # A queue busy while the heads are read may have moved on meanwhile: its head as read
        # may be sent already. It is looked at again next round.
        busy = set(self._in_flight)
        heads = await asyncio.to_thread(self._due, now)
        for delivery in heads:
            queue = (delivery["webhook_id"], delivery["order_key"])
            if queue in busy or queue in self._in_flight:
                continue
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                break
            if self._per_hook[delivery["webhook_id"]] >= self._settings.webhook_concurrency:
                continue
            self._per_hook[delivery["webhook_id"]] += 1
            task = asyncio.create_task(self._deliver(delivery))
            self._in_flight[queue] = task
            task.add_done_callback(functools.partial(self._done, delivery))
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            await asyncio.to_thread(self._prune, now)

    def _done(self, delivery: dict[str, Any], _: object) -> None:
        webhook_id = delivery["webhook_id"]
        self._in_flight.pop((webhook_id, delivery["order_key"]), None)
        self._per_hook[webhook_id] -= 1
        if self._per_hook[webhook_id] <= 0:
            del self._per_hook[webhook_id]

    # --- database work (in worker threads) ---------------------------------------------------

    def _acquire(self, now: int) -> bool:
        with self.rt.write_db.begin() as conn:
            return leases.acquire(conn, LEASE, self.holder, now=now, ttl_ms=self._ttl_ms)

    def _release(self) -> None:
        with self.rt.write_db.begin() as conn:
            leases.release(conn, LEASE, self.holder)

    def _due(self, now: int) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            return store.due_heads(conn, now=now, limit=MAX_IN_FLIGHT * 4)

    def _prune(self, now: int) -> None:
        keep_ms = self._settings.webhook_retention_days * 86_400_000
        with self.rt.write_db.begin() as conn:
            store.prune(conn, before=now - keep_ms)

    def _load(self, delivery: dict[str, Any]) -> _Loaded | None:
        with self.rt.db.connect() as conn:
            hook = store.webhook_by_id(conn, delivery["webhook_id"])
            event = store.get_event(conn, delivery["event_id"])
            now = store.delivery_by_id(conn, delivery["id"])
        if hook is None or event is None or not hook["enabled"]:
            return None
        if now is None or now["status"] != "pending":
            return None  # recorded meanwhile (by another sender, before this one's lease)
        return hook, event, now

    def _record(self, delivery: dict[str, Any], outcome: _Outcome) -> _Loaded | None:
        """Record the attempt; after a success, the next delivery due with the same webhook
        and order key (with its webhook and event), read in the same transaction."""
        now = self.rt.now()
        s = self._settings
        attempt = delivery["attempts"] + 1
        values: dict[str, Any] = {
            "last_attempt_at": now,
            "response_status": outcome.status,
            "response_excerpt": outcome.excerpt,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        }
        disabled: dict[str, Any] | None = None
        with self.rt.write_db.begin() as conn:
            hook = store.webhook_by_id(conn, delivery["webhook_id"])
            if hook is None:
                return None
            if outcome.ok:
                values.update(status="succeeded", completed_at=now, error=None)
                if hook["failing_since"] is not None:
                    store.update_webhook(conn, hook["id"], {"failing_since": None})
            else:
                if now - delivery["created_at"] >= s.webhook_retry_hours * 3_600_000:
                    values.update(
                        status="failed",
                        completed_at=now,
                        error=f"{outcome.error} (given up after {attempt} attempts)"[:300],
                    )
                else:
                    values["next_attempt_at"] = now + backoff_ms(s.webhook_backoff_seconds, attempt)
                failing_since = hook["failing_since"] or now
                changes: dict[str, Any] = {"failing_since": failing_since}
                failing_ms = now - failing_since
                if hook["enabled"] and failing_ms >= s.webhook_disable_after_hours * 3_600_000:
                    reason = (
                        f"disabled after failing since {_when(failing_since)}: {outcome.error}"
                    )[:300]
                    changes.update(enabled=False, disabled_reason=reason, updated_at=now)
                    disabled = {**hook, **changes}
                store.update_webhook(conn, hook["id"], changes)
            store.finish_attempt(conn, delivery["id"], attempt=attempt, values=values)
            following: _Loaded | None = None
            if outcome.ok and hook["enabled"]:
                after = store.next_due(conn, webhook_id=hook["id"],
                                       order_key=delivery["order_key"], now=now)  # fmt: skip
                event = store.get_event(conn, after["event_id"]) if after else None
                if after is not None and event is not None:
                    following = ({**hook, "failing_since": None}, event, after)
        if disabled is not None:
            log.warning(
                "webhook %d (organization %d) disabled: %s",
                disabled["id"],
                disabled["org_id"],
                disabled["disabled_reason"],
            )
            if self.on_disabled is not None:
                self.on_disabled(disabled)
        return following

    # --- sending -----------------------------------------------------------------------------

    async def _deliver(self, delivery: dict[str, Any]) -> None:
        """Send `delivery`; after a success, the next one due with the same webhook and order
        key at once, in this task (a busy flag's events do not wait a round each)."""
        loaded = await asyncio.to_thread(self._load, delivery)
        while loaded is not None:  # None: disabled or deleted meanwhile (it waits, or went)
            hook, event, current = loaded
            outcome = await self._send(hook, event["body"], current["id"])
            async with self._writing:
                loaded = await asyncio.to_thread(self._record, current, outcome)
            if self._lease_until <= self.rt.now():
                return

    def _payload(self, hook: dict[str, Any], body: dict[str, Any]) -> bytes:
        if hook["format"] == "slack":
            return orjson.dumps({"text": slack_text(body)})
        return orjson.dumps(body)

    async def _send(self, hook: dict[str, Any], body: dict[str, Any], delivery_id: int) -> _Outcome:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        import httpx  # loaded by the first delivery, not at start (as is the client)
        from cryptography.fernet import InvalidToken  # loaded by `unseal` in any case

        try:
            secret = unseal(self._settings.secret_key, hook["secret"])
        except InvalidToken:
            return _Outcome(None, None, "the secret cannot be read: was SECRET_KEY changed?", 0)
        payload = self._payload(hook, body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-LaunchSequence-Event": body["type"],
            "X-LaunchSequence-Event-Id": body["id"],
            "X-LaunchSequence-Delivery": str(delivery_id),
            "X-LaunchSequence-Signature": webhook_signature(secret, self.rt.now() // 1000, payload),
        }
        timeout = self._settings.webhook_timeout_seconds
        try:
            addresses = await asyncio.wait_for(self._addresses(hook["url"]), timeout)
            response = await asyncio.wait_for(
                self._post(hook["url"], addresses, payload, headers), timeout
            )
        except AddressRefused as exc:
            return _Outcome(None, None, f"refused: {exc}", took())
        except TimeoutError:
            return _Outcome(None, None, f"no answer within {timeout} s", took())
        except httpx.HTTPError as exc:
            return _Outcome(None, None, f"{type(exc).__name__}: {exc}"[:300], took())
        excerpt = response.content[:500].decode("utf-8", "replace")
        error = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
        return _Outcome(response.status_code, excerpt, error, took())

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made for the first delivery (httpx is loaded then, not at start)."""
        if self._client is None:
            import httpx

            verify: ssl.SSLContext | bool = True
            if self._settings.webhook_ca_file:
                verify = ssl.create_default_context(cafile=self._settings.webhook_ca_file)
            # No proxy from the environment: the address checked is the address connected to.
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=verify)
        return self._client

    async def _addresses(self, url: str) -> list[str]:
        """The addresses to connect to, checked now (DNS rebinding): IPv4 first."""
        _, host, port = check_url(url)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise AddressRefused(f"{host} does not resolve") from None
        found = sorted({str(i[4][0]) for i in infos}, key=lambda a: (":" in a, a))
        allow = self._settings.webhook_allow_private_addresses == "true"
        return allowed_addresses(found, host, allow_private=allow)

    async def _post(
        self, url: str, addresses: list[str], payload: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        """POST to the first of `addresses` that accepts a connection, as `url`'s host: the
        checked address is the one connected to, whatever the name resolves to meanwhile."""
        import httpx

        client = self._http()
        target = httpx.URL(url)
        host_header = target.netloc.decode("ascii")
        last: httpx.HTTPError | None = None
        for address in addresses:
            try:
                return await client.post(
                    target.copy_with(host=address),
                    content=payload,
                    headers={**headers, "Host": host_header},
                    extensions={"sni_hostname": target.host},
                    timeout=self._settings.webhook_timeout_seconds,
                )
            except httpx.ConnectError as exc:
                last = exc
        assert last is not None
        raise last


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))
