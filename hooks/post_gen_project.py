"""Drop the files of options that were not chosen, then print the next steps.

Cookiecutter runs this inside the freshly generated project folder.
"""

import csv
import io
import shutil
from pathlib import Path

SLUG = {{ cookiecutter.project_slug | tojson }}
TASK = {{ cookiecutter.task | tojson }}
PACKAGE = {{ cookiecutter.package_name | tojson }}
DATASET = {{ cookiecutter.dataset | tojson }}
TARGET_COLUMN = {{ cookiecutter.csv_target_column | tojson }}
KUBERNETES = {{ cookiecutter.kubernetes | tojson }} == "yes"

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
