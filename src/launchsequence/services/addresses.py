"""Where a webhook may send: http(s) URLs whose host resolves only to public addresses.

A receiver on loopback, a private network (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
(169.254/16, where cloud metadata services answer; fe80::/10), or any other non-global range is
refused unless the `webhook_allow_private_addresses` setting allows it: otherwise anyone who
may create a webhook could make the server call into its own network. The check runs when the
webhook is saved and again at every delivery, against the addresses the delivery then connects
to (a name that resolved to a public address yesterday may resolve to 127.0.0.1 today).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import Invalid

__all__ = ["AddressRefused", "allowed_addresses", "check_url", "refused_address", "resolve"]

MAX_URL = 2000


class AddressRefused(Exception):
    """The host resolves to an address webhooks may not reach, or does not resolve."""


def check_url(url: object) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL; Invalid (field `url`) unless it is an absolute
    http or https URL with a host, no credentials and no fragment."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Invalid(f"must be an http or https URL of at most {MAX_URL} characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("is not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http or https URL with a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid("must not hold a user name or password: use the signature", field="url")
    if parts.fragment or any(c.isspace() for c in url):
        raise Invalid("must not hold a fragment or spaces", field="url")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def refused_address(address: str) -> bool:
    """Whether webhooks may not reach `address` (an IP literal) without the setting."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (blocking); AddressRefused if it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


def allowed_addresses(addresses: list[str], host: str, *, allow_private: bool) -> list[str]:
    """`addresses` if webhooks may reach them all; AddressRefused naming the first that is
    loopback, private or otherwise not public (unless `allow_private`)."""
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if refused_address(address):
                raise AddressRefused(
                    f"{host} resolves to {address}, a loopback, private or link-local "
                    "address, which webhooks may not reach (see the "
                    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES setting)"
                )
    return addresses
