"""Drop the files of options that were not chosen, record the template, print the next steps.

Cookiecutter runs this inside the freshly generated project folder.
"""

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

SLUG = {{ cookiecutter.project_slug | tojson }}
TASK = {{ cookiecutter.__task | tojson }}
PACKAGE = {{ cookiecutter.package_name | tojson }}
DATASET = {{ cookiecutter.__app_dataset | tojson }}
TARGET_COLUMN = {{ cookiecutter.csv_target_column | tojson }}
KUBERNETES = {{ cookiecutter.kubernetes | tojson }} == "yes"
ANSWERS = {
    name: value
    for name, value in json.loads({{ cookiecutter | tojson | tojson }}).items()
    if not name.startswith("_")
}
"""The answers to the questions, which `cruft update` renders the template with again."""
TEMPLATE = {{ cookiecutter._template | tojson }}
REPO_DIR = {{ cookiecutter.get("_repo_dir", "") | tojson }}
OUTPUT_DIR = {{ cookiecutter.get("_output_dir", "") | tojson }}
# cruft sets _commit and writes .cruft.json itself (`cruft create`), and renders the template
# again for every `cruft update`: then this hook must not write one.
UNDER_CRUFT = {{ "_commit" in cookiecutter }}

# The realistic sample table of each task, and the name of its target column.
SAMPLES = {
    "classification": (Path("src") / PACKAGE / "datasets" / "churn.csv", "churned"),
    "regression": (Path("data") / "sample_regression.csv", "price"),
}


def place_sample_csv(project: Path) -> None:
    """Copy the sample table of this task to ``data/dataset.csv``, with the chosen target name."""
    sample, target = SAMPLES[TASK]
    text = (project / sample).read_text(encoding="utf-8")
    header_line, _, body = text.partition("\n")
    header = next(csv.reader([header_line]))
    header[header.index(target)] = TARGET_COLUMN
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(header)
    (project / "data" / "dataset.csv").write_text(out.getvalue() + body, encoding="utf-8")


def template_source() -> tuple[str, str] | None:
    """The template's git URL (or local path) and commit, if it came from a git repository."""
    # A relative template path is relative to where cookiecutter ran: the shell's PWD (this
    # hook runs in the new project), else the output folder, which defaults to it.
    bases = [Path(os.environ.get("PWD", OUTPUT_DIR)), Path(OUTPUT_DIR)]
    found = [base / REPO_DIR for base in bases if (base / REPO_DIR / "cookiecutter.json").is_file()]
    if not found:
        return None
    repo = found[0]
    git = ["git", "-C", str(repo)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        origin = subprocess.run([*git, "remote", "get-url", "origin"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):  # no git, or not a git repository
        return None
    is_local = not (":" in TEMPLATE or TEMPLATE.startswith("git@"))  # gh:..., https://...
    if is_local or origin.returncode != 0:
        return str(repo.resolve()), commit
    return origin.stdout.strip(), commit


def record_template(project: Path) -> None:
    """Write .cruft.json, as `cruft create` would: `cruft update` takes later template fixes."""
    source = template_source()
    if source is None:
        print("(the template is not a git repository: no .cruft.json, no `cruft update`)")
        return
    template, commit = source
    state = {
        "template": template,
        "commit": commit,
        "checkout": None,
        "context": {"cookiecutter": {**ANSWERS, "_template": template, "_commit": commit}},
        "directory": None,
    }
    (project / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    """Remove unchosen options and tell the learner what to do next."""
    project = Path.cwd()
    if DATASET == "csv":
        place_sample_csv(project)
    (project / SAMPLES["regression"][0]).unlink()
    if TASK == "regression":  # the bundled churn table is a classification dataset
        shutil.rmtree(project / "src" / PACKAGE / "datasets")
    if not KUBERNETES:
        shutil.rmtree(project / "k8s")
    if not UNDER_CRUFT:
        record_template(project)

    print(
        f"""
Created {project}

Next steps:
  cd {SLUG}
  git init -b main && git add -A          # start your repository
  make install                            # create .venv from uv.lock
  make demo                               # train, evaluate, predict, serve, monitor

Read README.md for the five milestones and docs/ for the architecture and runbook.
"""
    )


if __name__ == "__main__":
    main()
