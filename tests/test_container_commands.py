"""Milestone 2 without a Docker engine: the Dockerfile's and compose's commands, run as
written, from the project's wheel installed in clean virtualenvs (as the image builds them),
in a folder that holds what the container would: its volumes and the files mounted into it.
"""

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import free_port, run, stop, tool, wait_until_ready


@dataclass(frozen=True)
class Image:
    """What the runtime stage of the Dockerfile defines."""

    workdir: str
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    user: str
    volumes: list[str]


def parse_runtime_stage(dockerfile: Path) -> Image:
    """Read the last stage's instructions (continuation lines joined)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    stage = text.split("\nFROM ")[-1]
    found: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in stage.splitlines():
        instruction, _, arguments = line.strip().partition(" ")
        if instruction == "ENV":
            for assignment in shlex.split(arguments):
                key, _, value = assignment.partition("=")
                env[key] = value
        elif instruction.isupper():
            found[instruction] = arguments.strip()
    healthcheck = found["HEALTHCHECK"].split(" CMD ", 1)[1]
    return Image(
        workdir=found["WORKDIR"],
        env=env,
        entrypoint=json.loads(found["ENTRYPOINT"]),
        cmd=json.loads(found["CMD"]),
        healthcheck=json.loads(healthcheck),
        user=found["USER"],
        volumes=json.loads(found["VOLUME"]),
    )


def build_venv(project: Path, destination: Path, extras: str) -> Path:
    """Install the locked dependencies and the project's wheel, no dev tools (like the image)."""
    python = str((project / ".venv" / "bin" / "python").resolve())
    wheel_dir = destination / "dist"
    run(["uv", "build", "--wheel", "--out-dir", str(wheel_dir)], cwd=project)
    requirements = destination / "requirements.txt"
    export = ["uv", "export", "--frozen", "--no-dev", "--no-emit-project", "-o", str(requirements)]
    run(export + (["--extra", extras] if extras else []), cwd=project)
    venv = destination / "venv"
    run(["uv", "venv", "--python", python, str(venv)], cwd=project)
    install = ["uv", "pip", "install", "--python", str(venv / "bin" / "python")]
    run([*install, "-r", str(requirements)], cwd=project)
    run([*install, "--no-deps", *map(str, wheel_dir.glob("*.whl"))], cwd=project)
    return venv


# The default project, and one whose image needs the user's CSV mounted to train.
PROJECTS = {
    "bundled-dataset": {},
    "csv-dataset": {
        "python_version": "3.12",
        "task": "regression",
        "dataset": "csv",
        "csv_target_column": "disease progression",
    },
}
SMOKE_TEST_MOUNT = re.compile(r'-v "\$\{PWD\}/([^:"]+):([^:"]+):ro"')

Mounts = list[tuple[Path, str]]
"""Files of the project mounted into the container: (source, target path in the container)."""


@pytest.fixture(scope="module", params=list(PROJECTS))
def project(request: pytest.FixtureRequest, installed_projects: Callable[..., Path]) -> Path:
    return installed_projects(**PROJECTS[request.param])


@pytest.fixture(scope="module")
def image(project: Path) -> Image:
    return parse_runtime_stage(project / "Dockerfile")


