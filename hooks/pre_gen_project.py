"""Refuse invalid free-text answers before any file is written.

Cookiecutter renders this file with the answers, runs it, and aborts generation when it
exits non-zero. Each refusal is one line saying what to type instead, followed by a
command that generates again with every valid answer kept. The closed questions (Python
version, dataset, license, Kubernetes) are menus, so cookiecutter itself refuses any
other value.
"""

import keyword
import re
import shlex
import sys

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "description": {{ cookiecutter.description | tojson }},
    "author_name": {{ cookiecutter.author_name | tojson }},
    "author_email": {{ cookiecutter.author_email | tojson }},
    "github_owner": {{ cookiecutter.github_owner | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
    "dataset": {{ cookiecutter.dataset | tojson }},
    "csv_target_column": {{ cookiecutter.csv_target_column | tojson }},
    "license": {{ cookiecutter.license | tojson }},
    "kubernetes": {{ cookiecutter.kubernetes | tojson }},
}
"""Every answer, in the order of the questions."""
TEMPLATE = {{ cookiecutter._template | tojson }}

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


def problems(answers: dict[str, str]) -> dict[str, str]:
    """Each invalid answer's name, with what is wrong and what to type instead."""
    found = {}
    if not answers["project_name"].strip():
        found["project_name"] = 'project_name is empty: type a name such as "Churn Predictor".'
    slug = answers["project_slug"]
    if not SLUG_PATTERN.fullmatch(slug):
        found["project_slug"] = (
            f"project_slug {slug!r} is not valid: use lowercase letters, digits and single "
            f"hyphens, starting with a letter, e.g. project_slug={suggest_slug(slug)}"
        )
    elif len(slug) > MAX_NAME:
        found["project_slug"] = (
            f"project_slug {slug!r} has {len(slug)} characters: use at most {MAX_NAME}, e.g. "
            f"project_slug={slug[:MAX_NAME].rstrip('-')}"
        )
    package = answers["package_name"]
    if not PACKAGE_PATTERN.fullmatch(package) or keyword.iskeyword(package):
        suggestion = suggest_slug(package).replace("-", "_")
        if keyword.iskeyword(suggestion):
            suggestion += "_service"
        found["package_name"] = (
            f"package_name {package!r} is not a valid Python package name: use lowercase "
            f"letters, digits and underscores, starting with a letter, e.g. "
            f"package_name={suggestion}"
        )
    elif len(package) > MAX_NAME:
        found["package_name"] = (
            f"package_name {package!r} has {len(package)} characters: use at most {MAX_NAME}, "
            f"e.g. package_name={package[:MAX_NAME].rstrip('_')}"
        )
    elif package in TAKEN_PACKAGE_NAMES or package in sys.stdlib_module_names:
        found["package_name"] = (
            f"package_name {package!r} would shadow an existing module: choose another, "
            f"e.g. package_name={package}_service"
        )
    if not EMAIL_PATTERN.fullmatch(answers["author_email"]):
        found["author_email"] = (
            f"author_email {answers['author_email']!r} is not an email address: "
            "type one like you@example.com"
        )
    if not GITHUB_OWNER_PATTERN.fullmatch(answers["github_owner"]):
        found["github_owner"] = (
            f"github_owner {answers['github_owner']!r} is not a GitHub user or organisation "
            "name: use letters, digits and single hyphens, e.g. github_owner=your-github-user"
        )
    if not COLUMN_PATTERN.fullmatch(answers["csv_target_column"]):
        found["csv_target_column"] = (
            f"csv_target_column {answers['csv_target_column']!r} is not a plain column name: "
            "use letters, digits, spaces, dots, hyphens or underscores, e.g. "
            "csv_target_column=target"
        )
    return found


def retry_command(answers: dict[str, str], refused: set[str]) -> str:
    """The cookiecutter command that generates again with every valid answer kept."""
    kept = [f"{name}={value}" for name, value in answers.items() if name not in refused]
    return shlex.join(["cookiecutter", "--no-input", TEMPLATE, *kept])


def main() -> int:
    """Print each problem on its own line, then how to retry; return the exit status."""
    found = problems(ANSWERS)
    if not found:
        return 0
    for problem in found.values():
        print(f"error: {problem}", file=sys.stderr)
    print(
        "Nothing was written. To try again with your other answers kept, run this with "
        "the corrected ones added:",
        retry_command(ANSWERS, set(found)),
        sep="\n",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
