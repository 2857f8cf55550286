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
says nothing else (there are no user names to guess). Wrong passwords are also
counted (:data:`GUESSES`): past :data:`GUESSES_PER_CLIENT` from one address or
:data:`GUESSES_PER_SERVER` in all within :data:`GUESS_WINDOW_S`, every password is
refused unchecked with the time to wait (:func:`password_refusal`).

A reload keeps access through a cookie (:func:`access_cookie`) signed with a key
derived from the password *and* a server secret: random bytes created on the first
sign-in in the data folder (:data:`SECRET_FILE`, mode 0600). Whoever reads a cookie
can use it until it expires, but cannot test passwords against it without that
file; a new generated password, a changed ``$AL_PASSWORD`` or a deleted secret file
ends every earlier login. A cookie that is not exactly ``<digits>.<64 hex>`` is no
cookie (:func:`cookie_valid` never raises).

Pure standard library, no Streamlit: ``app.py`` draws the prompt.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "COOKIE_MAX_AGE_S",
    "COOKIE_NAME",
    "GENERATED_ENV",
    "GUESSES",
    "GUESSES_PER_CLIENT",
    "GUESSES_PER_SERVER",
    "GUESS_WINDOW_S",
    "PASSWORD_ENV",
    "SECRET_ENV",
    "SECRET_FILE",
    "TOKEN_COOKIE",
    "TOKEN_COOKIE_MAX_AGE_S",
    "TOKEN_PARAM",
    "WRONG_PASSWORD_DELAY_S",
    "WRONG_PASSWORD_MESSAGE",
    "GuessLimit",
    "access_cookie",
    "announcement",
    "check_password",
    "cookie_header",
    "cookie_valid",
    "expected_password",
    "is_loopback",
    "new_password",
    "password_matches",
    "password_refusal",
    "server_secret",
    "server_url",
    "wait_message",
]

PASSWORD_ENV = "AL_PASSWORD"
"""The password a person chose; applies on every address when set (non-empty)."""
GENERATED_ENV = "AL_GENERATED_PASSWORD"
"""Set by :mod:`al_core.serve` for the Streamlit process only; used off loopback only."""
SECRET_ENV = (PASSWORD_ENV, GENERATED_ENV)
"""Variables that hold a password: never passed on to background processes."""
TOKEN_PARAM = "token"
"""``?token=<password>`` in the URL opens the app, as Jupyter's printed link does."""
TOKEN_COOKIE = "al_token"
"""Where :mod:`al_core.http_guard` moves a ``?token=`` (redirecting to the address
without it), for :data:`TOKEN_COOKIE_MAX_AGE_S`; ``app.py`` uses it up and deletes it."""
TOKEN_COOKIE_MAX_AGE_S = 60
COOKIE_NAME = "al_access"
COOKIE_MAX_AGE_S = 7 * 24 * 3600
"""How long a browser stays signed in across reloads (a labeling week)."""
WRONG_PASSWORD_DELAY_S = 1.0
"""Seconds a wrong password waits before its answer: slows guessing, not people."""
WRONG_PASSWORD_MESSAGE = (
    "Wrong password. Ask whoever started the server: it is printed in the server's log "
    "when it starts, or set in AL_PASSWORD."
)
GUESS_WINDOW_S = 600.0
"""Seconds over which wrong passwords are counted (:class:`GuessLimit`)."""
GUESSES_PER_CLIENT = 5
"""Wrong passwords one client address may give within :data:`GUESS_WINDOW_S`."""
GUESSES_PER_SERVER = 20
"""Wrong passwords all clients together may give within :data:`GUESS_WINDOW_S`:
many sessions or addresses side by side guess no faster than this (2,880 a day)."""
SECRET_FILE = "access.secret"
"""The server secret's file in the data folder (``$AL_DATA_DIR``), mode 0600."""
_SECRET_BYTES = 32
_COOKIE_KEY_LABEL = b"al_core.access cookie v2"
# <issue time: 1 to 12 ASCII digits>.<HMAC-SHA256, 64 lower-case hex digits>
_COOKIE_PATTERN = re.compile(r"([0-9]{1,12})\.([0-9a-f]{64})")
_generated_lock = threading.Lock()
_generated: str | None = None
_secrets_lock = threading.Lock()
_secrets: dict[Path, bytes] = {}
log = logging.getLogger(__name__)


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


def wait_message(wait_s: float) -> str:
    """What a refused sign-in says: how long to wait, in seconds or whole minutes."""
    seconds = max(1, math.ceil(wait_s))
    when = f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"
    return (
        f"Too many wrong passwords: try again in {when}. The server limits how fast "
        "passwords can be guessed, from each address and in all."
    )


