"""Replay the CI workflow on this machine, step by step, as GitHub would run it.

Every ``run:`` step of every job in ``.github/workflows/ci.yml`` runs in order, from the
project root, with the job's environment. Steps that need GitHub (``uses:`` actions, steps
guarded by ``if:``), a Docker engine, or a tool this machine lacks (promtool) are listed as
skipped, with the reason; so are the end-to-end tests (minutes; ``make test-e2e``) unless
``--e2e``. The replay stops at the first failing step and names its job and step.

    uv run python scripts/ci_local.py              # replay (make ci)
    uv run python scripts/ci_local.py --job lint   # replay one job (by id or name)
    uv run python scripts/ci_local.py --list       # show what would run, and what is skipped
    uv run python scripts/ci_local.py --e2e        # the end-to-end tests too
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
MATRIX_EXPRESSION = re.compile(r"\$\{\{\s*matrix\.(\w+)\s*\}\}")
END_TO_END_SKIPPED = "end-to-end tests take minutes: `make test-e2e`, or replay with --e2e"
COMMAND_SKIPS = [
    (re.compile(r"\$\{\{"), "uses GitHub expressions"),
    (re.compile(r"\bdocker\b|smoke-test"), "needs a Docker engine"),
    (re.compile(r"pip-audit"), "needs the vulnerability database online"),
    (re.compile(r"\bapt-get\b"), "installs system packages: install them yourself (see the step)"),
    (re.compile(r"make test-e2e"), END_TO_END_SKIPPED),
    (re.compile(r"cruft\S* check"), "asks the template's repository: run `uvx cruft check`"),
]
"""Why a step whose command matches is skipped here."""
TOOL_SKIPS = [
    (
        re.compile(r"make alerts-check"),
        "promtool",
        "install Prometheus (Debian or Ubuntu: sudo apt-get install prometheus; macOS: brew "
        "install prometheus)",
    ),
]
"""Steps that need a program: skipped, with how to install it, where it is missing."""


@dataclass(frozen=True)
class Step:
    """One step of one job, and why it is skipped locally (None: it runs)."""

    job_id: str
    job: str
    name: str
    command: str
    env: dict[str, str]
    skipped: str | None = None


def load_steps(workflow: Path) -> list[Step]:
    """Flatten the workflow's jobs into steps, in file order."""
    spec: dict[str, Any] = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    steps: list[Step] = []
    for job_id, job in spec["jobs"].items():
        matrix = job.get("strategy", {}).get("matrix", {})
        job_name = _first_of_matrix(str(job.get("name", job_id)), matrix)
        env = {key: str(value) for key, value in job.get("env", {}).items()}
        if job.get("services"):  # service containers need Docker: use this machine's services
            env = {}
        for index, step in enumerate(job["steps"]):
            name = str(step.get("name") or step.get("uses") or f"step {index + 1}")
            command = _first_of_matrix(step.get("run", ""), matrix)
            steps.append(Step(job_id, job_name, name, command, env, _skip_reason(step, command)))
    return steps


def _first_of_matrix(text: str, matrix: dict[str, list[Any]]) -> str:
    """Replace ``${{ matrix.x }}`` with the first value of ``x``: one local run per job."""
    return MATRIX_EXPRESSION.sub(lambda match: str(matrix[match.group(1)][0]), text)


def _skip_reason(step: dict[str, Any], command: str) -> str | None:
    if "uses" in step:
        return f"GitHub action {step['uses']}"
    if "if" in step:
        return "runs on GitHub only (if: " + str(step["if"]) + ")"
    for pattern, program, how in TOOL_SKIPS:
        if pattern.search(command) and shutil.which(program) is None:
            return f"needs {program}: {how}"
    return next((reason for pattern, reason in COMMAND_SKIPS if pattern.search(command)), None)


def _with_e2e(step: Step) -> Step:
    """``step``, no longer skipped if only its being end-to-end tests skipped it."""
    if step.skipped == END_TO_END_SKIPPED:
        return replace(step, skipped=None)
    return step


def replay(steps: list[Step]) -> int:
    """Run the steps that can run here; return 0, or 1 at the first failure."""
    for step in steps:
        label = f"[{step.job}] {step.name}"
        if step.skipped:
            print(f"SKIP {label}: {step.skipped}", flush=True)
            continue
        print(f"RUN  {label}: {step.command.strip()}", flush=True)
        started = time.perf_counter()
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", step.command],
            cwd=ROOT,
            env={**os.environ, **step.env},
            check=False,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            print(f"FAIL {label} (exit {result.returncode}, {elapsed:.1f}s)", flush=True)
            print(f"CI replay failed at job '{step.job}', step '{step.name}'", flush=True)
            return 1
        print(f"PASS {label} ({elapsed:.1f}s)", flush=True)
    print("CI replay passed: every step that can run here is green", flush=True)
    return 0


def main() -> None:
    """Parse the arguments and replay (or list) the workflow."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="only list the steps")
    parser.add_argument("--job", action="append", help="only this job (id or name); repeatable")
    parser.add_argument("--e2e", action="store_true", help="run the end-to-end tests too")
    parser.add_argument("--workflow", type=Path, default=WORKFLOW)
    arguments = parser.parse_args()
    steps = load_steps(arguments.workflow)
    if arguments.e2e:
        steps = [_with_e2e(step) for step in steps]
    if arguments.job:
        steps = [step for step in steps if {step.job_id, step.job} & set(arguments.job)]
        if not steps:
            sys.exit(f"no job named {', '.join(arguments.job)} in {arguments.workflow}")
    if arguments.list:
        for step in steps:
            print(f"[{step.job}] {step.name}: {step.skipped or step.command.strip()}")
        return
    sys.exit(replay(steps))


if __name__ == "__main__":
    main()
