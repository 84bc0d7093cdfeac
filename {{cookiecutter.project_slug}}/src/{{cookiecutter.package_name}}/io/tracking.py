"""Experiment tracking: every training is an MLflow run, and its model a registered version.

A run records the estimator and its hyper-parameters, the dataset (as an MLflow dataset
input, with its checksum and row counts), the feature schema, the held-out metrics,
evaluation plots, the git commit and the template version. Open it with ``make mlflow-ui``.
"""

import json
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data import Dataset
{%- if cookiecutter.__task == "classification" %}
from {{ cookiecutter.package_name }}.evaluation import label_codes
{%- endif %}
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
from {{ cookiecutter.package_name }}.model import ModelMetadata
from {{ cookiecutter.package_name }}.train import Split, TrainedModel

TEMPLATE_VERSION = "{{ cookiecutter._template_version }}"
"""The mle-starter template version this project was generated from."""
MAX_PARAM_LENGTH = 6000
"""MLflow refuses longer parameter values."""
SCHEMA_SAMPLE_ROWS = 1_000
"""Rows MLflow infers the dataset input's column types from (see :func:`schema_sample`)."""


def register_trained(
    registry: ModelRegistry, trained: TrainedModel, dataset: Dataset, split: Split, run_name: str
) -> ModelMetadata:
    """Record a fitted model's training as a run; register the model as the next version."""
    tags = {"git_commit": git_commit(), "template_version": TEMPLATE_VERSION}
    with registry.run(run_name, tags) as run_id:
        log_training(registry, run_id, trained, dataset, split)
        onnx = trained.preprocessing_onnx
        return registry.register(
            trained.pipeline, trained.metadata, trained.reference, run_id, onnx
        )


def log_training(
    registry: ModelRegistry, run_id: str, trained: TrainedModel, dataset: Dataset, split: Split
) -> None:
    """Parameters, metrics, the dataset input, the feature schema and the evaluation plots."""
    from mlflow.entities import Metric, Param  # noqa: PLC0415 - MLflow loads only when needed

    client, metadata = registry.client, trained.metadata
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(name, value, now, 0) for name, value in metadata.metrics.items()],
        params=[
            Param(name, str(value)[:MAX_PARAM_LENGTH])
            for name, value in training_params(trained, dataset).items()
        ],
    )
    client.log_dict(run_id, metadata.feature_schema.model_dump(mode="json"), "feature_schema.json")
    client.log_inputs(run_id, datasets=[dataset_input(dataset)])
    for name, figure in evaluation_figures(trained, split).items():
        client.log_figure(run_id, figure, f"evaluation/{name}.png")


def training_params(trained: TrainedModel, dataset: Dataset) -> dict[str, Any]:
    """What the run was trained with: estimator, hyper-parameters, data and features."""
    estimator = trained.pipeline.steps[-1][1]
    metadata = trained.metadata
    hyper = {
        f"model.{name}": value
        for name, value in estimator.get_params(deep=False).items()
        if value is None or isinstance(value, str | int | float | bool)
    }
    kinds: dict[str, int] = {}
    for feature in metadata.feature_schema.features:
        kinds[feature.kind] = kinds.get(feature.kind, 0) + 1
    return {
        "estimator": type(estimator).__name__,
        **hyper,
        "dataset": dataset.source,
        "data_sha256": dataset.sha256,
        "rows": len(dataset.features),
        "training_rows": metadata.training_rows,
        "test_rows": metadata.test_rows,
        "features": len(metadata.feature_schema.features),
        "feature_kinds": ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
        "excluded_columns": ", ".join(c.name for c in metadata.feature_schema.excluded) or "none",
    }


