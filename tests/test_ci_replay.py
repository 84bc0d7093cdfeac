"""Milestone 3: the generated CI workflow, replayed locally, is green on a fresh project and
turns red at the right step for each kind of deliberate break.
"""

import re
from pathlib import Path

import pytest

from .conftest import UNIT_TESTS_ONLY, copy_project, fresh_database, run

BREAKS = [
    ("lint", "[lint] Lint"),
    ("types", "[typecheck] Type-check"),
    ("tests", "[test (3.11)] Test"),
]
# Steps the replay runs on every project, and their commands.
REPLAYED_STEPS = {
    "[lint] Lint": "make lint",
    "[typecheck] Type-check": "make typecheck",
    "[test (3.11)] Test": "make test",
    "[security] Static analysis": "make security",
}


def test_ci_replay_lists_the_workflow_steps(default_project: Path) -> None:
    listing = run(["uv", "run", "python", "scripts/ci_local.py", "--list"], cwd=default_project)
    for step, command in REPLAYED_STEPS.items():
        assert f"{step}: {command}" in listing.stdout
    assert "[image] Build the API image: needs a Docker engine" in listing.stdout


def test_ci_replay_is_green_on_a_fresh_project(
    default_project: Path, tmp_path: Path, postgres_url: str
) -> None:
    project = copy_project(default_project, tmp_path)
    database = fresh_database(postgres_url, "ci_replay")
    env = {"TEST_POSTGRES_URL": database, **UNIT_TESTS_ONLY}  # e2e: test_generated_project.py
    result = run(["make", "ci"], cwd=project, env=env)
    assert "CI replay passed" in result.stdout
    for step in REPLAYED_STEPS:
        assert f"PASS {step}" in result.stdout


@pytest.mark.parametrize(("kind", "failing_step"), BREAKS, ids=[kind for kind, _ in BREAKS])
def test_each_deliberate_break_fails_ci_at_its_step(
    default_project: Path, tmp_path: Path, kind: str, failing_step: str
) -> None:
    project = copy_project(default_project, tmp_path)
    run(["make", "break-ci", f"KIND={kind}"], cwd=project)

    # -x: pytest stops at the first failing test; the step fails the same way, sooner.
    result = run(["make", "ci"], cwd=project, env={"PYTEST_ADDOPTS": "-x"}, check=False)
    assert result.returncode != 0
    failed_steps = re.findall(r"^FAIL (\[.*?\] [^(]+?) \(exit", result.stdout, re.MULTILINE)
    assert failed_steps == [failing_step], result.stdout[-3000:]
    assert "CI replay failed at job" in result.stdout

    run(["make", "break-ci", "KIND=restore"], cwd=project)
    assert not list(project.rglob("*ci_exercise.py"))
