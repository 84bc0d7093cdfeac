"""Drop the files of options that were not chosen, then print the next steps.

Cookiecutter runs this inside the freshly generated project folder.
"""

import csv
import io
import shutil
from pathlib import Path

SLUG = {{ cookiecutter.project_slug | tojson }}
TASK = {{ cookiecutter.task | tojson }}
DATASET = {{ cookiecutter.dataset | tojson }}
TARGET_COLUMN = {{ cookiecutter.csv_target_column | tojson }}
KUBERNETES = {{ cookiecutter.kubernetes | tojson }} == "yes"

SAMPLE_TARGET_HEADER = "target"


def place_sample_csv(data_dir: Path) -> None:
    """Keep the sample CSV of this task as ``data/dataset.csv``, with the chosen target name."""
    sample = data_dir / f"sample_{TASK}.csv"
    text = sample.read_text(encoding="utf-8")
    header_line, _, body = text.partition("\n")
    header = next(csv.reader([header_line]))
    header[header.index(SAMPLE_TARGET_HEADER)] = TARGET_COLUMN
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(header)
    (data_dir / "dataset.csv").write_text(out.getvalue() + body, encoding="utf-8")


def main() -> None:
    """Remove unchosen options and tell the learner what to do next."""
    project = Path.cwd()
    data_dir = project / "data"
    if DATASET == "csv":
        place_sample_csv(data_dir)
    for sample in data_dir.glob("sample_*.csv"):
        sample.unlink()
    if not KUBERNETES:
        shutil.rmtree(project / "k8s")

    print(
        f"""
Created {project}

Next steps:
  cd {SLUG}
  git init -b main && git add -A          # start your repository
  make install                            # create .venv and uv.lock (commit uv.lock)
  make demo                               # train, evaluate, predict, serve, monitor

Read README.md for the five milestones and docs/ for the architecture and runbook.
"""
    )


if __name__ == "__main__":
    main()
