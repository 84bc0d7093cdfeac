"""Experiment tracking end to end: two trainings from the CLI, read back through MLflow's client,
and a running app that follows the champion alias both ways without a restart."""

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_csv, load_dataset
from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC
from {{ cookiecutter.package_name }}.io.registry import CHAMPION, open_registry
from {{ cookiecutter.package_name }}.io.tracking import (
    SCHEMA_SAMPLE_ROWS,
    TEMPLATE_VERSION,
    dataset_input,
)
from {{ cookiecutter.package_name }}.serving.app import create_app

from .helpers import refreshed_data, wait_for_version

{% if cookiecutter.__task == "classification" -%}
PLOT = "evaluation/confusion_matrix.png"
{%- else -%}
PLOT = "evaluation/residuals.png"
{%- endif %}


def test_two_trainings_are_two_runs_two_versions_and_the_gate_picks_the_champion(
    cli: CliRunner, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cli.invoke(app, ["train"])
    assert first.exit_code == 0, first.output
    assert "- run: http://127.0.0.1:5000/#/experiments/" in first.stderr
    for name, value in refreshed_data(settings, tmp_path / "fresh.csv").items():
        monkeypatch.setenv(name, value)
    second = cli.invoke(app, ["retrain", "--reason", "fresh labels"])
    assert second.exit_code == 0, second.output

    registry = open_registry(settings)
    client = registry.client
    experiment = client.get_experiment_by_name(settings.model_name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert [run.info.run_name for run in runs] == ["train", "retrain"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert set(run.data.metrics) >= {PRIMARY_METRIC}
        assert run.data.params["estimator"]
        assert run.data.tags["template_version"] == TEMPLATE_VERSION
        assert run.data.tags["git_commit"]
        assert run.inputs is not None
        assert [i.dataset.digest for i in run.inputs.dataset_inputs] == [
            run.data.params["data_sha256"][:36]
        ]
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"model", "evaluation", "feature_schema.json"} <= files
        assert PLOT in {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
        model_files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
        assert {"model/MLmodel", "model/model.pkl", "model/reference.csv"} <= model_files

    versions = client.search_model_versions(f"name = '{settings.model_name}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    [decision] = [e for e in audit.read(registry.audit_log) if e["event"] == "retrain"]
    gate_tags = runs[1].data.tags
    assert gate_tags["gate.promoted"] == str(decision["promoted"])
    assert gate_tags["gate.champion"] == "v1"
    chosen = "2" if decision["promoted"] else "1"
    assert str(client.get_model_version_by_alias(settings.model_name, CHAMPION).version) == chosen

    with TestClient(create_app(settings)) as http:  # polls the alias every 0.1 s
        served = http.get("/model").json()
        assert served["mlflow_version"] == int(chosen)
        assert served["run_id"] == runs[int(chosen) - 1].info.run_id
        assert served["run_url"].endswith(f"/runs/{served['run_id']}")
        # Move the alias both ways from the CLI; the running app follows each move. (The
        # 20 repeated rows of the fresh data can make an ID column a feature: a new schema.)
        promote = ["promote", "v2", "--allow-schema-change"]
        moves = [["rollback"], promote] if decision["promoted"] else [promote, ["rollback"]]
        for move in moves:
            before = http.get("/ready").json()["model_version"]
            result = cli.invoke(app, move)
            assert result.exit_code == 0, result.output
            wait_for_version(http, "v1" if before == "v2" else "v2")


def test_a_runs_dataset_input_describes_the_whole_table(settings: Settings, tmp_path: Path) -> None:
    """The schema MLflow infers from a few rows of the table is the one it infers from all of
    them; the row count is the whole table's; a CSV file is the source; MLflow warns nothing."""
    from mlflow.data import sources  # noqa: PLC0415
    from mlflow.data.pandas_dataset import from_pandas  # noqa: PLC0415

    dataset = load_dataset(settings)
    table = dataset.features.assign(**{str(dataset.target.name): dataset.target})
    gappy = table.isna().any(axis=1)  # every gap after the first rows, which MLflow reads
    head = table[~gappy].sample(3 * SCHEMA_SAMPLE_ROWS, replace=True, random_state=0)
    path = tmp_path / "table.csv"
    pd.concat([head, table[gappy]]).to_csv(path, index=False)
    large = load_csv(path, str(dataset.target.name))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entity = dataset_input(large).dataset
    # Neither that a path string is ambiguous (mlflow#9702) nor that integers cannot hold gaps.
    assert not [str(w.message) for w in caught if issubclass(w.category, UserWarning)]

    whole = large.features.assign(**{str(large.target.name): large.target})
    source = sources.LocalArtifactDatasetSource(str(path))  # type: ignore[attr-defined]
    with warnings.catch_warnings():  # MLflow's own inference to compare with: its hints aside
        warnings.simplefilter("ignore", UserWarning)
        inferred = from_pandas(whole, source=source).schema
    assert inferred is not None
    assert json.loads(entity.schema) == {"mlflow_colspec": inferred.to_dict()}
    assert json.loads(entity.profile) == {"num_rows": len(whole), "num_elements": whole.size}
    assert json.loads(entity.source) == {"uri": str(path.resolve())}
