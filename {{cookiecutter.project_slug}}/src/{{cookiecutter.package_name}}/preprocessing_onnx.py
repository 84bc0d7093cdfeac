"""The pipeline's preprocessing compiled to ONNX: exported by ``train``, run by the API.

A call of the scikit-learn pipeline costs about 2 ms whatever its rows, most of it checking
and dispatching in each step of the preprocessing. ONNX Runtime runs the same fitted steps
(imputers, scaler, one-hot encoder) in about a twentieth of that, so the API, which scores
a few rows at a time, serves more requests per core (``make bench`` shows how many more).

- ``train`` exports the fitted preprocessing (skl2onnx) next to ``model.pkl``, and keeps the
  export only if it gives scikit-learn's features on the held-out split. Otherwise the
  version has no export and is served by scikit-learn; training says why.
- The estimator stays scikit-learn's: swap it in ``features.py`` and the export still works.
- ONNX Runtime's imputer computes in float32: the estimator gets features rounded to about 7
  significant digits (the check above bounds the difference), and a number beyond float32's
  range (about 3.4e38) cannot be scored (the API answers 422).
- ``APP_PREPROCESSING_RUNTIME=scikit-learn`` serves without the export.
- Recent ONNX Runtime releases (1.32 here) send usage telemetry to Microsoft from Linux too,
  and keep a device id in ``~/.cache``, unless ``ORT_DISABLE_TELEMETRY=1`` is set before they
  load: this module sets it (set it to 0 yourself to allow telemetry).

skl2onnx is imported only to export, and ONNX Runtime only to serve an export.
"""

import copy
import os
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.schema import FeatureSchema

ONNX_FILE = "preprocessing.onnx"
MISSING_CATEGORY = ""
"""How a missing category reaches ONNX, whose text tensors have no NaN."""
TOLERANCE = 1e-4
"""Largest difference allowed between the exported and scikit-learn's features (relative and
absolute): float32 rounding stays far below it, a wrong export far above."""
OPSET = 17


class ExportError(Exception):
    """The preprocessing cannot be served from ONNX (the message says why)."""


def export_preprocessing(
    pipeline: Pipeline, schema: FeatureSchema, check: npt.NDArray[Any]
) -> bytes:
    """The fitted preprocessing of ``pipeline`` as an ONNX model, checked on ``check`` rows.

    Raises :class:`ExportError` if a step has no ONNX converter or the export's features
    differ from scikit-learn's on ``check``.
    """
    _without_telemetry()  # skl2onnx loads ONNX Runtime
    from skl2onnx import convert_sklearn  # noqa: PLC0415 - 1.5 s, and only train exports
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: PLC0415

    for feature in schema.features:
        if MISSING_CATEGORY in (feature.categories or []):
            raise ExportError(f"feature {feature.name!r} has the empty text as a category")
    fitted = pipeline[:-1]
    preprocessing = _missing_category_as_text(fitted, schema)
    inputs = [
        (
            _input_name(position),
            StringTensorType([None, 1])
            if feature.kind == "categorical"
            else FloatTensorType([None, 1]),
        )
        for position, feature in enumerate(schema.features)
    ]
    try:
        exported: bytes = convert_sklearn(
            preprocessing, initial_types=inputs, target_opset=OPSET
        ).SerializeToString()
        compiled = OnnxPreprocessing(exported, schema)
        features = compiled.transform(check)
    except Exception as exc:  # skl2onnx and ONNX Runtime raise many kinds: all mean "no export"
        raise ExportError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    expected = np.asarray(fitted.transform(check), dtype=np.float64)
    if features.shape != expected.shape or not np.allclose(
        features, expected, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True
    ):
        raise ExportError(
            f"its features differ from scikit-learn's on the held-out split (largest "
            f"difference {_largest_difference(features, expected)}, allowed {TOLERANCE})"
        )
    return exported


class OnnxPreprocessing:
    """An exported preprocessing, ready to turn model input arrays into features."""

    def __init__(self, exported: bytes, schema: FeatureSchema) -> None:
        """Open ``exported`` in ONNX Runtime, on the calling thread only (no thread pool)."""
        _without_telemetry()
        import onnxruntime  # noqa: PLC0415 - only an API or job that serves an export

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # a few rows per call: threads would only spin
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(
            exported, options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [
            (_input_name(position), feature.kind == "categorical")
            for position, feature in enumerate(schema.features)
        ]

    def transform(self, matrix: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """The features of a model input array (features in schema order, as ``to_matrix``)."""
        feeds: dict[str, npt.NDArray[Any]] = {}
        for position, (name, categorical) in enumerate(self._inputs):
            column = matrix[:, position : position + 1]
            if categorical:
                feeds[name] = (
                    np.where(_missing(column), MISSING_CATEGORY, column).astype(str).astype(object)
                )
            else:
                feeds[name] = column.astype(np.float32)
        features: npt.NDArray[np.float32] = self._session.run(None, feeds)[0]
        return features


def _missing(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Where an object array holds None or NaN (NaN is the one value unequal to itself)."""
    none: npt.NDArray[np.bool_] = np.equal(values, np.array(None))
    nan: npt.NDArray[np.bool_] = np.not_equal(values, values)
    return none | nan


def _without_telemetry() -> None:
    """Opt out of ONNX Runtime's telemetry: it reads the variable once, when it loads."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def _missing_category_as_text(preprocessing: Pipeline, schema: FeatureSchema) -> Pipeline:
    """A copy whose imputers of categorical columns look for :data:`MISSING_CATEGORY`."""
    preprocessing = copy.deepcopy(preprocessing)
    categorical = set(schema.positions("categorical"))
    for _, transformer, columns in preprocessing[-1].transformers_:
        if not categorical.issuperset(columns):
            continue
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
        for _, step in steps:
            if isinstance(step, SimpleImputer):
                step.missing_values = MISSING_CATEGORY
    return preprocessing


def _input_name(position: int) -> str:
    return f"feature_{position}"


def _largest_difference(features: npt.NDArray[Any], expected: npt.NDArray[Any]) -> str:
    if features.shape != expected.shape:
        return f"shape {features.shape} against {expected.shape}"
    return f"{float(np.nanmax(np.abs(features - expected))):.3g}"