@pytest.fixture(scope="module")
def api_venv(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The API image's environment: EXTRAS="" (no drift-job dependencies)."""
    return build_venv(project, tmp_path_factory.mktemp("api-image"), extras="")


@pytest.fixture(scope="module")
def monitor_venv(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The monitor image's environment: EXTRAS=monitoring."""
    return build_venv(project, tmp_path_factory.mktemp("monitor-image"), "monitoring")


def container_env(image: Image, venv: Path, **overrides: str) -> dict[str, str]:
    """The image's ENV with its virtualenv first on PATH; servers bind to 127.0.0.1 here."""
    env = {**image.env, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "APP_HOST": "127.0.0.1"}
    env.pop("PYTHONUNBUFFERED", None)
    return {**env, "PYTHONUNBUFFERED": "1", **overrides}


@pytest.fixture
def workdir(tmp_path: Path, image: Image) -> Path:
    """The container's WORKDIR with its volume folders, as the runtime stage creates them."""
    root = tmp_path / image.workdir.strip("/")
    for volume in image.volumes:
        (tmp_path / volume.strip("/")).mkdir(parents=True)
    return root


def mount(workdir: Path, image: Image, mounts: Mounts) -> None:
    """Put each mounted file where the container would see it (copies: nothing is shared)."""
    for source, target in mounts:
        destination = workdir / Path(target).relative_to(image.workdir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def smoke_test_mounts(project: Path) -> Mounts:
    """The files ``scripts/smoke_test.sh`` mounts from the project (``-v "${PWD}/..."``)."""
    script = (project / "scripts" / "smoke_test.sh").read_text()
    return [(project / source, target) for source, target in SMOKE_TEST_MOUNT.findall(script)]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test, stopped by PID afterwards."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        stop(process, timeout=20)


def test_runtime_stage_is_hardened(image: Image, project: Path) -> None:
    assert image.user.split(":")[0].isdigit() and image.user.split(":")[0] != "0"
    assert image.entrypoint == [project.name]
    assert image.cmd == ["serve"]
    run([tool("hadolint"), "Dockerfile"], cwd=project)


def test_smoke_test_commands_run_as_written(
    image: Image,
    api_venv: Path,
    workdir: Path,
    project: Path,
    started: list[subprocess.Popen[str]],
) -> None:
    """What ``make smoke-test`` (CI's image job) runs: train into the volume, serve, predict."""
    mount(workdir, image, smoke_test_mounts(project))
    port = str(free_port())
    env = container_env(image, api_venv, APP_PORT=port)
    trained = run([*image.entrypoint, "train"], cwd=workdir, env=env)
    assert "v1 is the champion" in trained.stdout
    assert (workdir / "models" / "v1" / "model.joblib").is_file()

    server = subprocess.Popen(
        [*image.entrypoint, *image.cmd], cwd=workdir, env={**os.environ, **env}, text=True
    )
    started.append(server)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_ready(base_url, server)
    health = run(image.healthcheck, cwd=workdir, env=env, check=False)
    assert health.returncode == 0, health.stderr

    example = httpx.get(f"{base_url}/model").json()["feature_schema"]["example"]  # as the script
    response = httpx.post(f"{base_url}/predict", json={"features": example}, timeout=10)
    assert response.status_code == 200
    assert response.json()["model_version"] == "v1"


def test_api_image_has_no_drift_dependencies(image: Image, api_venv: Path, workdir: Path) -> None:
    env = container_env(image, api_venv)
    assert (
        run(
            [str(api_venv / "bin" / "python"), "-c", "import evidently"],
            cwd=workdir,
            env=env,
            check=False,
        ).returncode
        != 0
    )
    monitor = run([*image.entrypoint, "monitor"], cwd=workdir, env=env, check=False)
    assert monitor.returncode == 1
    assert "the monitor needs the monitoring extra" in monitor.stderr


def built_services(project: Path) -> dict[str, dict[str, Any]]:
    """The services built here, as `docker compose config` resolves them."""
    resolved = run(
        [tool("docker-compose"), "-f", "compose.yaml", "config", "--format", "json"], cwd=project
    )
    services = json.loads(resolved.stdout)["services"]
    return {name: service for name, service in services.items() if "build" in service}


def test_compose_commands_run_as_written(
    image: Image,
    monitor_venv: Path,
    workdir: Path,
    project: Path,
    started: list[subprocess.Popen[str]],
) -> None:
    services = built_services(project)
    commands = {name: service["command"] for name, service in services.items()}
    assert set(commands) == {"train", "api", "monitor"}
    binds = [
        (Path(volume["source"]), volume["target"])
        for service in services.values()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    ]
    mount(workdir, image, binds)
    port = str(free_port())
    env = container_env(image, monitor_venv, APP_PORT=port)

    first = run([*image.entrypoint, *commands["train"]], cwd=workdir, env=env)
    assert "v1 is the champion" in first.stdout
    again = run([*image.entrypoint, *commands["train"]], cwd=workdir, env=env)
    assert "champion v1 exists: nothing to train" in again.stdout

    api = subprocess.Popen(
        [*image.entrypoint, *commands["api"]], cwd=workdir, env={**os.environ, **env}, text=True
    )
    started.append(api)
    wait_until_ready(f"http://127.0.0.1:{port}", api)

    monitor = subprocess.Popen(
        [*image.entrypoint, *commands["monitor"]],
        cwd=workdir,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    started.append(monitor)
    assert monitor.stdout is not None
    readable, _, _ = select.select([monitor.stdout], [], [], 120)
    assert readable, "monitor printed nothing"
    first_line = monitor.stdout.readline()
    assert first_line.startswith("not enough data: 0 rows"), first_line
    time.sleep(1)
    assert monitor.poll() is None, "monitor --every must keep running between checks"
