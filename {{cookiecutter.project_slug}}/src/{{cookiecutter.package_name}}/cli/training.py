"""The model's commands: train a version, evaluate one, predict a file, retrain behind the gate."""

from __future__ import annotations  # type hints of heavy classes are never evaluated

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.cli.console import (
    reported_errors,
    stderr,
    stdout,
    step,
)
from {{ cookiecutter.package_name }}.config import (
    Settings,
    load_settings,
)

if TYPE_CHECKING:
    from {{ cookiecutter.package_name }}.data import Dataset
    from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
    from {{ cookiecutter.package_name }}.model import ModelMetadata
    from {{ cookiecutter.package_name }}.monitoring.retraining import GateDecision
    from {{ cookiecutter.package_name }}.monitoring.retraining_data import TrainingData

app = typer.Typer()
DISPLAY_DECIMALS = 4
"""Decimals of the numbers that ``predict`` prints (not of what it writes to ``--output``)."""


def load_data(settings: Settings) -> Dataset:
    """Load the configured dataset, showing progress."""
    from {{ cookiecutter.package_name }}.data import load_dataset

    with step(f"Loading the {settings.dataset} dataset"):
        return load_dataset(settings)


def train_challenger(
    settings: Settings, registry: ModelRegistry, data: TrainingData, run_name: str
) -> ModelMetadata:
    """Fit and evaluate a new model on ``data``; record the run and register the model.

    The new version is the ``challenger``, not yet promoted.
    """
    from {{ cookiecutter.package_name }}.examples import write_examples
    from {{ cookiecutter.package_name }}.io.tracking import register_trained
    from {{ cookiecutter.package_name }}.train import fit_model, with_onnx_export

    dataset, split, schema = data.dataset, data.split, data.schema
    kinds = Counter(feature.kind for feature in schema.features)
    stderr.print(
        f"- {len(schema.features)} features ("
        + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        + ")",
        markup=False,
    )
    for column in schema.excluded:
        stderr.print(f"- excluded {column.name!r}: {column.reason}", markup=False)
    with step(
        f"Fitting on the training split ({len(split.train_features)} of "
        f"{len(dataset.features)} rows), evaluating on the other {len(split.test_features)}"
    ):
        trained = fit_model(dataset, split, settings, schema)
    with step("Exporting the preprocessing to ONNX (for the API), checked on the held-out split"):
        trained = with_onnx_export(trained)
    with step(f"Recording the run and registering the model in MLflow ({registry.where})"):
        metadata = register_trained(registry, trained, dataset, split, run_name)
    written = write_examples(schema, split.test_features, settings.examples_dir)
    stderr.print(f"- examples for this model: {', '.join(map(str, written))}", markup=False)
    stderr.print(f"- run: {registry.run_url(metadata.run_id)}", markup=False)
    stdout.print(f"{metadata.version}: " + _format_metrics(metadata.metrics))
    return metadata


