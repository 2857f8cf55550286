"""Start the app: ``python -m al_core.serve [streamlit run options]``.

Runs ``streamlit run asgi.py`` (from the current folder: ``app.py`` served with the
HTTP guard of :mod:`al_core.http_guard`) with the options given, after
applying the lock of :mod:`al_core.access`: when the server will listen beyond this
machine and ``$AL_PASSWORD`` is not set, a password is generated, printed once with
the URL (before Streamlit's own lines), and handed to the server in
``$AL_GENERATED_PASSWORD`` (the environment of that one process, never its command
line, which every user of the machine can read). ``./scripts/app.sh`` and the Docker
image start the app this way. The process is replaced (``exec``): its pid is the
server's.

The address is read as Streamlit reads it: ``--server.address`` on the command line,
then ``$STREAMLIT_SERVER_ADDRESS``, then ``.streamlit/config.toml``; none of them
means every interface. Should this guess ever say loopback where the server is not,
the app itself still asks for a password (it reads Streamlit's own setting).
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from al_core import access

__all__ = ["main", "option", "prepare"]

CONFIG = Path(".streamlit") / "config.toml"
SERVER_SCRIPT = "asgi.py"
"""Serves ``app.py`` through ``st.App`` with the lock's HTTP guard (al_core/http_guard.py)."""


def option(
    args: Sequence[str],
    name: str,
    environ: Mapping[str, str],
    config: Mapping[str, Any],
) -> str | None:
    """A Streamlit option (``"server.address"``) as ``streamlit run`` would see it.

    The last ``--name=value`` or ``--name value`` in ``args`` wins, then
    ``$STREAMLIT_<SECTION>_<KEY>`` (upper snake case), then ``config`` (the parsed
    ``config.toml``); ``None`` when none sets it.
    """
    flag = f"--{name}"
    found: str | None = None
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            found = arg[len(flag) + 1 :]
        elif arg == flag and i + 1 < len(args):
            found = args[i + 1]
    if found is not None:
        return found
    section, _, key = name.partition(".")
    env_name = (
        "STREAMLIT_" + "_".join(part for part in (_snake(section), _snake(key)) if part).upper()
    )
    if environ.get(env_name):
        return environ[env_name]
    value = config.get(section, {}).get(key)
    return None if value is None else str(value)


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def prepare(
    args: Sequence[str],
    environ: Mapping[str, str],
    config: Mapping[str, Any],
) -> tuple[dict[str, str], str | None]:
    """The server's environment and the text to print once (``None``: nothing to say).

    Never passes on an ``$AL_GENERATED_PASSWORD`` it was given: a password is generated
    here, for this start, or not at all.
    """
    env = {k: v for k, v in environ.items() if k != access.GENERATED_ENV}
    address = option(args, "server.address", environ, config)
    if access.is_loopback(address):
        if env.get(access.PASSWORD_ENV):
            return env, f"  Active Learning Lab asks for the password in ${access.PASSWORD_ENV}."
        return env, None
    if env.get(access.PASSWORD_ENV):
        return env, (
            f"  Active Learning Lab listens on {address or 'every interface'}: it asks for "
            f"the password in ${access.PASSWORD_ENV}."
        )
    shown = option(args, "browser.serverAddress", environ, config) or address
    port = option(args, "server.port", environ, config) or "8501"
    password = access.new_password()
    env[access.GENERATED_ENV] = password
    return env, access.announcement(password, access.server_url(shown, port))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Print what :func:`prepare` says, then become ``python -m streamlit run asgi.py …``."""
    args = list(sys.argv[1:] if argv is None else argv)
    env, message = prepare(args, os.environ, _read_config(CONFIG))
    if message:
        print(message, flush=True)
    command = [sys.executable, "-m", "streamlit", "run", SERVER_SCRIPT, *args]
    os.execve(sys.executable, command, env)


if __name__ == "__main__":
    main()
