"""Every option combination renders, and every rendered project passes the static checks.

Cheap checks run for all combinations: no template syntax left, the right files present,
ruff (lint and format), hadolint, `docker compose config`, actionlint and YAML parsing.
The expensive checks (install, mypy, pytest) run on a representative subset elsewhere.
"""

import json
import math
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import (
    OPTIONS,
    TEMPLATE_DIR,
    all_combinations,
    combination_id,
    is_csv,
    render,
    run,
    task_of,
    tool,
)

COMBINATIONS = all_combinations()
LEFTOVER_TEMPLATE_SYNTAX = re.compile(r"\{\{-?\s*cookiecutter|\{%-?\s")
COOKIECUTTER_NAME = re.compile(r"cookiecutter\.(\w+)")
LICENSE_FIRST_WORDS = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "Proprietary": "Copyright (c)",
}


@pytest.fixture(scope="module", params=COMBINATIONS, ids=combination_id)
def combination(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], Path]:
    """One option combination and its project, rendered once for the tests of it.

    A module-scoped parameter: pytest runs each combination's tests together, so each worker
    renders only the combinations it runs.
    """
    answers: dict[str, str] = request.param
    return answers, render(tmp_path_factory.mktemp(combination_id(answers)), **answers)


WORKFLOW_ANSWERS = {"python_version", "kubernetes", "project_slug"}
"""The answers that the generated workflows depend on (test_workflow_answers_are_covered)."""
WORKFLOW_CHOICES = sorted(WORKFLOW_ANSWERS & OPTIONS.keys())
"""Those of them with a list of choices (the slug is free text, always the default here)."""


@pytest.fixture(scope="module")
def workflow_projects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One project per set of values of WORKFLOW_ANSWERS (the slug is always the default)."""
    root = tmp_path_factory.mktemp("workflows")
    variants = {tuple(a[name] for name in WORKFLOW_CHOICES): a for a in COMBINATIONS}
    return [render(root / combination_id(a), **a) for a in variants.values()]


def text_files(project: Path) -> list[Path]:
    return [
        path
        for path in project.rglob("*")
        if path.is_file() and path.suffix not in {".csv"} and ".venv" not in path.parts
    ]


def test_the_matrix_covers_every_option() -> None:
    assert len(COMBINATIONS) == 3 * 7 * 4 * 2
    for key in OPTIONS:
        assert {answers[key] for answers in COMBINATIONS} == set(OPTIONS[key]), key
    assert {task_of(answers) for answers in COMBINATIONS} == {"classification", "regression"}


def test_combination_renders_cleanly(combination: tuple[dict[str, str], Path]) -> None:
    answers, project = combination
    for path in text_files(project):
        text = path.read_text(encoding="utf-8")
        assert not LEFTOVER_TEMPLATE_SYNTAX.search(text), f"template syntax left in {path}"
        if path.suffix in {".yml", ".yaml"}:
            assert yaml.safe_load(text) is not None, path

    assert (project / "k8s").is_dir() == (answers["kubernetes"] == "yes")
    assert (project / "data" / "dataset.csv").is_file() == is_csv(answers)
    assert not list(project.glob("data/sample_*.csv"))
    churn = project / "src" / project.name.replace("-", "_") / "datasets" / "churn.csv"
    assert churn.is_file() == (task_of(answers) == "classification")
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


def test_combination_passes_ruff(combination: tuple[dict[str, str], Path]) -> None:
    _, project = combination
    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)
    run([tool("ruff"), "format", "--check", "--no-cache", "."], cwd=project)


def test_combination_passes_hadolint_and_compose(combination: tuple[dict[str, str], Path]) -> None:
    _, project = combination
    run([tool("hadolint"), "Dockerfile"], cwd=project)
    compose = [tool("docker-compose"), "-f", "compose.yaml"]
    run([*compose, "config", "--quiet"], cwd=project)
    run([*compose, "--profile", "observability", "config", "--quiet"], cwd=project)


def test_workflow_answers_are_covered() -> None:
    """The generated workflows use no answer beyond WORKFLOW_ANSWERS, so the projects of
    ``workflow_projects`` hold every workflow that any combination can render."""
    templates = (TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / ".github").rglob("*.yml")
    used = {name for path in templates for name in COOKIECUTTER_NAME.findall(path.read_text())}
    assert used and used <= WORKFLOW_ANSWERS, used


def test_every_workflow_passes_actionlint(workflow_projects: list[Path]) -> None:
    """One actionlint call over the generated workflows and the template's own."""
    workflows = sorted(
        str(path)
        for project in workflow_projects
        for path in project.glob(".github/workflows/*.yml")
    )
    assert len(workflows) == 2 * math.prod(len(OPTIONS[name]) for name in WORKFLOW_CHOICES)
    workflows += [str(path) for path in (TEMPLATE_DIR / ".github" / "workflows").glob("*.yml")]
    result = subprocess.run(
        [tool("actionlint"), *workflows], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def test_devcontainer_and_dependabot_are_valid(workflow_projects: list[Path]) -> None:
    """Dependabot's file passes its JSON schema (check-jsonschema's vendored copy); the official
    devcontainers CLI reads the devcontainer: the project's Python, uv, Docker-in-Docker, the
    ports and `make install`. (No package reachable here ships the devcontainer schema.)"""
    for project in workflow_projects:
        dependabot = project / ".github" / "dependabot.yml"
        run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(dependabot)],
            cwd=project,
        )
        updates = yaml.safe_load(dependabot.read_text())["updates"]
        assert {"uv", "github-actions", "docker"} <= {u["package-ecosystem"] for u in updates}
        assert all(u["schedule"]["interval"] == "weekly" and u["groups"] for u in updates)

        read = run(
            [tool("devcontainer"), "read-configuration", "--workspace-folder", "."], cwd=project
        )
        config = json.loads(read.stdout)["configuration"]
        version = (project / ".python-version").read_text().strip()
        assert config["image"] == f"mcr.microsoft.com/devcontainers/python:{version}-bookworm"
        assert list(config["features"]) == ["ghcr.io/devcontainers/features/docker-in-docker:2"]
        assert config["forwardPorts"] == [8000, 5000, 3000]
        assert config["onCreateCommand"] == "pipx install uv"
        assert config["postCreateCommand"] == "make install"


def test_github_expressions_survive_rendering(workflow_projects: list[Path]) -> None:
    project = workflow_projects[0]
    ci = (project / ".github" / "workflows" / "ci.yml").read_text()
    drift = (project / ".github" / "workflows" / "drift.yml").read_text()
    assert "name: test (${{ matrix.python }})" in ci
    assert "password: ${{ secrets.GITHUB_TOKEN }}" in ci
    assert "APP_DATABASE_URL: ${{ secrets.APP_DATABASE_URL }}" in drift
