"""The preprocessing's ONNX export: the same features and predictions as scikit-learn's."""

import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.preprocessing_onnx import (
    TOLERANCE,
    ExportError,
    OnnxPreprocessing,
    export_preprocessing,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureSchema
from {{ cookiecutter.package_name }}.train import (
    TrainedModel,
    fit_model,
    split_dataset,
    with_onnx_export,
)

from .helpers import assert_predictions_alike, isolated_settings


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """The configured dataset's model (not exported yet), fitted once."""
    settings = isolated_settings(tmp_path_factory.mktemp("onnx"))
    dataset = load_dataset(settings)
    return fit_model(dataset, split_dataset(dataset, settings), settings)


@pytest.fixture(scope="module")
def exported(fitted: TrainedModel) -> TrainedModel:
    """The module's model with its preprocessing exported to ONNX."""
    trained = with_onnx_export(fitted)
    assert trained.preprocessing_onnx is not None
    return trained


def test_the_export_gives_scikit_learns_features_and_predictions(
    exported: TrainedModel, settings: Settings
) -> None:
    """On every row of the table, plus gaps in every column and categories never seen."""
    trained = exported
    assert trained.preprocessing_onnx is not None
    schema = trained.metadata.feature_schema
    features = load_dataset(settings).features
    matrix = np.concatenate([schema.to_matrix(features, "table"), gaps_and_unknowns(schema)])
    compiled = OnnxPreprocessing(trained.preprocessing_onnx, schema)
    features_expected = np.asarray(trained.pipeline[:-1].transform(matrix), dtype=np.float64)
    np.testing.assert_allclose(
        compiled.transform(matrix), features_expected, rtol=TOLERANCE, atol=TOLERANCE
    )

    onnx = LoadedModel(trained.metadata, trained.pipeline, compiled)
    scikit_learn = LoadedModel(trained.metadata, trained.pipeline)
    served, expected = onnx.predict_matrix(matrix), scikit_learn.predict_matrix(matrix)
    assert_predictions_alike([p.model_dump() for p in served], [p.model_dump() for p in expected])


def test_a_step_without_an_onnx_converter_leaves_scikit_learns_preprocessing(
    fitted: TrainedModel, caplog: pytest.LogCaptureFixture
) -> None:
    """A learner's own step (here a FunctionTransformer): no export, and a warning says why."""
    trained = fitted
    schema = trained.metadata.feature_schema
    matrix = schema.to_matrix(trained.reference, "reference")
    custom = clone(trained.pipeline)
    custom.steps[0] = (
        "preprocess",
        ColumnTransformer(
            [
                (
                    "numeric",
                    make_pipeline(
                        SimpleImputer(strategy="median"),
                        FunctionTransformer(np.abs),
                        StandardScaler(),
                    ),
                    schema.positions("numeric"),
                )
            ]
        ),
    )
    custom.fit(matrix, trained.reference[PREDICTION_COLUMN])
    with pytest.raises(ExportError, match="FunctionTransformer"):
        export_preprocessing(custom, schema, matrix)
    with caplog.at_level(logging.WARNING):
        unexported = with_onnx_export(replace(trained, pipeline=custom))
    assert unexported.preprocessing_onnx is None
    assert "no ONNX export of the preprocessing" in caplog.text
    assert "FunctionTransformer" in caplog.text


def test_onnx_runtime_sends_no_telemetry(exported: TrainedModel, tmp_path: Path) -> None:
    """ONNX Runtime's telemetry is on by default on Linux (1.32): the project turns it off.

    Turned on, it keeps a device id and an event queue in ``~/.cache`` and uploads them. The
    API's process starts without CI's variables here: ONNX Runtime is silent on CI anyway.
    """
    assert exported.preprocessing_onnx is not None
    (tmp_path / "preprocessing.onnx").write_bytes(exported.preprocessing_onnx)
    (tmp_path / "schema.json").write_text(exported.metadata.feature_schema.model_dump_json())
    home = tmp_path / "home"
    home.mkdir()
    serve_an_export = (
        "import pathlib, sys\n"
        f"from {OnnxPreprocessing.__module__} import OnnxPreprocessing\n"
        f"from {FeatureSchema.__module__} import FeatureSchema\n"
        "folder = pathlib.Path(sys.argv[1])\n"
        "schema = FeatureSchema.model_validate_json((folder / 'schema.json').read_text())\n"
        "OnnxPreprocessing((folder / 'preprocessing.onnx').read_bytes(), schema)\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", serve_an_export, str(tmp_path)],
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert "telemetry" not in started.stderr
    assert list(home.rglob("*")) == []


def gaps_and_unknowns(schema: FeatureSchema) -> npt.NDArray[Any]:
    """One row with every feature missing, one with an unseen category in each categorical."""
    unknown = [
        "never seen" if feature.kind == "categorical" else 1.0 for feature in schema.features
    ]
    return np.array([[np.nan] * len(schema.features), unknown], dtype=object)
