"""The pass test of each milestone: `make milestone-N`, or `make milestones` for all five.

Every check prints PASS or FAIL with its reason; the exit status is 1 if any check fails.
A check that runs long says so every 30 seconds. Checks work on copies and temporary
folders: your models, reports and logs are untouched.

    uv run python scripts/milestones.py 1 2     # milestones 1 and 2
    uv run python scripts/milestones.py         # all five
"""

import atexit
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from processes import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
CLI_NAME = "{{ cookiecutter.project_slug }}"
CLI = str(Path(sys.executable).with_name(CLI_NAME))


# Lines that say what failed: a FAIL line, a pytest failure, a ruff rule, a mypy error.
TELLING_LINE = re.compile(r"^\s*(FAIL|E\s|[A-Z]+[0-9]+ |-->)|: error:")


class CheckFailedError(Exception):
    """A check failed; the message is the reason shown to the learner."""


Check = tuple[str, Callable[[], None]]


def run(
    command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command with ``env`` added to ours; capture its output, whatever its status."""
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def sh(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run a command; return its output, or fail with the last lines of its output."""
    result = run(command, cwd, env)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        telling = [line.strip() for line in output if TELLING_LINE.search(line)]
        detail = " | ".join(telling[:3] or output[-3:]) or "no output"
        raise CheckFailedError(f"`{shlex.join(command)}` exited {result.returncode}: {detail}")
    return result.stdout


def succeeds(*command: str) -> Callable[[], None]:
    """A check that passes when ``command`` exits 0."""

    def check() -> None:
        sh(list(command))

    return check


def scratch_folder(prefix: str) -> Path:
    """A temporary folder, removed when the script ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def isolated_env(folder: Path) -> dict[str, str]:
    """Settings that keep models, reports and the prediction log inside ``folder``."""
    return {
        "APP_MODEL_DIR": str(folder / "models"),
        # Its own MLflow store, even if .env points at a tracking server.
        "APP_MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'models' / 'mlflow.db'}",
        "APP_REPORTS_DIR": str(folder / "reports"),
        "APP_EXAMPLES_DIR": str(folder / "examples"),
        "APP_DATABASE_URL": f"sqlite:///{folder / 'predictions.db'}",
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(free_port()),
        "APP_LOG_FLUSH_SECONDS": "0.1",
        # The scratch server's labelling token: simulate-traffic --labels reads it too.
        "APP_FEEDBACK_TOKEN": secrets.token_urlsafe(16),
    }


@contextmanager
def running_server(command: list[str], env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Start the API with ``command``; yield its URL once /ready answers; stop it by PID."""
    url = f"http://127.0.0.1:{env['APP_PORT']}"
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                error = (process.stderr.read() if process.stderr else "").strip().splitlines()
                raise CheckFailedError(f"the server exited: {' | '.join(error[-2:])}")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:  # noqa: PLR2004
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            raise CheckFailedError(f"{url}/ready did not answer 200 within 90s")
        yield url
    finally:
        stop(process)


def post_example(url: str) -> dict[str, object]:
    """POST the served model's example record (from GET /model) to /predict; return the body."""
    example = httpx.get(f"{url}/model", timeout=10).json()["feature_schema"]["example"]
    response = httpx.post(f"{url}/predict", json={"features": example}, timeout=10)
    if response.status_code != 200:  # noqa: PLR2004
        raise CheckFailedError(f"POST /predict answered {response.status_code}: {response.text}")
    body: dict[str, object] = response.json()
    return body


# Milestone 1: production code -------------------------------------------------------------


def milestone_1() -> list[Check]:
    """A fresh install passes lint, types and tests, and the CLI trains and predicts."""

    def train_and_predict() -> None:
        folder = scratch_folder("milestone-1-")
        env = isolated_env(folder)
        sh([CLI, "train"], env=env)
        output = sh([CLI, "predict", str(folder / "examples" / "records.csv")], env=env)
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        if not lines or not all("prediction" in line for line in lines):
            raise CheckFailedError(f"predict printed no predictions: {output[:200]}")

    return [
        ("install from uv.lock", succeeds("uv", "sync", "--locked", "--all-extras")),
        ("lint and format (ruff)", succeeds("make", "lint")),
        ("types (mypy --strict)", succeeds("make", "typecheck")),
        ("tests and coverage (pytest)", succeeds("make", "coverage")),
        ("train, then predict the examples it wrote", train_and_predict),
    ]


# Milestone 2: containers and serving ------------------------------------------------------


def image_command() -> list[str]:
    """ENTRYPOINT + CMD of the Dockerfile's runtime stage."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    found = {
        match.group(1): json.loads(match.group(2))
        for match in re.finditer(r"^(ENTRYPOINT|CMD) (\[.*\])$", text, re.MULTILINE)
    }
    if "ENTRYPOINT" not in found or "CMD" not in found:
        raise CheckFailedError("the Dockerfile needs an exec-form ENTRYPOINT and CMD")
    return [*found["ENTRYPOINT"], *found["CMD"]]


def docker_engine() -> bool:
    """Whether a Docker engine answers here."""
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


# What `docker build` (BuildKit, for the Dockerfile's cache mounts) and `docker compose` need.
DOCKER_PLUGINS = {"buildx": "docker-buildx-plugin", "compose": "docker-compose-plugin"}


def docker_plugins() -> None:
    """Fail naming the packages to install when the buildx or compose plugin is missing."""

    def absent(plugin: str) -> bool:
        command = ["docker", plugin, "version"]
        return subprocess.run(command, capture_output=True, check=False).returncode != 0

    missing = [package for plugin, package in DOCKER_PLUGINS.items() if absent(plugin)]
    if missing:
        raise CheckFailedError(
            f"install {' and '.join(missing)} (Docker's apt/dnf packages; Docker Desktop has "
            "them): the Dockerfile needs BuildKit, `make up` needs compose"
        )


def milestone_2() -> list[Check]:
    """The server starts and answers /ready and /predict: in Docker, or with the same command."""
    if docker_engine():
        return [
            ("Docker has the buildx (BuildKit) and compose plugins", docker_plugins),
            ("compose.yaml is valid", succeeds("docker", "compose", "config", "--quiet")),
            ("build the API image", succeeds("make", "docker-build-api")),
            ("build the monitor image (it trains)", succeeds("make", "docker-build-monitor")),
            ("the image answers /ready and /predict", succeeds("make", "smoke-test")),
        ]

    def serve_like_the_image() -> None:
        command = image_command()
        print(f"       no Docker engine: running the image's command `{shlex.join(command)}`")
        workdir = scratch_folder("milestone-2-")
        env = isolated_env(workdir)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
        sh([CLI, "train"], env=env)
        with running_server(command, env, cwd=workdir) as url:
            body = post_example(url)
            if body.get("model_version") != "v1":
                raise CheckFailedError(f"unexpected /predict answer: {body}")

    def compose_services() -> None:
        services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
        missing = {"postgres", "train", "api", "monitor"} - set(services)
        if missing:
            raise CheckFailedError(f"compose.yaml lacks service(s): {', '.join(sorted(missing))}")

    return [
        ("the image's command serves /ready and /predict", serve_like_the_image),
        ("compose.yaml runs postgres, train, api and monitor", compose_services),
    ]


# Milestone 3: CI/CD -------------------------------------------------------------------------

EXPECTED_JOB_STEPS = {"lint": "make lint", "typecheck": "make typecheck", "test": "make coverage"}
BREAKS = {"lint": ("lint", "Lint"), "types": ("typecheck", "Type-check"), "tests": ("test", "Test")}


def milestone_3() -> list[Check]:
    """CI runs milestone 1's checks; replayed on your last commit it is green; breaks turn it red.

    The replay uses the last commit, as GitHub does when you push: commit your work first.
    """
    scratch = scratch_folder("milestone-3-")

    def workflow_runs_the_checks() -> None:
        workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
        triggers = workflow.get(True, workflow.get("on", {}))  # YAML reads `on:` as True
        if not {"push", "pull_request"} <= set(triggers):
            raise CheckFailedError("ci.yml must run on push and pull_request")
        for job, command in EXPECTED_JOB_STEPS.items():
            runs = [step.get("run", "") for step in workflow["jobs"].get(job, {}).get("steps", [])]
            if command not in runs:
                raise CheckFailedError(f"ci.yml job {job!r} does not run `{command}`")

    def checkout_last_commit() -> None:
        sh(["git", "rev-parse", "--verify", "HEAD"])
        archive = subprocess.run(
            ["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive.stdout, check=True)
        sh(["uv", "sync", "--locked", "--all-extras"], cwd=scratch)

    def replay(*jobs: str, env: dict[str, str] | None = None) -> str:
        command = ["uv", "run", "python", "scripts/ci_local.py"]
        for job in jobs:
            command += ["--job", job]
        return run(command, cwd=scratch, env=env).stdout

    def replay_is_green() -> None:
        output = replay()
        failed = re.search(r"CI replay failed at job .*", output)
        if failed or "CI replay passed" not in output:
            raise CheckFailedError(failed.group(0) if failed else output[-300:])

    def break_turns_red(kind: str) -> Callable[[], None]:
        job, step = BREAKS[kind]

        def check() -> None:
            sh(["uv", "run", "python", "scripts/break_ci.py", kind], cwd=scratch)
            # -x: pytest stops at the first failing test; the step fails the same way, sooner.
            try:
                output = replay(job, env={"PYTEST_ADDOPTS": "-x"})
            finally:
                sh(["uv", "run", "python", "scripts/break_ci.py", "restore"], cwd=scratch)
            if not re.search(rf"FAIL \[{job}[^\]]*\] {step} ", output):
                tail = output[-300:]
                raise CheckFailedError(f"the {kind} break did not fail step {step!r}: {tail}")

        return check

    return [
        ("ci.yml runs lint, typecheck and test on push and pull_request", workflow_runs_the_checks),
        ("check out the last commit (git)", checkout_last_commit),
        ("CI replays green on the last commit", replay_is_green),
        *[(f"make break-ci KIND={kind} turns CI red", break_turns_red(kind)) for kind in BREAKS],
    ]


# Milestone 4: system design ---------------------------------------------------------------


def milestone_4() -> list[Check]:
    """The architecture document exists, draws the flow, and names only real things."""

    def has_diagram() -> None:
        path = ROOT / "docs" / "architecture.md"
        if not path.is_file():
            raise CheckFailedError("docs/architecture.md is missing")
        if "```mermaid" not in path.read_text(encoding="utf-8"):
            raise CheckFailedError("docs/architecture.md has no Mermaid diagram")

    return [
        ("docs/architecture.md has a Mermaid data-flow diagram", has_diagram),
        ("every name in the docs exists in the code", succeeds("make", "docs-check")),
    ]


# Milestone 5: drift monitoring and incident response -------------------------------------


def milestone_5() -> list[Check]:
    """The drift and ground-truth loops work, the runbook's commands exist, the alerts test."""
    folder = scratch_folder("milestone-5-")
    env = isolated_env(folder)

    def drift_loop() -> None:
        sh([CLI, "train"], env=env)
        with running_server([CLI, "serve"], env, cwd=ROOT) as url:
            traffic = [
                CLI,
                "simulate-traffic",
                "--url",
                url,
                "--records",
                "600",
                "--batch-size",
                "50",
            ]
            monitor = [CLI, "monitor", "--hours", "1", "--max-rows", "600"]
            sh(traffic, env=env)
            calm = run_monitor(monitor, env)
            if calm != 0:
                raise CheckFailedError(f"calm traffic: monitor exited {calm}, expected 0")
            sh([*traffic, "--seed", "1", "--shift-share", "0.4"], env=env)
            drift = run_monitor([*monitor, "--retrain"], env)
            if drift != 3:  # noqa: PLR2004 - the documented exit code for drift
                raise CheckFailedError(f"shifted traffic: monitor exited {drift}, expected 3")
        if last_decision(folder)["event"] != "retrain":
            raise CheckFailedError("no retraining decision in the audit log after drift")

    def ground_truth_loop() -> None:
        with running_server([CLI, "serve"], env, cwd=ROOT) as url:
            labelled_traffic = [
                *(CLI, "simulate-traffic", "--url", url, "--records", "1000", "--batch-size"),
                *("50", "--labels", "--concept-shift", "0.5", "--seed", "2"),
            ]
            sh(labelled_traffic, env=env)
            monitor = [CLI, "monitor", "--hours", "1", "--max-rows", "1000", "--retrain"]
            degraded = run_monitor(monitor, env)
            if degraded != 5:  # noqa: PLR2004 - the documented exit code for a performance drop
                raise CheckFailedError(f"labels of a changed world: monitor exited {degraded}")
            decision = last_decision(folder)
            if not decision.get("promoted"):
                raise CheckFailedError(f"the challenger was kept out: {decision.get('reason')}")
            wait_for_version(url, str(decision["challenger"]))

    return [
        ("calm traffic: no drift; shifted traffic: drift, then the retraining gate", drift_loop),
        (
            "labels of a changed world: performance degraded (exit 5), and the challenger that "
            "learned them is promoted and served",
            ground_truth_loop,
        ),
        (
            "every command, setting and endpoint in docs/runbook.md exists",
            succeeds(sys.executable, "scripts/check_docs.py", "docs/runbook.md"),
        ),
        (
            "the alert rules fire on the series they should, and only there (make alerts-check)",
            succeeds("make", "alerts-check"),
        ),
    ]


def last_decision(folder: Path) -> dict[str, object]:
    """The last line of the audit log in ``folder``'s models."""
    audit = (folder / "models" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    decision: dict[str, object] = json.loads(audit[-1])
    return decision


def wait_for_version(url: str, version: str, seconds: float = 30) -> None:
    """Wait until the server at ``url`` serves ``version`` (it polls the registry)."""
    deadline = time.monotonic() + seconds
    served = None
    while time.monotonic() < deadline:
        served = httpx.get(f"{url}/ready", timeout=5).json().get("model_version")
        if served == version:
            return
        time.sleep(0.5)
    raise CheckFailedError(f"the server still serves {served} {seconds:g}s after {version} won")


def run_monitor(command: list[str], env: dict[str, str]) -> int:
    """Run the drift job and return its exit status (0, 3, 4 and 5 are verdicts, not errors)."""
    result = run(command, env=env)
    if result.returncode not in {0, 3, 4, 5}:
        raise CheckFailedError(f"monitor failed: {result.stderr.strip()}")
    return result.returncode


MILESTONES: dict[int, tuple[str, Callable[[], list[Check]]]] = {
    1: ("production code", milestone_1),
    2: ("containers and serving", milestone_2),
    3: ("CI/CD", milestone_3),
    4: ("system design", milestone_4),
    5: ("drift monitoring and incident response", milestone_5),
}


MINUTES = {1: 3, 2: 1, 3: 6, 4: 1, 5: 2}
"""About how long each milestone takes on 2 cores without Docker (milestone 3 replays CI
four times: green, then one break of each kind). Building the images adds minutes to 2."""
PROGRESS_SECONDS = 30


@contextmanager
def progress(name: str) -> Iterator[None]:
    """Print that check ``name`` is still running every PROGRESS_SECONDS until it ends."""
    done = threading.Event()
    started = time.perf_counter()

    def tick() -> None:
        while not done.wait(PROGRESS_SECONDS):
            print(f"  ... {name}: {time.perf_counter() - started:.0f}s so far", flush=True)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()


def run_milestone(number: int) -> bool:
    """Run one milestone's checks in order (stopping at the first failure); True if all pass."""
    title, checks = MILESTONES[number]
    print(f"Milestone {number}: {title}", flush=True)
    for name, check in checks():
        started = time.perf_counter()
        try:
            with progress(name):
                check()
        except CheckFailedError as failure:
            print(f"  FAIL {name}: {failure}", flush=True)
            print(f"Milestone {number}: FAIL", flush=True)
            return False
        print(f"  PASS {name} ({time.perf_counter() - started:.1f}s)", flush=True)
    print(f"Milestone {number}: PASS", flush=True)
    return True


def main() -> None:
    """Run the milestones named on the command line (default: all)."""
    numbers = [int(arg) for arg in sys.argv[1:]] or sorted(MILESTONES)
    unknown = [n for n in numbers if n not in MILESTONES]
    if unknown:
        sys.exit(f"no milestone {unknown[0]}: choose from 1 to 5")
    minutes = sum(MINUTES[number] for number in numbers)
    print(
        f"Milestones {', '.join(map(str, numbers))}: about {minutes} minutes on 2 cores", flush=True
    )
    results = {number: run_milestone(number) for number in numbers}
    print(" ".join(f"{n}:{'PASS' if ok else 'FAIL'}" for n, ok in results.items()))
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