@app.command()
def train(
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Make the new version the champion. Default: only if there is none yet.",
        ),
    ] = None,
    if_missing: Annotated[
        bool,
        typer.Option(
            "--if-missing",
            help="Train only if there is no champion yet; if there is one, make sure that "
            "its copy for the API is in APP_MODEL_DIR.",
        ),
    ] = False,
) -> None:
    """Train a new model version on the configured dataset."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        settings = load_settings()
        registry = open_registry(settings)
        champion = registry.sync_copy() if if_missing else registry.champion()
        if if_missing and champion is not None:
            stdout.print(f"champion {champion} exists and is copied for serving: nothing to train")
            return
        metadata = train_challenger(settings, registry, _table(settings), "train")
        if promote or (promote is None and champion is None):
            registry.promote(metadata.version, reason="train")
            stdout.print(f"{metadata.version} is the champion")
        else:
            stdout.print(
                f"{metadata.version} registered; {champion} is still the champion "
                f"(`promote {metadata.version}` to serve it, or `retrain` to gate it)"
            )


@app.command("evaluate")
def evaluate_command(
    version: Annotated[str | None, typer.Argument(help="Default: the champion.")] = None,
) -> None:
    """Score a model version on the held-out split of the configured dataset."""
    with reported_errors():
        from {{ cookiecutter.package_name }}.data import load_dataset
        from {{ cookiecutter.package_name }}.evaluation import evaluate
        from {{ cookiecutter.package_name }}.io.registry import open_registry
        from {{ cookiecutter.package_name }}.train import split_dataset

        settings = load_settings()
        registry = open_registry(settings)
        model = registry.load(version or registry.require_champion())
        with step(f"Evaluating {model.version} on the held-out split"):
            split = split_dataset(load_dataset(settings), settings)
            schema = model.metadata.feature_schema
            features = schema.to_matrix(split.test_features, "held-out split")
            metrics = evaluate(model.pipeline, features, split.test_target)
        table = Table("metric", "now", "at training", title=f"model {model.version}")
        for name, value in metrics.items():
            at_training = model.metadata.metrics.get(name, float("nan"))
            table.add_row(name, f"{value:.4f}", f"{at_training:.4f}")
        stdout.print(table)


@app.command()
def predict(
    input_path: Annotated[Path, typer.Argument(help="CSV file, or JSON record(s).")],
    version: Annotated[str | None, typer.Option(help="Default: the champion.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write a CSV of the inputs with predictions here.")
    ] = None,
) -> None:
    """Predict every record of a file; print one JSON line per record (or write --output)."""
    with reported_errors():
        import pandas as pd

        from {{ cookiecutter.package_name }}.data import read_table
        from {{ cookiecutter.package_name }}.io.registry import open_registry

        settings = load_settings()
        registry = open_registry(settings)
        model = registry.load(version or registry.require_champion())
        records = read_table(input_path)
        predictions = model.predict(records, source=str(input_path))
        if output is None:
            for prediction in predictions:
                shown = _rounded(prediction.model_dump())
                typer.echo(json.dumps(shown, ensure_ascii=False, separators=(",", ":")))
            return
        outputs = pd.json_normalize([p.model_dump() for p in predictions], sep="_")
        write_atomic(output, pd.concat([records, outputs], axis=1).to_csv(index=False))
        stderr.print(f"{len(predictions)} predictions by {model.version} written to {output}")


def _rounded(value: object) -> object:
    """Floats to DISPLAY_DECIMALS places, for reading (``--output`` keeps every digit)."""
    if isinstance(value, float):
        return round(value, DISPLAY_DECIMALS)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


@app.command()
def retrain(
    reason: Annotated[str, typer.Option(help="Recorded in the audit log.")] = "manual retraining",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Train even if a version was trained on this data with these settings "
            "(after changing the code, say).",
        ),
    ] = False,
) -> None:
    """Train a challenger and promote it only if it is at least as good as the champion."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        settings = load_settings()
        retrain_behind_gate(settings, open_registry(settings), reason, force=force)


def _table(settings: Settings) -> TrainingData:
    """The configured dataset, its schema and its split."""
    from {{ cookiecutter.package_name }}.monitoring.retraining_data import from_table

    table = load_data(settings)
    with step(f"Inferring the feature schema from its {len(table.features)} rows, splitting them"):
        return from_table(table, settings)


def retrain_behind_gate(
    settings: Settings, registry: ModelRegistry, trigger: str, *, force: bool = False
) -> GateDecision:
    """Fit a challenger on the table and the labelled traffic; promote it if the gate passes it.

    Unless ``force``, skipped when a version was already trained on this data with these
    settings (see ``monitoring.retraining.skip_already_trained``).
    """
    from {{ cookiecutter.package_name }}.monitoring.retraining import (
        challenge,
        skip_already_trained,
    )
    from {{ cookiecutter.package_name }}.monitoring.retraining_data import (
        labelled_traffic,
        with_labelled_traffic,
    )
    from {{ cookiecutter.package_name }}.train import training_settings_sha256

    table = _table(settings)
    traffic = labelled_traffic(settings)
    data = with_labelled_traffic(table, traffic, settings)
    stderr.print(f"- {data.describe(len(traffic), settings)}", markup=False)
    fingerprints = data.dataset.sha256, training_settings_sha256(settings)
    decision = None if force else skip_already_trained(registry, *fingerprints, trigger)
    if decision is None:
        metadata = train_challenger(settings, registry, data, "retrain")
        decision = challenge(
            registry, metadata, data.split, settings.gate_tolerance, trigger, data.labelled_rows
        )
    verdict = "promoted" if decision.promoted else f"kept {decision.champion}"
    stdout.print(f"{verdict}: {decision.reason}")
    return decision


def _format_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in metrics.items())