def evaluation_figures(trained: TrainedModel, split: Split) -> dict[str, Any]:
    """Held-out plots by name (none if matplotlib, in the jobs extra, is missing)."""
    try:
        import matplotlib as mpl  # noqa: PLC0415

        mpl.use("Agg")  # files only: no display
        from matplotlib import pyplot as plt  # noqa: PLC0415
        from sklearn.metrics import (  # noqa: PLC0415
{%- if cookiecutter.__task == "classification" %}
            ConfusionMatrixDisplay,
            confusion_matrix,
{%- else %}
            PredictionErrorDisplay,
{%- endif %}
        )
    except ImportError:
        return {}
    features = trained.held_out
    figure, axes = plt.subplots(figsize=(6, 5))
{%- if cookiecutter.__task == "classification" %}
    classes = list(trained.pipeline.classes_)
    actual, predicted, labels = label_codes(
        split.test_target, trained.pipeline.predict(features), classes
    )
    matrix = confusion_matrix(actual, predicted, labels=labels)
    ConfusionMatrixDisplay(matrix, display_labels=classes).plot(ax=axes, colorbar=False)
    axes.set_title(f"Held-out confusion matrix ({len(features)} rows)")
    name = "confusion_matrix"
{%- else %}
    PredictionErrorDisplay.from_predictions(
        np.asarray(split.test_target, dtype=float),
        trained.pipeline.predict(features),
        kind="residual_vs_predicted",
        ax=axes,
    )
    axes.set_title(f"Held-out residuals ({len(features)} rows)")
    name = "residuals"
{%- endif %}
    figure.tight_layout()
    plt.close(figure)
    return {name: figure}


def git_commit() -> str:
    """The commit of the working tree (``unknown`` outside git, e.g. in the image)."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as a learner runs it
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def dataset_input(dataset: Dataset) -> Any:
    """The training table as an MLflow dataset input (name, digest, schema, source, size)."""
    from mlflow.data import sources  # noqa: PLC0415 - its classes are made when it loads
    from mlflow.data.code_dataset_source import CodeDatasetSource  # noqa: PLC0415
    from mlflow.data.pandas_dataset import from_pandas  # noqa: PLC0415
    from mlflow.entities import Dataset as DatasetEntity  # noqa: PLC0415
    from mlflow.entities import DatasetInput, InputTag  # noqa: PLC0415

    table = dataset.features.assign(**{str(dataset.target.name): dataset.target})
    path = Path(dataset.source)
    # A CSV file by its path (as an object: MLflow warns that a path string is ambiguous,
    # mlflow#9702); a dataset that ships with the code by its name.
    source = (
        sources.LocalArtifactDatasetSource(str(path.resolve()))  # type: ignore[attr-defined]
        if path.is_file()
        else CodeDatasetSource({"name": path.name})
    )
    size = {"num_rows": len(table), "num_elements": int(table.size)}  # MLflow's profile fields
    with warnings.catch_warnings():  # MLflow infers the schema when the entity is made
        # Its hint that integer columns cannot hold gaps is about a model's signature, which
        # checks requests (this project's comes from the feature schema): not about a table.
        warnings.filterwarnings("ignore", r"\s*Hint: Inferred schema contains integer", UserWarning)
        logged = from_pandas(
            schema_sample(table),
            source=source,
            name=dataset.source,
            targets=str(dataset.target.name),
            digest=dataset.sha256[:36],
        )
        entity = DatasetEntity(**{**logged.to_dict(), "profile": json.dumps(size)})
    context = InputTag(key="mlflow.data.context", value="training")
    return DatasetInput(dataset=entity, tags=[context])


def schema_sample(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` that give MLflow the whole table's column schema, quickly.

    MLflow infers a column's type, and whether it may be missing, by reading every value in
    Python: 13 s for 1,000,000 rows. These rows hold the first ``SCHEMA_SAMPLE_ROWS``, and
    each column's first value and first gap, so the schema it infers is the whole table's.
    """
    missing = table.isna().to_numpy()
    rows = np.concatenate(
        [
            np.arange(min(len(table), SCHEMA_SAMPLE_ROWS)),
            (~missing).argmax(axis=0),
            missing.argmax(axis=0)[missing.any(axis=0)],
        ]
    )
    return table.iloc[np.unique(rows)]