class GuessLimit:
    """Wrong passwords counted per client address and for the whole server.

    Each address may give ``per_client`` wrong passwords, and all addresses together
    ``per_server``, within any ``window_s`` seconds; past either, every attempt is
    refused unchecked until the oldest counted one leaves the window. Thread-safe:
    one instance serves every Streamlit session of the process.
    """

    def __init__(
        self,
        per_client: int = GUESSES_PER_CLIENT,
        per_server: int = GUESSES_PER_SERVER,
        window_s: float = GUESS_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.per_server = per_server
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._server: deque[float] = deque()
        self._clients: dict[str, deque[float]] = {}

    def _forget_old(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._server and self._server[0] <= cutoff:
            self._server.popleft()
        for client, times in list(self._clients.items()):
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._clients[client]

    def take(self, client: str | None) -> tuple[float, float]:
        """Count one attempt from ``client`` before its password is checked.

        Returns ``(wait_s, stamp)``: ``wait_s > 0`` means refused (nothing counted);
        otherwise the attempt is counted under ``stamp`` until :meth:`give_back`.
        Counting before checking keeps parallel sessions from all passing at once.
        """
        key = client or "local"
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            waits = [0.0]
            mine = self._clients.get(key, deque())
            if len(mine) >= self.per_client:
                waits.append(mine[-self.per_client] + self.window_s - now)
            if len(self._server) >= self.per_server:
                waits.append(self._server[-self.per_server] + self.window_s - now)
            wait = max(waits)
            if wait > 0:
                return wait, now
            self._server.append(now)
            self._clients.setdefault(key, deque()).append(now)
            return 0.0, now

    def give_back(self, client: str | None, stamp: float) -> None:
        """Uncount an attempt :meth:`take` counted: its password was right."""
        with self._lock:
            for times in (self._server, self._clients.get(client or "local")):
                if times is not None and stamp in times:
                    times.remove(stamp)

    def reset(self) -> None:
        """Forget every counted attempt (a test's fresh start)."""
        with self._lock:
            self._server.clear()
            self._clients.clear()


GUESSES = GuessLimit()
"""The limit every sign-in of this server process goes through."""


def password_refusal(
    given: str,
    expected: str,
    client: str | None,
    *,
    limit: GuessLimit | None = None,
    delay_s: float = WRONG_PASSWORD_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Why ``given`` does not open the app (the message to show); ``None``: it opens.

    Goes through ``limit`` (default :data:`GUESSES`) first: over it, the password is
    not even compared and the message says how long to wait. A wrong password waits
    ``delay_s`` (:func:`check_password`) and stays counted; a right one is uncounted.
    """
    limit = GUESSES if limit is None else limit
    wait, stamp = limit.take(client)
    if wait > 0:
        return wait_message(wait)
    if check_password(given, expected, delay_s=delay_s, sleep=sleep):
        limit.give_back(client, stamp)
        return None
    return WRONG_PASSWORD_MESSAGE


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


def server_url(shown_address: str | None, port: int | str) -> str:
    """The app's address as a browser elsewhere sees it (Streamlit's
    ``browser.serverAddress`` and ``server.port``), for the printed link."""
    host = shown_address or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


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


def server_secret(data_dir: Path | None = None, *, create: bool = False) -> bytes | None:
    """The server secret that every cookie signature also needs (32 random bytes).

    Kept in ``data_dir/SECRET_FILE`` (default: the folder of the app's database,
    ``$AL_DATA_DIR``), created with mode 0600 when ``create`` (on the first
    sign-in); ``None`` when it does not exist and ``create`` is false (then no
    cookie is valid). A data folder that cannot be written gets a secret held in
    this process only: logins then last until the server restarts.
    """
    if data_dir is None:
        from al_core.store import default_db_path

        data_dir = default_db_path().parent
    path = (Path(data_dir) / SECRET_FILE).absolute()
    with _secrets_lock:
        if path in _secrets:
            return _secrets[path]
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
            secret = _create_secret(path)
        except OSError as exc:
            log.warning("cannot read the access secret %s (%s): a new one for this run", path, exc)
            secret = secrets.token_bytes(_SECRET_BYTES)
        if len(secret) < _SECRET_BYTES:
            log.warning("the access secret %s is too short: a new one for this run", path)
            secret = secrets.token_bytes(_SECRET_BYTES)
        _secrets[path] = secret
        return secret


def _create_secret(path: Path) -> bytes:
    secret = secrets.token_bytes(_SECRET_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two servers starting at once keep the first one's secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    except OSError as exc:
        log.warning("cannot write the access secret %s (%s): logins last until restart", path, exc)
        return secret
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


def _cookie_key(password: str, secret: bytes) -> bytes:
    message = _COOKIE_KEY_LABEL + b"\0" + password.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).digest()


def _signature(password: str, secret: bytes, issued: str) -> str:
    return hmac.new(_cookie_key(password, secret), issued.encode(), hashlib.sha256).hexdigest()


def access_cookie(password: str, now: float | None = None, *, secret: bytes | None = None) -> str:
    """A cookie value that proves a browser gave ``password``: ``<issued>.<signature>``.

    The signature is HMAC-SHA256 of the issue time under a key derived from the
    password and ``secret`` (default: :func:`server_secret`, created if need be), so
    the cookie holds no password, dies with it, and cannot be tested offline
    against guessed passwords by whoever lacks the secret.
    """
    secret = server_secret(create=True) if secret is None else secret
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_signature(password, secret, issued)}"


def cookie_valid(
    value: str | None,
    password: str,
    now: float | None = None,
    max_age_s: float = COOKIE_MAX_AGE_S,
    *,
    secret: bytes | None = None,
) -> bool:
    """Whether ``value`` is an :func:`access_cookie` for ``password`` at most ``max_age_s`` old.

    Anything else, malformed included (Unicode digits, thousands of digits, a
    missing secret file), is ``False``: never an exception.
    """
    if not isinstance(value, str) or len(value) > 100:
        return False
    match = _COOKIE_PATTERN.fullmatch(value)
    if match is None:
        return False
    issued, signature = match.groups()
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= max_age_s:
        return False
    secret = server_secret() if secret is None else secret
    if secret is None:
        return False
    return hmac.compare_digest(signature, _signature(password, secret, issued))


def cookie_header(value: str, max_age_s: int = COOKIE_MAX_AGE_S) -> str:
    """The ``document.cookie`` assignment that stores ``value`` for the whole app."""
    return f"{COOKIE_NAME}={value}; Max-Age={max_age_s}; Path=/; SameSite=Strict"
