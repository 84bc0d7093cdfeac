"""Every option combination renders, and every rendered project passes the static checks.

Cheap checks run for all combinations: no template syntax left, the right files present,
ruff (lint and format), hadolint, `docker compose config`, actionlint and YAML parsing.
The expensive checks (install, mypy, pytest) run on a representative subset elsewhere.
"""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import TEMPLATE_DIR, all_combinations, combination_id, render, run, tool

COMBINATIONS = all_combinations()
LEFTOVER_TEMPLATE_SYNTAX = re.compile(r"\{\{-?\s*cookiecutter|\{%-?\s")
LICENSE_FIRST_WORDS = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "Proprietary": "Copyright (c)",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every combination, rendered once for this module."""
    root = tmp_path_factory.mktemp("rendered")
    return {
        combination_id(answers): render(root / combination_id(answers), **answers)
        for answers in COMBINATIONS
    }


def text_files(project: Path) -> list[Path]:
    return [
        path
        for path in project.rglob("*")
        if path.is_file() and path.suffix not in {".csv"} and ".venv" not in path.parts
    ]


def test_the_matrix_covers_every_option() -> None:
    assert len(COMBINATIONS) == 3 * 7 * 4 * 2
    for key in ("python_version", "task", "dataset", "license", "kubernetes"):
        values = {answers[key] for answers in COMBINATIONS}
        assert len(values) >= 2, key


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_combination_renders_cleanly(rendered: dict[str, Path], answers: dict[str, str]) -> None:
    project = rendered[combination_id(answers)]
    for path in text_files(project):
        text = path.read_text(encoding="utf-8")
        assert not LEFTOVER_TEMPLATE_SYNTAX.search(text), f"template syntax left in {path}"
        if path.suffix in {".yml", ".yaml"}:
            assert yaml.safe_load(text) is not None, path

    assert (project / "k8s").is_dir() == (answers["kubernetes"] == "yes")
    assert (project / "data" / "dataset.csv").is_file() == (answers["dataset"] == "csv")
    assert not list(project.glob("data/sample_*.csv"))
    churn = project / "src" / project.name.replace("-", "_") / "datasets" / "churn.csv"
    assert churn.is_file() == (answers["task"] == "classification")
    license_text = (project / "LICENSE").read_text(encoding="utf-8")
    assert license_text.lstrip().startswith(LICENSE_FIRST_WORDS[answers["license"]])

    version = answers["python_version"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["mypy"]["python_version"] == version
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert (project / ".python-version").read_text().strip() == version
    assert f"ARG PYTHON_VERSION={version}" in (project / "Dockerfile").read_text()
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]["python"]
    assert matrix[0] == version and matrix == sorted(matrix)
    assert ("kubernetes" in ci["jobs"]) == (answers["kubernetes"] == "yes")


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_combination_passes_ruff(rendered: dict[str, Path], answers: dict[str, str]) -> None:
    project = rendered[combination_id(answers)]
    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)
    run([tool("ruff"), "format", "--check", "--no-cache", "."], cwd=project)


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_combination_passes_hadolint_and_compose(
    rendered: dict[str, Path], answers: dict[str, str]
) -> None:
    project = rendered[combination_id(answers)]
    run([tool("hadolint"), "Dockerfile"], cwd=project)
    compose = [tool("docker-compose"), "-f", "compose.yaml"]
    run([*compose, "config", "--quiet"], cwd=project)
    run([*compose, "--profile", "observability", "config", "--quiet"], cwd=project)


def test_every_workflow_passes_actionlint(rendered: dict[str, Path]) -> None:
    """One actionlint call over all generated workflows and the template's own."""
    workflows = sorted(
        str(path)
        for project in rendered.values()
        for path in project.glob(".github/workflows/*.yml")
    )
    assert len(workflows) == 2 * len(COMBINATIONS)
    workflows += [str(path) for path in (TEMPLATE_DIR / ".github" / "workflows").glob("*.yml")]
    result = subprocess.run(
        [tool("actionlint"), *workflows], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def test_github_expressions_survive_rendering(rendered: dict[str, Path]) -> None:
    project = next(iter(rendered.values()))
    ci = (project / ".github" / "workflows" / "ci.yml").read_text()
    drift = (project / ".github" / "workflows" / "drift.yml").read_text()
    assert "name: test (${{ matrix.python }})" in ci
    assert "password: ${{ secrets.GITHUB_TOKEN }}" in ci
    assert "APP_DATABASE_URL: ${{ secrets.APP_DATABASE_URL }}" in drift
