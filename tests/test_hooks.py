"""Closed questions are menus; the pre-generation hook refuses bad free-text answers with a
retry command that keeps the rest; odd but valid answers generate working files."""

import ast
import os
import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from .conftest import QUESTIONS, TASK_OF, TEMPLATE_DIR, run, tool

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
    ({"csv_target_column": "a,b"}, "is not a plain column name", "csv_target_column=target"),
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
        env={**os.environ, "TMPDIR": tempfile.gettempdir()},  # its hook scripts: see conftest
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
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    matching = [line for line in errors if problem in line]
    assert len(matching) == 1, result.stderr
    assert advice in matching[0]
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_prints_its_reasons_and_a_retry_command(tmp_path: Path) -> None:
    result = generate(
        tmp_path, "author_email=x", "github_owner=-bad-", "dataset=wine", "author_name=Zoë O'Hara"
    )
    assert result.returncode == 1
    retry = (
        f"cookiecutter --no-input {TEMPLATE_DIR} 'project_name=My ML Service' "
        "project_slug=my-ml-service package_name=my_ml_service "
        "'description=A machine learning service: trained, served, monitored and retrained.' "
        "'author_name=Zoë O'\"'\"'Hara' python_version=3.11 dataset=wine "
        "csv_target_column=target license=MIT kubernetes=no"
    )
    assert result.stderr.splitlines() == [
        "error: author_email 'x' is not an email address: type one like you@example.com",
        "error: github_owner '-bad-' is not a GitHub user or organisation name: use letters, "
        "digits and single hyphens, e.g. github_owner=your-github-user",
        "Nothing was written. To try again with your other answers kept, run this with the "
        "corrected ones added:",
        retry,
    ]
    # cookiecutter's own report follows on stdout (a log line with a traceback): a hook can't
    # silence it, and a Jinja extension that could would break cruft, which can't load one.
    assert result.stdout.splitlines()[-1] == "Hook script failed (exit status: 1)"
    assert list(tmp_path.iterdir()) == []


def test_the_retry_command_keeps_every_valid_answer(tmp_path: Path) -> None:
    refused = generate(tmp_path, "author_email=x", "dataset=diabetes", "license=Apache-2.0")
    retry = shlex.split(refused.stderr.splitlines()[-1])
    assert retry[:3] == ["cookiecutter", "--no-input", str(TEMPLATE_DIR)]
    result = generate(tmp_path, *retry[3:], "author_email=me@example.org")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "my-ml-service"
    assert (
        'dataset: DatasetName = "diabetes"'
        in (project / "src" / "my_ml_service" / "config.py").read_text()
    )
    assert "Apache License" in (project / "LICENSE").read_text()
    assert "me@example.org" in (project / "pyproject.toml").read_text()


@pytest.mark.parametrize("menu", ["python_version", "dataset", "license", "kubernetes"])
def test_an_answer_off_a_menu_is_refused_before_any_file_is_written(
    tmp_path: Path, menu: str
) -> None:
    result = generate(tmp_path, f"{menu}=other")
    assert result.returncode != 0
    assert f"other provided for choice variable {menu}, but the choices are" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_dataset_decides_the_task() -> None:
    """The only way to choose a task is a dataset, so no dataset can meet the wrong task."""
    assert "task" not in QUESTIONS and TASK_OF == {
        "churn": "classification",
        "breast_cancer": "classification",
        "wine": "classification",
        "iris": "classification",
        "diabetes": "regression",
        "csv_classification": "classification",
        "csv_regression": "regression",
    }
    labels = QUESTIONS["__prompts__"]["dataset"]
    assert all(TASK_OF[dataset] in labels[dataset] for dataset in TASK_OF)


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
    assert (project / "src" / "my_ml_service_2" / "cli" / "__init__.py").is_file()
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


@pytest.mark.parametrize("dataset", ["breast_cancer", "diabetes"])
def test_the_longest_names_still_pass_ruff(tmp_path: Path, dataset: str) -> None:
    name = ("a" + "-bcdefghij" * 4)[:40]  # the longest name the hook allows
    result = generate(tmp_path, f"project_name={name}", f"dataset={dataset}")
    assert result.returncode == 0, result.stderr
    project = tmp_path / name
    assert len(project.name) == 40 and len(name.replace("-", "_")) == 40
    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)
    run([tool("ruff"), "format", "--check", "--no-cache", "."], cwd=project)
