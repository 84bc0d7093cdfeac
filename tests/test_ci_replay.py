"""Milestone 3's tools: the CI replay lists the workflow's steps, and `make break-ci` makes
`make ci` fail at the broken step until `KIND=restore`.
"""

import re
from pathlib import Path

from .conftest import copy_project, run

# Steps the replay runs on every project, and their commands.
REPLAYED_STEPS = {
    "[lint] Lint": "make lint",
    "[lint] Alert rules and their tests": "make alerts-check",  # .ci/run installs promtool
    "[typecheck] Type-check": "make typecheck",
    "[test (3.11)] Test": "make coverage",
    "[security] Static analysis": "make security",
}


def test_ci_replay_lists_the_workflow_steps(default_project: Path) -> None:
    listing = run(["uv", "run", "python", "scripts/ci_local.py", "--list"], cwd=default_project)
    for step, command in REPLAYED_STEPS.items():
        assert f"{step}: {command}" in listing.stdout
    assert "[image] Build the API image: needs a Docker engine" in listing.stdout
    assert "[test (3.11)] End-to-end tests: end-to-end tests take minutes" in listing.stdout
    with_e2e = ["uv", "run", "python", "scripts/ci_local.py", "--list", "--e2e"]
    listing_with_e2e = run(with_e2e, cwd=default_project).stdout
    assert "[test (3.11)] End-to-end tests: make test-e2e" in listing_with_e2e


def test_a_deliberate_break_fails_ci_at_its_step_and_restore_undoes_it(
    default_project: Path, tmp_path: Path
) -> None:
    """The exercise through its make targets; test_milestones.py replays every kind of break
    (and the green replay) through milestone 3."""
    project = copy_project(default_project, tmp_path)
    run(["make", "break-ci", "KIND=lint"], cwd=project)
    result = run(["make", "ci"], cwd=project, check=False)
    assert result.returncode != 0
    failed_steps = re.findall(r"^FAIL (\[.*?\] [^(]+?) \(exit", result.stdout, re.MULTILINE)
    assert failed_steps == ["[lint] Lint"], result.stdout[-3000:]
    assert "CI replay failed at job 'lint'" in result.stdout

    run(["make", "break-ci", "KIND=restore"], cwd=project)
    assert not list(project.rglob("*ci_exercise.py"))
    assert run(["make", "lint"], cwd=project).returncode == 0
