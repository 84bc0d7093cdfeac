"""Load the dataset (bundled with scikit-learn, or your CSV) and validate its schema.

Every check fails with a :class:`DataError` that names the file, the column and the fix,
so a bad file stops the pipeline before anything is trained or written.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
{%- if cookiecutter.task == "classification" %}
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
{%- else %}
from sklearn.datasets import load_diabetes
{%- endif %}

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import DataError

PREDICTION_COLUMN = "prediction"
"""Name of the model-output column in reference and monitoring frames."""

MIN_ROWS = 20
{%- if cookiecutter.task == "classification" %}
MIN_ROWS_PER_CLASS = 2

BUNDLED_DATASETS: dict[str, Callable[..., Any]] = {
    "breast_cancer": load_breast_cancer,
    "wine": load_wine,
    "iris": load_iris,
}
{%- else %}

BUNDLED_DATASETS: dict[str, Callable[..., Any]] = {"diabetes": load_diabetes}
{%- endif %}


@dataclass(frozen=True)
class Dataset:
    """Validated numeric features and their target."""

    features: pd.DataFrame
    target: pd.Series
    source: str

    @cached_property
    def sha256(self) -> str:
        """A fingerprint of the data (names and values): same data, same fingerprint."""
        table = self.features.assign(**{f"target:{self.target.name}": self.target})
        digest = hashlib.sha256("\x1f".join(map(str, table.columns)).encode())
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
        return digest.hexdigest()


def load_dataset(settings: Settings) -> Dataset:
    """Load the dataset the settings name: a bundled one, or the CSV at ``data_path``."""
    if settings.dataset == "csv":
        return load_csv(settings.data_path, settings.target_column)
    return load_bundled(settings.dataset)


def load_bundled(name: str) -> Dataset:
    """Load a dataset that ships inside scikit-learn (no download)."""
    if name not in BUNDLED_DATASETS:
        known = ", ".join(sorted(BUNDLED_DATASETS))
        raise DataError(f"unknown bundled dataset {name!r}: use one of {known}, or csv")
    bunch = BUNDLED_DATASETS[name](as_frame=True)
    features: pd.DataFrame = bunch.data
{%- if cookiecutter.task == "classification" %}
    labels = {index: str(name) for index, name in enumerate(bunch.target_names)}
    target = bunch.target.map(labels).rename("target")
{%- else %}
    target = bunch.target.astype("float64").rename("target")
{%- endif %}
    return _validated(features, target, source=f"sklearn:{name}")


def load_csv(path: Path, target_column: str) -> Dataset:
    """Load features and target from a CSV file with a header row."""
    frame = read_table(path)
    if target_column not in frame.columns:
        columns = ", ".join(map(repr, frame.columns))
        raise DataError(
            f"{path}: no target column {target_column!r} (columns: {columns}); "
            "set APP_TARGET_COLUMN to the right name"
        )
    target = frame.pop(target_column)
    if target.isna().any():
        rows = int(target.isna().sum())
        raise DataError(f"{path}: target column {target_column!r} is empty in {rows} row(s)")
{%- if cookiecutter.task == "classification" %}
    target = target.astype(str)
{%- else %}
    numeric_target = pd.to_numeric(target, errors="coerce")
    if numeric_target.isna().any():
        raise DataError(f"{path}: target column {target_column!r} must be numeric for regression")
    target = numeric_target.astype("float64")
{%- endif %}
    return _validated(frame, target, source=str(path))


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV file, or a JSON file holding one record or a list of records."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    if path.suffix.lower() == ".json":
        return _read_json_records(path)
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file has no header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise DataError(f"{path}: not a valid CSV file ({reason})") from None
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    return frame


def _read_json_records(path: Path) -> pd.DataFrame:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(payload, dict):  # an API body ({"features": ...} or {"records": ...}) or a record
        payload = payload["records"] if "records" in payload else [payload.get("features", payload)]
    if not isinstance(payload, list) or not payload:
        raise DataError(f"{path}: expected a record or a non-empty list of records")
    if not all(isinstance(record, dict) for record in payload):
        raise DataError(f"{path}: every record must be a JSON object of feature values")
    return pd.DataFrame.from_records(payload)


def validate_features(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check that every column is numeric and finite; return the frame as float64."""
    if frame.shape[1] == 0:
        raise DataError(f"{source}: no feature columns")
    if PREDICTION_COLUMN in frame.columns:
        raise DataError(f"{source}: rename column {PREDICTION_COLUMN!r}: the name is reserved")
    non_numeric = [
        str(name)
        for name, dtype in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ]
    if non_numeric:
        raise DataError(
            f"{source}: non-numeric column(s) {', '.join(map(repr, non_numeric))}: "
            "encode them as numbers or drop them"
        )
    values = frame.to_numpy(dtype="float64")  # one pass over all columns: this is on the hot path
    if not np.isfinite(values).all():
        missing = dict(zip(frame.columns, np.isnan(values).sum(axis=0), strict=True))
        if any(missing.values()):
            described = ", ".join(f"{name!r} ({n} rows)" for name, n in missing.items() if n)
            raise DataError(f"{source}: missing values (NaN) in {described}: fill or drop them")
        infinite = [
            str(name)
            for name, column in zip(frame.columns, values.T, strict=True)
            if np.isinf(column).any()
        ]
        raise DataError(f"{source}: infinite values in {', '.join(map(repr, infinite))}")
    return pd.DataFrame(values, columns=frame.columns, index=frame.index)


def _validated(features: pd.DataFrame, target: pd.Series, source: str) -> Dataset:
    features = validate_features(features, source)
    if len(features) < MIN_ROWS:
        raise DataError(f"{source}: {len(features)} rows; at least {MIN_ROWS} are needed to train")
{%- if cookiecutter.task == "classification" %}
    counts = target.value_counts()
    if len(counts) < 2:  # noqa: PLR2004 - a classifier needs two classes
        raise DataError(f"{source}: the target has one class ({counts.index[0]!r}); need two")
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if not rare.empty:
        raise DataError(
            f"{source}: class(es) {', '.join(map(repr, rare.index))} have fewer than "
            f"{MIN_ROWS_PER_CLASS} rows; add rows or drop them"
        )
{%- endif %}
    return Dataset(features=features, target=target.reset_index(drop=True), source=source)
