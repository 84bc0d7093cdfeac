"""Milestone 5 end to end, through a generated project's command line and real server:
train, serve on 127.0.0.1, calm traffic (no drift), shifted traffic (drift on exactly the
shifted features), retraining behind the gate, the audit log, and the reports; with the
prediction log in SQLite and in PostgreSQL. Then the bad inputs of the drift job.
"""

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from .conftest import TEMPLATE_DIR, free_port, fresh_database, run, stop, wait_until_ready

USER_TABLE = TEMPLATE_DIR / "tests" / "data" / "user_loans.csv"
"""A learner's own table: an ID, categories, empty cells, free text, a string target."""
CSV_PROJECT = {
    "python_version": "3.13",
    "dataset": "csv_classification",
    "csv_target_column": "loan status",
    "kubernetes": "yes",
}
"""The answers of the installed csv project (shared with test_generated_project.py)."""


@dataclass
class Deployment:
    """A generated project's CLI with its own model dir, reports dir and prediction log."""

    project: Path
    root: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['APP_PORT']}"

    @property
    def command(self) -> str:
        """The project's CLI, from its virtualenv."""
        return str(self.project / ".venv" / "bin" / self.project.name)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([self.command, *args], cwd=self.root, env=self.env, check=check)

    def serve(self) -> subprocess.Popen[str]:
        env = {**os.environ, **self.env}
        return subprocess.Popen([self.command, "serve"], cwd=self.root, env=env, text=True)

    @property
    def reports(self) -> Path:
        return Path(self.env["APP_REPORTS_DIR"])


def deployment(project: Path, root: Path, database_url: str) -> Deployment:
    env = {
        "APP_MODEL_DIR": str(root / "models"),
        "APP_REPORTS_DIR": str(root / "reports"),
        "APP_DATABASE_URL": database_url,
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(free_port()),
        "APP_LOG_FLUSH_SECONDS": "0.1",
    }
    return Deployment(project=project, root=root, env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, default_project: Path, tmp_path: Path
) -> Iterator[Deployment]:
    """A trained model served by `serve` on 127.0.0.1, stopped by PID afterwards."""
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'predictions.db'}"
    else:
        database_url = fresh_database(request.getfixturevalue("postgres_url"), "drift_e2e")
    target = deployment(default_project, tmp_path, database_url)
    assert "v1 is the champion" in target.cli("train").stdout
    server = target.serve()
    try:
        wait_until_ready(target.url, server)
        yield target
    finally:
        stop(server)


def new_labelled_data(target: Deployment) -> dict[str, str]:
    """Settings pointing the data source at a CSV: the training data plus 50 new rows.

    Retraining on unchanged data is skipped (it would reproduce the champion), so the test
    refreshes the data, as a team does when new labelled examples arrive.
    """
    path = target.root / "refreshed.csv"
    package = target.project.name.replace("-", "_")
    script = (
        f"import sys, pandas as pd\n"
        f"from {package}.config import Settings\n"
        f"from {package}.data import load_dataset\n"
        f"data = load_dataset(Settings())\n"
        f"table = data.features.assign(target=data.target)\n"
        f"pd.concat([table, table.sample(50, random_state=1)]).to_csv(sys.argv[1], index=False)\n"
    )
    run(
        [str(target.project / ".venv" / "bin" / "python"), "-c", script, str(path)],
        cwd=target.root,
        env=target.env,
    )
    return {"APP_DATASET": "csv", "APP_DATA_PATH": str(path), "APP_TARGET_COLUMN": "target"}


