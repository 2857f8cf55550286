"""The lock on the door: who may open the app when its server listens beyond this machine.

The rule (README, "Opening the app to a network"):

- A server that listens on loopback only (``127.0.0.0/8``, ``::1``, ``localhost``)
  opens directly, as before: whoever can reach it already has an account here.
- A server that listens on any other address (``0.0.0.0``, ``::``, a LAN address, a
  host name, or Streamlit's default of every interface) asks for a password first.
  The password is ``$AL_PASSWORD`` when set; otherwise one is generated at start
  (:func:`new_password`), printed once with the URL by :mod:`al_core.serve` (as
  Jupyter prints its token) and handed to the Streamlit process in
  ``$AL_GENERATED_PASSWORD``. A server started some other way (``streamlit run``
  directly) generates its own on the first visit and prints it then
  (:func:`expected_password`): a non-loopback server is never open.
- ``$AL_PASSWORD`` set explicitly applies on loopback too: whoever set it asked for a
  lock (e.g. on a machine shared with other accounts).

Comparison is constant-time (:func:`password_matches`); a wrong password costs
:data:`WRONG_PASSWORD_DELAY_S` (:func:`check_password`) and gets one message that
says nothing else (there are no user names to guess). A reload keeps access through
a cookie signed with a key derived from the password (:func:`access_cookie`), so a
new generated password, or a changed ``$AL_PASSWORD``, ends every earlier login.

Pure standard library, no Streamlit: ``app.py`` draws the prompt.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping

__all__ = [
    "COOKIE_MAX_AGE_S",
    "COOKIE_NAME",
    "GENERATED_ENV",
    "PASSWORD_ENV",
    "SECRET_ENV",
    "TOKEN_PARAM",
    "WRONG_PASSWORD_DELAY_S",
    "WRONG_PASSWORD_MESSAGE",
    "access_cookie",
    "announcement",
    "check_password",
    "cookie_header",
    "cookie_valid",
    "expected_password",
    "is_loopback",
    "new_password",
    "password_matches",
]

PASSWORD_ENV = "AL_PASSWORD"
"""The password a person chose; applies on every address when set (non-empty)."""
GENERATED_ENV = "AL_GENERATED_PASSWORD"
"""Set by :mod:`al_core.serve` for the Streamlit process only; used off loopback only."""
SECRET_ENV = (PASSWORD_ENV, GENERATED_ENV)
"""Variables that hold a password: never passed on to background processes."""
TOKEN_PARAM = "token"
"""``?token=<password>`` in the URL opens the app, as Jupyter's printed link does."""
COOKIE_NAME = "al_access"
COOKIE_MAX_AGE_S = 7 * 24 * 3600
"""How long a browser stays signed in across reloads (a labeling week)."""
WRONG_PASSWORD_DELAY_S = 1.0
"""Seconds a wrong password waits before its answer: slows guessing, not people."""
WRONG_PASSWORD_MESSAGE = (
    "Wrong password. Ask whoever started the server: it is printed in the server's log "
    "when it starts, or set in AL_PASSWORD."
)
_COOKIE_KEY_LABEL = b"al_core.access cookie v1"
_generated_lock = threading.Lock()
_generated: str | None = None


def is_loopback(address: str | None) -> bool:
    """Whether a server listening on ``address`` is reachable from this machine only.

    ``None`` or ``""`` is Streamlit's default, every interface: not loopback. A host
    name other than ``localhost`` is not loopback either (what it resolves to may
    change); an IPv4-mapped loopback (``::ffff:127.0.0.1``) is.
    """
    if not address:
        return False
    host = address.strip().strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def new_password() -> str:
    """A fresh random password: 16 bytes (128 bits) from :mod:`secrets`, URL-safe text."""
    return secrets.token_urlsafe(16)


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords (any Unicode text).

    Both sides are hashed first, so that neither the content nor the length of the
    expected password shows in the time :func:`hmac.compare_digest` takes.
    """
    given_digest = hashlib.sha256(given.encode("utf-8")).digest()
    expected_digest = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(given_digest, expected_digest)


def check_password(
    given: str,
    expected: str,
    *,
    delay_s: float = WRONG_PASSWORD_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """:func:`password_matches`, and on a mismatch wait ``delay_s`` before answering."""
    if password_matches(given, expected):
        return True
    sleep(delay_s)
    return False


def expected_password(
    address: str | None,
    url: str,
    environ: Mapping[str, str] | None = None,
    *,
    announce: Callable[[str], None] | None = None,
) -> str | None:
    """The password a server listening on ``address`` asks for; ``None``: it opens directly.

    ``$AL_PASSWORD`` (non-empty) wins on any address; on loopback nothing else is asked.
    Off loopback, ``$AL_GENERATED_PASSWORD`` (from :mod:`al_core.serve`) is next; a
    process started without either generates one password, once, and passes
    :func:`announcement` of it (with ``url``, the app's address as a browser sees it)
    to ``announce`` (default: print it to standard output, the server's log).
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(PASSWORD_ENV, "")
    if chosen:
        return chosen
    if is_loopback(address):
        return None
    generated = environ.get(GENERATED_ENV, "")
    if generated:
        return generated
    return _generated_once(url, announce or _print)


def _print(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def _generated_once(url: str, announce: Callable[[str], None]) -> str:
    global _generated
    with _generated_lock:
        if _generated is None:
            _generated = new_password()
            announce(announcement(_generated, url))
        return _generated


def announcement(password: str, url: str) -> str:
    """The lines printed once when a password is generated: the password and a link.

    The link carries the password as ``?token=`` (as Jupyter's does): one click opens
    the app, which then removes the token from the address bar.
    """
    link = f"{url.rstrip('/')}/?{TOKEN_PARAM}={password}"
    return (
        "\n  Active Learning Lab listens beyond this machine: it asks for a password.\n"
        f"  Password: {password}\n"
        f"  Or open:  {link}\n"
        f"  (Set {PASSWORD_ENV} to choose the password; this one changes at every start.)\n"
    )


def _cookie_key(password: str) -> bytes:
    return hmac.new(password.encode("utf-8"), _COOKIE_KEY_LABEL, hashlib.sha256).digest()


def access_cookie(password: str, now: float | None = None) -> str:
    """A cookie value that proves a browser gave ``password``: ``<issued>.<signature>``.

    The signature is HMAC-SHA256 of the issue time under a key derived from the
    password, so the cookie holds no password and dies with it.
    """
    issued = str(int(time.time() if now is None else now))
    signature = hmac.new(_cookie_key(password), issued.encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{signature}"


def cookie_valid(
    value: str | None,
    password: str,
    now: float | None = None,
    max_age_s: float = COOKIE_MAX_AGE_S,
) -> bool:
    """Whether ``value`` is an :func:`access_cookie` for ``password`` at most ``max_age_s`` old."""
    if not isinstance(value, str) or not value:
        return False
    issued, _, signature = value.partition(".")
    if not issued.isdigit() or not signature:
        return False
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= max_age_s:
        return False
    expected = hmac.new(_cookie_key(password), issued.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode())


def cookie_header(value: str, max_age_s: int = COOKIE_MAX_AGE_S) -> str:
    """The ``document.cookie`` assignment that stores ``value`` for the whole app."""
    return f"{COOKIE_NAME}={value}; Max-Age={max_age_s}; Path=/; SameSite=Strict"
