"""Refuse invalid template answers before any file is written.

Cookiecutter renders this file with the answers, runs it, and aborts generation
when it exits non-zero. Each refusal is one line saying what to type instead.
"""

import keyword
import re
import sys

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }},
    "github_owner": {{ cookiecutter.github_owner | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
    "task": {{ cookiecutter.task | tojson }},
    "dataset": {{ cookiecutter.dataset | tojson }},
    "csv_target_column": {{ cookiecutter.csv_target_column | tojson }},
    "license": {{ cookiecutter.license | tojson }},
    "kubernetes": {{ cookiecutter.kubernetes | tojson }},
}

OPTIONS = {{ cookiecutter._options | tojson }}
SUPPORTED_PYTHON = OPTIONS["python_version"]
DATASETS_BY_TASK = OPTIONS["dataset"]
LICENSES = OPTIONS["license"]
# Importable names the generated project depends on; a package with one of these
# names would shadow the real library.
TAKEN_PACKAGE_NAMES = {
    "app", "data", "evidently", "fastapi", "httpx", "joblib", "numpy", "pandas",
    "prometheus_client", "psycopg", "pydantic", "pydantic_settings", "scipy",
    "sklearn", "sqlalchemy", "src", "test", "tests", "typer", "uvicorn",
}
# Longer names push generated lines past ruff's limit (tests render names this long); 40
# also keeps Kubernetes names within their limit (52 for the CronJob "<slug>-drift").
MAX_NAME = 40
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
GITHUB_OWNER_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
COLUMN_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")


def suggest_slug(text: str) -> str:
    """A valid slug close to ``text``, for the error message."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)
    return slug or "my-ml-service"


def problems(answers: dict[str, str]) -> list[str]:
    """Every invalid answer, each with what to type instead."""
    found = []
    if not answers["project_name"].strip():
        found.append('project_name is empty: type a name such as "Churn Predictor".')
    slug = answers["project_slug"]
    if not SLUG_PATTERN.fullmatch(slug):
        found.append(
            f"project_slug {slug!r} is not valid: use lowercase letters, digits and single "
            f"hyphens, starting with a letter, e.g. project_slug={suggest_slug(slug)}"
        )
    elif len(slug) > MAX_NAME:
        found.append(
            f"project_slug {slug!r} has {len(slug)} characters: use at most {MAX_NAME}, e.g. "
            f"project_slug={slug[:MAX_NAME].rstrip('-')}"
        )
    package = answers["package_name"]
    if not PACKAGE_PATTERN.fullmatch(package) or keyword.iskeyword(package):
        suggestion = suggest_slug(package).replace("-", "_")
        if keyword.iskeyword(suggestion):
            suggestion += "_service"
        found.append(
            f"package_name {package!r} is not a valid Python package name: use lowercase "
            f"letters, digits and underscores, starting with a letter, e.g. "
            f"package_name={suggestion}"
        )
    elif len(package) > MAX_NAME:
        found.append(
            f"package_name {package!r} has {len(package)} characters: use at most {MAX_NAME}, "
            f"e.g. package_name={package[:MAX_NAME].rstrip('_')}"
        )
    elif package in TAKEN_PACKAGE_NAMES or package in sys.stdlib_module_names:
        found.append(
            f"package_name {package!r} would shadow an existing module: choose another, "
            f"e.g. package_name={package}_service"
        )
    if not EMAIL_PATTERN.fullmatch(answers["author_email"]):
        found.append(
            f"author_email {answers['author_email']!r} is not an email address: "
            "type one like you@example.com"
        )
    if not GITHUB_OWNER_PATTERN.fullmatch(answers["github_owner"]):
        found.append(
            f"github_owner {answers['github_owner']!r} is not a GitHub user or organisation "
            "name: use letters, digits and single hyphens, e.g. github_owner=your-github-user"
        )
    if answers["python_version"] not in SUPPORTED_PYTHON:
        found.append(
            f"python_version {answers['python_version']!r} is not supported: type one of "
            + ", ".join(SUPPORTED_PYTHON)
        )
    task = answers["task"]
    if task not in DATASETS_BY_TASK:
        found.append(f"task {task!r} is not supported: type classification or regression")
    elif answers["dataset"] not in DATASETS_BY_TASK[task]:
        fitting = ", ".join(DATASETS_BY_TASK[task])
        found.append(
            f"dataset {answers['dataset']!r} does not fit task={task}: type one of {fitting}"
        )
    if not COLUMN_PATTERN.fullmatch(answers["csv_target_column"]):
        found.append(
            f"csv_target_column {answers['csv_target_column']!r} is not a plain column name: "
            "use letters, digits, spaces, dots, hyphens or underscores, e.g. "
            "csv_target_column=target"
        )
    if answers["license"] not in LICENSES:
        found.append(
            f"license {answers['license']!r} is not offered: type one of " + ", ".join(LICENSES)
        )
    if answers["kubernetes"] not in OPTIONS["kubernetes"]:
        found.append(f"kubernetes {answers['kubernetes']!r} is not valid: type yes or no")
    return found


def main() -> int:
    """Print each problem on its own line and return the exit status."""
    found = problems(ANSWERS)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
