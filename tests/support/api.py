"""A small client for the admin API as a user would drive it: cookie session plus CSRF."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["ApiUser", "signup"]


class ApiUser:
    """An httpx client logged in through the API; unsafe requests carry the CSRF token."""

    def __init__(self, base_url: str, *, email: str, org: str, csrf: str, client: httpx.Client):
        self.base_url = base_url
        self.email = email
        self.org = org
        self.csrf = csrf
        self.http = client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.http.close()


def signup(
    base_url: str, email: str, password: str = "correct horse", name: str | None = None
) -> ApiUser:
    client = httpx.Client(base_url=base_url, timeout=30)
    response = client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, "name": name or email}
    )
    response.raise_for_status()
    body = response.json()
    return ApiUser(
        base_url,
        email=email,
        org=body["organizations"][0]["key"],
        csrf=body["csrf_token"],
        client=client,
    )