class StructureCheck(HTMLParser):
    """Collects the tags of a document, to check the report is a complete page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


def test_drift_loop(live: Deployment) -> None:
    features = httpx.get(f"{live.url}/model").json()["feature_schema"]["features"]
    feature_names = [f["name"] for f in features]
    shifted = [f["name"] for f in features if f["kind"] == "numeric"][:2]

    live.cli("simulate-traffic", "--url", live.url, "--records", "1000", "--batch-size", "50")
    calm = live.cli("monitor", "--hours", "1", "--max-rows", "1000", check=False)
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert calm.stdout.startswith(f"no drift: 0 of {len(feature_names)} features drifted")

    shifts = [arg for name in shifted for arg in ("--shift", f"{name}=3")]
    live.cli(
        "simulate-traffic",
        "--url",
        live.url,
        "--records",
        "1000",
        "--batch-size",
        "50",
        "--seed",
        "7",
        *shifts,
    )
    live.env["APP_DRIFT_SHARE_THRESHOLD"] = "0.05"
    live.env.update(new_labelled_data(live))
    drifted = live.cli("monitor", "--hours", "1", "--max-rows", "1000", "--retrain", check=False)
    assert drifted.returncode == 3, drifted.stdout + drifted.stderr

    summary = json.loads((live.reports / "latest.json").read_text())
    assert summary["status"] == "drift"
    assert summary["drifted_features"] == shifted
    assert summary["current_rows"] == 1000
    assert {f["column"] for f in summary["features"] if f["drifted"]} == set(shifted)

    audit = [
        json.loads(line) for line in (live.root / "models" / "audit.jsonl").read_text().splitlines()
    ]
    decision = audit[-1]
    assert decision["event"] == "retrain"
    assert decision["trigger"] == f"drift: report {summary['report_html']}"
    assert decision["challenger"] == "v2" and decision["champion"] == "v1"
    assert ("promoted" if decision["promoted"] else "kept v1") in drifted.stdout
    if live.env["APP_DATABASE_URL"].startswith("sqlite"):  # make's two targets, once
        shown = run(["make", "monitor"], cwd=live.project, env=live.env)  # verdict, make ok
        assert re.search(r"^drift: \d+ of \d+ features drifted", shown.stdout, re.MULTILINE)
        assert "(exit status 3 without --exit-zero: `make monitor-check`)" in shown.stdout
        assert "Error" not in shown.stderr
        gate = run(["make", "monitor-check"], cwd=live.project, env=live.env, check=False)
        assert gate.returncode == 2 and "Error 3" in gate.stderr  # CI and cron see the 3
    if decision["promoted"]:  # the running server switches to the new champion by itself
        deadline = time.monotonic() + 30
        while httpx.get(f"{live.url}/ready").json()["model_version"] != "v2":
            assert time.monotonic() < deadline, "the server never picked up v2"
            time.sleep(0.2)

    report = live.reports / summary["report_html"]
    page = report.read_text(encoding="utf-8")
    assert report.stat().st_size > 10_000
    parser = StructureCheck()
    parser.feed(page)
    assert {"html", "head", "body", "script"} <= parser.tags
    assert all(name in page for name in shifted)
    assert not list(live.reports.glob(".*.tmp"))


@pytest.fixture
def trained(default_project: Path, tmp_path: Path) -> Deployment:
    target = deployment(default_project, tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    target.cli("train")
    return target


def test_empty_log_is_not_enough_data_and_writes_no_report(trained: Deployment) -> None:
    result = trained.cli("monitor", check=False)
    assert result.returncode == 4
    assert result.stdout.startswith("not enough data: 0 rows in the window")
    assert not trained.reports.exists()


def test_unknown_columns_are_refused_without_a_report(trained: Deployment, tmp_path: Path) -> None:
    features = json.loads((trained.root / "examples" / "request.json").read_text())["features"]
    rows = tmp_path / "traffic.csv"
    header = ",".join(f'"{name}"' for name in [*features, "surprise"])
    values = ",".join("" if value is None else str(value) for value in [*features.values(), 1.0])
    rows.write_text(header + "\n" + "\n".join([values] * 600) + "\n")
    result = trained.cli("monitor", "--input", str(rows), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "unknown column(s) 'surprise'" in result.stderr
    assert not trained.reports.exists()


def test_corrupt_reference_is_refused_without_a_report(trained: Deployment) -> None:
    [reference] = (trained.root / "models" / "artifacts").glob("*/artifacts/model/reference.csv")
    reference.write_text("\n".join(reference.read_text().splitlines()[:1] + ["1,2"] * 3))
    trained.env["APP_DRIFT_MIN_ROWS"] = "1"
    examples = trained.root / "examples" / "records.csv"
    result = trained.cli("monitor", "--input", str(examples), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: model v1: reference is corrupt (")
    reference.write_bytes(b"\x00\x01 not a table")
    result = trained.cli("monitor", "--input", str(examples), check=False)
    assert result.returncode == 1
    assert "reference.csv is corrupt" in result.stderr
    assert not trained.reports.exists()


@pytest.mark.parametrize("table", ["bundled churn", "user csv"])
def test_real_tables_end_to_end(
    table: str, installed_projects: Callable[..., Path], tmp_path: Path
) -> None:
    """Raw records with categories and gaps are scored; a category shift drifts that column."""
    if table == "bundled churn":
        target = deployment(installed_projects(), tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    else:
        target = deployment(
            installed_projects(**CSV_PROJECT), tmp_path, f"sqlite:///{tmp_path / 'log.db'}"
        )
        target.env.update({"APP_DATA_PATH": str(USER_TABLE), "APP_TARGET_COLUMN": "loan status"})
    trained = target.cli("train")
    assert "v1 is the champion" in trained.stdout
    assert re.search(r"excluded '[^']+': unique text in every row: an ID", trained.stderr)
    predicted = target.cli("predict", str(tmp_path / "examples" / "records.csv"))
    assert len(predicted.stdout.splitlines()) == 5

    server = target.serve()
    try:
        wait_until_ready(target.url, server)
        features = httpx.get(f"{target.url}/model").json()["feature_schema"]["features"]
        category = next(f for f in features if f["kind"] == "categorical")
        nullable = next(f for f in features if f["nullable"])
        record = json.loads((tmp_path / "examples" / "request.json").read_text())["features"]
        record |= {category["name"]: category["categories"][-1], nullable["name"]: None}
        response = httpx.post(f"{target.url}/predict", json={"features": record})
        assert response.status_code == 200, response.text

        calm = ["simulate-traffic", "--url", target.url, "--records", "800", "--batch-size", "50"]
        target.cli(*calm)
        monitor = ["monitor", "--hours", "1", "--max-rows", "800"]
        assert target.cli(*monitor, check=False).returncode == 0
        shift = f"{category['name']}={category['categories'][0]}@0.8"
        target.cli(*calm, "--seed", "3", "--shift", shift)
        target.env["APP_DRIFT_SHARE_THRESHOLD"] = "0.05"
        drifted = target.cli(*monitor, check=False)
        assert drifted.returncode == 3, drifted.stdout + drifted.stderr
        summary = json.loads((target.reports / "latest.json").read_text())
        assert summary["drifted_features"] == [category["name"]]
    finally:
        stop(server)
