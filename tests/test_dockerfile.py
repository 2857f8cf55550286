"""The Dockerfile against the repository (no Docker engine here to build it).

Checks what a build would trip over or what the issue asks for: the base image,
every COPY source exists, the entry point is ``streamlit run app.py`` on 8501
(through ``al_core.serve``, which applies the password rule of ``al_core.access``),
a non-root user, a health check on Streamlit's health endpoint, and the data
folder as a volume that the app uses (AL_DATA_DIR).
"""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path

import pytest

from al_core import access, serve

REPO = Path(__file__).resolve().parent.parent


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        lines.append((keyword.upper(), rest.strip()))
        current = ""
    return lines


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _instructions()


def _all(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for kw, rest in instructions if kw == keyword]


def test_base_image_workdir_and_port(instructions: list[tuple[str, str]]) -> None:
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert _all(instructions, "WORKDIR") == ["/app"]
    assert _all(instructions, "EXPOSE") == ["8501"]


def test_every_copy_source_exists(instructions: list[tuple[str, str]]) -> None:
    copies = _all(instructions, "COPY")
    assert copies
    copied = set()
    for rest in copies:
        *sources, _destination = shlex.split(rest)
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
            copied.add(source.rstrip("/"))
    # What the app imports at run time is in the image.
    assert {"app.py", "al_core", "pages", "requirements.txt"} <= copied
    # The server settings and the bundled page icon (app.py refers to it).
    assert {".streamlit", "assets"} <= copied


def test_requirements_installed_before_sources_for_layer_caching(
    instructions: list[tuple[str, str]],
) -> None:
    order = [(kw, rest) for kw, rest in instructions if kw in ("COPY", "RUN")]
    install = next(i for i, (kw, rest) in enumerate(order) if "pip install" in rest)
    assert "requirements.txt" in order[install][1]
    assert order[install - 1] == ("COPY", "requirements.txt ./")


def test_entry_point_runs_app_py_on_8501(instructions: list[tuple[str, str]]) -> None:
    (cmd,) = _all(instructions, "CMD")
    argv = json.loads(cmd)
    # The launcher that applies the password rule, then execs `streamlit run app.py`.
    assert argv[:3] == ["python", "-m", "al_core.serve"]
    assert (REPO / "al_core" / "serve.py").is_file() and (REPO / "app.py").is_file()
    assert "--server.port=8501" in argv
    assert "--server.address=0.0.0.0" in argv


def test_image_asks_for_a_password(instructions: list[tuple[str, str]]) -> None:
    """Listening on every interface, the container follows the rule of al_core.access:
    AL_PASSWORD from ``docker run -e``, or one generated at start and printed once."""
    env = " ".join(_all(instructions, "ENV") + _all(instructions, "ARG"))
    assert access.PASSWORD_ENV not in env and access.GENERATED_ENV not in env  # none baked in
    (cmd,) = _all(instructions, "CMD")
    args = json.loads(cmd)[3:]
    with open(REPO / ".streamlit" / "config.toml", "rb") as handle:
        config = tomllib.load(handle)
    server_env, printed = serve.prepare(args, {}, config)
    password = server_env[access.GENERATED_ENV]
    assert printed is not None and f"http://localhost:8501/?token={password}" in printed
    server_env, printed = serve.prepare(args, {access.PASSWORD_ENV: "chosen"}, config)
    assert access.GENERATED_ENV not in server_env and "chosen" not in (printed or "")


def test_runs_as_non_root_with_data_volume(instructions: list[tuple[str, str]]) -> None:
    users = _all(instructions, "USER")
    assert users and users[-1] not in ("root", "0")
    volumes = [v for rest in _all(instructions, "VOLUME") for v in json.loads(rest)]
    env = " ".join(_all(instructions, "ENV"))
    assert "AL_DATA_DIR=/data" in env
    assert "/data" in volumes
    assert any("chown" in rest and "/data" in rest for rest in _all(instructions, "RUN"))


def test_healthcheck_probes_streamlit_health(instructions: list[tuple[str, str]]) -> None:
    (check,) = _all(instructions, "HEALTHCHECK")
    assert "CMD" in check and "/_stcore/health" in check and "8501" in check


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv/", ".git/", "data/*.sqlite3*"} <= set(ignored)
