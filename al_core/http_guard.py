"""What the app's HTTP server does before Streamlit sees a request.

``asgi.py`` serves ``app.py`` through Streamlit's ``st.App`` with this ASGI middleware
(``python -m al_core.serve``, ``./scripts/app.sh`` and the Docker image start it so).
The password prompt itself is ``app.py``'s (:mod:`al_core.access`); this closes what
Streamlit serves around it:

- Every response carries ``Referrer-Policy: no-referrer``: no address (a token in it
  included) rides in the ``Referer`` of the page's own asset requests or its links.
- While the app asks for a password, a page address with ``?token=`` (the printed
  link) is answered with a redirect to the same address without it; the token moves
  into a one-minute cookie (:data:`al_core.access.TOKEN_COOKIE`) that ``app.py``
  uses up. The token never becomes a history entry or a ``Referer``.
- While the app asks for a password, Streamlit's upload endpoint
  (``/_stcore/upload_file/…``) refuses (403) a request without a valid access cookie:
  a session that has not unlocked cannot fill the server's memory with uploads.
- A server that listens beyond loopback answers ``/_stcore/metrics`` with 404: its
  counters (sessions, cache sizes) would tell strangers whether anyone uses the app.

Plain ASGI (no Starlette or Streamlit import): the Streamlit settings it needs come
in as functions, read at each request.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from al_core import access

__all__ = ["METRICS_PATH", "UPLOAD_PATH", "HttpGuard", "request_cookies"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = "/_stcore/upload_file/"
METRICS_PATH = "/_stcore/metrics"
_NO_REFERRER = (b"referrer-policy", b"no-referrer")


def request_cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The cookies of a request's ``Cookie`` headers, by name (malformed pairs skipped)."""
    cookies: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            key, sep, text = pair.strip().partition("=")
            if sep and key:
                cookies[key] = text
    return cookies


class HttpGuard:
    """ASGI middleware: see the module's description.

    ``address`` gives Streamlit's ``server.address`` and ``url`` the app's address as
    printed (both read per request); ``environ`` holds the password variables.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        address: Callable[[], str | None],
        url: Callable[[], str],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.app = app
        self.address = address
        self.url = url
        self.environ = environ

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        address = self.address()
        if path.endswith(METRICS_PATH) and not access.is_loopback(address):
            await _answer(send, 404, "Not found.")
            return
        password = access.expected_password(address, self.url(), self.environ)
        if password is not None:
            if UPLOAD_PATH in path and not self._signed_in(scope, password):
                await _answer(send, 403, "Sign in first: this server asks for a password.")
                return
            if scope.get("method") in ("GET", "HEAD") and "/_stcore/" not in path:
                query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
                tokens = [value for key, value in query if key == access.TOKEN_PARAM]
                if tokens:
                    rest = [(key, value) for key, value in query if key != access.TOKEN_PARAM]
                    await _redirect_without_token(scope, send, tokens[-1], rest)
                    return

        async def send_without_referrer(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), _NO_REFERRER]
            await send(message)

        await self.app(scope, receive, send_without_referrer)

    def _signed_in(self, scope: Scope, password: str) -> bool:
        cookies = request_cookies(list(scope.get("headers", [])))
        return access.cookie_valid(cookies.get(access.COOKIE_NAME), password)


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        _NO_REFERRER,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect_without_token(
    scope: Scope, send: Send, token: str, rest: list[tuple[str, str]]
) -> None:
    # raw_path: the path as the browser sent it, percent-encoding kept.
    path = scope.get("raw_path") or quote(scope.get("path", "/")).encode()
    location = path + (b"?" + urlencode(rest).encode() if rest else b"")
    # Not HttpOnly: app.py deletes it from the page once used.
    cookie = (
        f"{access.TOKEN_COOKIE}={quote(token, safe='')}; Max-Age={access.TOKEN_COOKIE_MAX_AGE_S}; "
        "Path=/; SameSite=Strict"
    )
    headers = [
        (b"location", location),
        (b"set-cookie", cookie.encode("latin-1")),
        (b"cache-control", b"no-store"),
        (b"content-length", b"0"),
        _NO_REFERRER,
    ]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
