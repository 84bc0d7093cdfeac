"""The pre-generation hook refuses bad answers; odd but valid answers generate working files."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import TEMPLATE_DIR, run, tool

INVALID_ANSWERS = [
    (
        {"project_slug": "My Project"},
        "project_slug 'My Project' is not valid",
        "project_slug=my-project",
    ),
    ({"project_slug": "9lives"}, "project_slug '9lives' is not valid", "project_slug=lives"),
    ({"package_name": "my-package"}, "not a valid Python package name", "package_name=my_package"),
    ({"package_name": "class"}, "not a valid Python package name", "package_name=class_service"),
    ({"package_name": "json"}, "would shadow an existing module", "package_name=json_service"),
    (
        {"package_name": "sklearn"},
        "would shadow an existing module",
        "package_name=sklearn_service",
    ),
    ({"project_name": "   "}, "project_name is empty", 'type a name such as "Churn Predictor"'),
    ({"author_email": "not-an-email"}, "is not an email address", "you@example.com"),
    ({"github_owner": "-bad-"}, "is not a GitHub user", "github_owner=your-github-user"),
    ({"python_version": "3.9"}, "python_version '3.9' is not supported", "3.11, 3.12, 3.13"),
    ({"task": "clustering"}, "task 'clustering' is not supported", "classification or regression"),
    (
        {"task": "regression", "dataset": "iris"},
        "dataset 'iris' does not fit task=regression",
        "type one of diabetes, csv",
    ),
    (
        {"task": "classification", "dataset": "diabetes"},
        "dataset 'diabetes' does not fit task=classification",
        "churn, breast_cancer, wine, iris, csv",
    ),
    ({"csv_target_column": "a,b"}, "is not a plain column name", "csv_target_column=target"),
    ({"license": "GPL"}, "license 'GPL' is not offered", "MIT, Apache-2.0"),
    ({"kubernetes": "maybe"}, "kubernetes 'maybe' is not valid", "yes or no"),
    (
        {"project_slug": "a" * 41, "package_name": "short"},
        "has 41 characters: use at most 40",
        "project_slug=" + "a" * 40,
    ),
    (
        {"package_name": "p" * 41},
        "has 41 characters: use at most 40",
        "package_name=" + "p" * 40,
    ),
]


def generate(tmp_path: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Run the cookiecutter command line as a learner would."""
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path)]
    return subprocess.run(
        [*command, str(TEMPLATE_DIR), *answers],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("answers", "problem", "advice"),
    INVALID_ANSWERS,
    ids=[
        next(iter(answers)) + "=" + next(iter(answers.values())) for answers, *_ in INVALID_ANSWERS
    ],
)
def test_invalid_answers_are_refused_before_any_file_is_written(
    tmp_path: Path, answers: dict[str, str], problem: str, advice: str
) -> None:
    result = generate(tmp_path, *(f"{key}={value}" for key, value in answers.items()))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    matching = [line for line in errors if problem in line]
    assert len(matching) == 1, result.stderr
    assert advice in matching[0]
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    result = generate(tmp_path, "python_version=2.7", "author_email=x", "kubernetes=maybe")
    assert result.returncode != 0
    assert sum(line.startswith("ERROR: ") for line in result.stderr.splitlines()) == 3


def test_odd_names_generate_a_valid_project(tmp_path: Path) -> None:
    result = generate(
        tmp_path,
        "project_name=My ML Service 2",
        'description=Predicts "churn" \\ fast, naïvely',
        "author_name=Zoë Ñúñez-O'Brien 张伟",
        "author_email=zoe@example.org",
    )
    assert result.returncode == 0, result.stderr
    project = tmp_path / "my-ml-service-2"
    assert (project / "src" / "my_ml_service_2" / "cli.py").is_file()
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["description"] == 'Predicts "churn" \\ fast, naïvely'
    assert metadata["authors"][0]["name"] == "Zoë Ñúñez-O'Brien 张伟"
    assert "Zoë Ñúñez-O'Brien 张伟" in (project / "LICENSE").read_text(encoding="utf-8")
    for path in (project / "src").rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_unicode_project_name_gets_an_ascii_slug(tmp_path: Path) -> None:
    result = generate(tmp_path, "project_name=Prédiction Café")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "prediction-cafe" / "src" / "prediction_cafe").is_dir()


def test_next_steps_are_printed(tmp_path: Path) -> None:
    result = generate(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "make install" in result.stdout
    assert "make demo" in result.stdout


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_longest_names_still_pass_ruff(tmp_path: Path, task: str) -> None:
    name = ("a" + "-bcdefghij" * 4)[:40]  # the longest name the hook allows
    dataset = "breast_cancer" if task == "classification" else "diabetes"
    result = generate(tmp_path, f"project_name={name}", f"task={task}", f"dataset={dataset}")
    assert result.returncode == 0, result.stderr
    project = tmp_path / name
    assert len(project.name) == 40 and len(name.replace("-", "_")) == 40
    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)
    run([tool("ruff"), "format", "--check", "--no-cache", "."], cwd=project)
