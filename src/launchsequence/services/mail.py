"""Outgoing email through an SMTP server, sent by one background worker thread.

The protocol is Python's own `smtplib` (STARTTLS, implicit TLS, AUTH): services are blocking
code that already runs in worker threads, so a blocking client fits them with no event-loop
bridge and no dependency the server install does not already have.

Messages are handed to a single worker thread and `send` returns at once: a slow or
unreachable SMTP server never holds a request, and a page that may or may not send an email
(a password reset for an address with or without an account) answers in the same time either
way. A message that cannot be delivered is logged (its kind and recipient's domain and the
error, never its body, which may hold a one-time link, nor the SMTP password) and dropped.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..config import Settings
from .errors import Unavailable

__all__ = ["NO_MAIL_MESSAGE", "Mailer"]

log = logging.getLogger("launchsequence.mail")

NO_MAIL_MESSAGE = "This server is not set up to send email (no LAUNCHSEQ_SMTP_HOST)."


class Mailer:
    """Sends plain-text email as the `smtp_*` and `mail_from` settings say."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future[object]] = set()

    @property
    def configured(self) -> bool:
        """Whether email can be sent at all (an SMTP host is set)."""
        return bool(self.settings.smtp_host)

    def compose(self, *, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        domain = self.settings.mail_from.rpartition("@")[2].strip("> ") or None
        message["Message-ID"] = make_msgid(domain=domain)
        message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies to it
        message.set_content(body)
        return message

    def send(self, *, to: str, subject: str, body: str, kind: str) -> None:
        """Queue a message; returns at once. `kind` ("password-reset", "invitation") is what
        the log says of it. Raises Unavailable when no SMTP server is configured."""
        if not self.configured:
            raise Unavailable(NO_MAIL_MESSAGE, code="mail_not_configured")
        message = self.compose(to=to, subject=subject, body=body)
        self.submit(lambda: self.deliver(message, kind))

    def submit(self, work: Callable[[], object]) -> None:
        """Run `work()` on the mail worker thread, after what is queued."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail")
            future = self._executor.submit(work)
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[object]) -> None:
        with self._lock:
            self._pending.discard(future)
        exc = future.exception()
        if exc is not None:
            log.error("background mail work failed: %s", type(exc).__name__)

    def deliver(self, message: EmailMessage, kind: str) -> bool:
        """Send one message now (blocking). False, logged, when it could not be delivered."""
        s = self.settings
        recipient_domain = str(message["To"]).rpartition("@")[2]
        try:
            with self._connect() as smtp:
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            log.warning(
                "could not send the %s email to an address at %s through %s:%d: %s",
                kind,
                recipient_domain,
                s.smtp_host,
                s.smtp_port,
                _describe(exc),
            )
            return False
        log.info("sent the %s email to an address at %s", kind, recipient_domain)
        return True

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        timeout = s.smtp_timeout_seconds
        if s.smtp_tls == "tls":
            return smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=timeout, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
        try:
            if s.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())  # refused: an exception
        except BaseException:
            smtp.close()
            raise
        return smtp

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for queued messages; True when none is left."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(timeout=timeout)
            except TimeoutError:
                return False
            except Exception:  # noqa: BLE001, S112 - logged by _done
                continue
        return True

    def close(self) -> None:
        """Stop taking messages; those queued are still sent (each bounded by the timeout)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def _describe(exc: BaseException) -> str:
    # The server's answer (code and text) or the socket error: never the credentials.
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}".strip()
    return f"{type(exc).__name__}: {exc}"
