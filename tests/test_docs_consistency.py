"""The generated docs are true to the code: `make docs-check` passes, and catches a false name.

The default project's docs/architecture.md and docs/runbook.md must name only endpoints, CLI
commands, compose services, APP_* settings and make targets that exist. On a copy of the
project, one name in docs/architecture.md is changed to one that does not exist: the checker
must fail and name it.
"""

from pathlib import Path

import pytest

from .conftest import copy_project, run

SLUG = "my-ml-service"
ARCHITECTURE = Path("docs") / "architecture.md"


def test_docs_check_passes(default_project: Path) -> None:
    result = run(["make", "docs-check"], cwd=default_project)
    lines = result.stdout.splitlines()
    assert "docs-check: every check passed" in lines
    assert not [line for line in lines if line.startswith("FAIL")]
    assert "PASS docs/architecture.md mentions all 9 endpoints" in lines  # feedback: 2
    assert "PASS docs/architecture.md mentions all 10 commands" in lines
    assert "PASS docs/runbook.md has a section for each of the 5 diagnoses" in lines


@pytest.fixture(scope="module")
def project_copy(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the default project; each test edits its architecture doc, then restores it."""
    return copy_project(default_project, tmp_path_factory.mktemp("docs-consistency"))


@pytest.mark.parametrize(
    ("real", "fake", "expected"),
    [
        ("/predict/batch", "/predict/bulk", "endpoint /predict/bulk does not exist"),
        (f"{SLUG} rollback", f"{SLUG} undo", f"command `{SLUG} undo` does not exist"),
        (
            "APP_MODEL_POLL_SECONDS",
            "APP_MODEL_POLL_INTERVAL",
            "setting APP_MODEL_POLL_INTERVAL does not exist",
        ),
    ],
    ids=["endpoint", "command", "setting"],
)
def test_docs_check_names_what_does_not_exist(
    project_copy: Path, real: str, fake: str, expected: str
) -> None:
    path = project_copy / ARCHITECTURE
    original = path.read_text(encoding="utf-8")
    assert real in original
    path.write_text(original.replace(real, fake, 1), encoding="utf-8")
    try:
        result = run(["make", "docs-check"], cwd=project_copy, check=False)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1, failures
    assert failures[0].startswith(f"FAIL {ARCHITECTURE.as_posix()}:")
    assert expected in failures[0]
