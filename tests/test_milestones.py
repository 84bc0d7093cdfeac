"""The learner's path: every milestone's pass test passes on a fresh generated project, and
breaking one part makes that milestone fail, with its reason, and leaves the others passing.

Milestone 3 replays CI on the last commit (as GitHub does), so the project is committed first.
"""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import NO_COVERAGE, copy_project, fresh_database, run

GIT = ["git", "-c", "user.name=Learner", "-c", "user.email=learner@example.com"]


@pytest.fixture
def committed(default_project: Path, tmp_path: Path) -> Path:
    """A copy of the default project in a git repository with one commit."""
    project = copy_project(default_project, tmp_path)
    run([*GIT, "init", "-q", "-b", "main"], cwd=project)
    run([*GIT, "add", "-A"], cwd=project)
    run([*GIT, "commit", "-q", "-m", "Generated from mle-starter"], cwd=project)
    return project


Run = Callable[..., tuple[dict[int, str], str]]
NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture
def milestones(postgres_url: str, request: pytest.FixtureRequest) -> Run:
    """Run a project's milestones (all five, or those named); return {number: PASS|FAIL} and
    the output.

    The project's tests get a PostgreSQL database of their own (tests run in parallel).
    """
    database = fresh_database(postgres_url, "milestones_" + request.node.name[5:45])

    def run_milestones(project: Path, *numbers: int) -> tuple[dict[int, str], str]:
        result = run(
            ["uv", "run", "python", "scripts/milestones.py", *map(str, numbers)],
            cwd=project,
            # Milestone 2 without an engine here (its image builds would race on one tag);
            # test_containers.py runs it with the engine.
            env={"TEST_POSTGRES_URL": database, "DOCKER_HOST": NO_ENGINE, **NO_COVERAGE},
            check=False,
        )
        pattern = re.compile(r"^Milestone (\d): (PASS|FAIL)$", re.MULTILINE)
        verdicts = {int(number): verdict for number, verdict in pattern.findall(result.stdout)}
        assert (result.returncode == 0) == all(v == "PASS" for v in verdicts.values())
        return verdicts, result.stdout

    return run_milestones


def failure_reason(output: str, milestone: int) -> str:
    """The FAIL line printed under a milestone."""
    section = output.split(f"Milestone {milestone}: ")[1]
    return next(line for line in section.splitlines() if line.strip().startswith("FAIL"))


def break_serving(project: Path) -> None:
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace('CMD ["serve"]', 'CMD ["serv"]'))


def break_design(project: Path) -> None:
    doc = project / "docs" / "architecture.md"
    doc.write_text(doc.read_text().replace("/predict/batch", "/predict/bulk"))


def break_monitoring(project: Path) -> None:
    (project / ".env").write_text("APP_DRIFT_MIN_ROWS=1000000\n")


def break_code(project: Path) -> None:
    run(["make", "break-ci", "KIND=types"], cwd=project)


def break_ci(project: Path) -> None:
    workflow = project / ".github" / "workflows" / "ci.yml"
    workflow.write_text(workflow.read_text().replace("run: make lint", "run: make lnt"))


def test_every_milestone_passes_on_a_fresh_project(committed: Path, milestones: Run) -> None:
    verdicts, output = milestones(committed)
    assert verdicts == dict.fromkeys(range(1, 6), "PASS"), output
    assert "FAIL" not in output


def test_broken_serving_design_and_monitoring_fail_only_their_milestones(
    committed: Path, milestones: Run
) -> None:
    break_serving(committed)
    break_design(committed)
    break_monitoring(committed)
    # Milestone 3 replays the last commit, which these uncommitted breaks cannot reach; the
    # code (milestone 1: minutes of tests) is untouched by them, and passes in the test above.
    verdicts, output = milestones(committed, 2, 4, 5)
    assert verdicts == {2: "FAIL", 4: "FAIL", 5: "FAIL"}, output
    assert "No such command 'serv'" in failure_reason(output, 2)
    assert "/predict/bulk" in failure_reason(output, 4)
    assert "monitor exited 4, expected 0" in failure_reason(output, 5)


def test_broken_code_and_ci_fail_only_their_milestones(committed: Path, milestones: Run) -> None:
    break_code(committed)
    break_ci(committed)
    # The type error is in a module nothing imports: milestone 2 still serves the package.
    # Milestone 5 runs that same package (minutes), and passes in the first test.
    verdicts, output = milestones(committed, 1, 2, 3, 4)
    assert verdicts == {1: "FAIL", 2: "PASS", 3: "FAIL", 4: "PASS"}, output
    assert "types (mypy --strict)" in failure_reason(output, 1)
    assert "ci_exercise.py" in failure_reason(output, 1)
    assert "ci.yml job 'lint' does not run `make lint`" in failure_reason(output, 3)
