"""Load the dataset (bundled, or your CSV) and check the table and its target.

Every check fails with a :class:`DataError` that names the file, the column and the fix,
so a bad file stops the pipeline before anything is trained or written. Which columns
become features, and of which kind, is decided by the ``schema`` module.
"""

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
{%- if cookiecutter.__task == "classification" %}
from importlib import resources
{%- endif %}
from pathlib import Path
from typing import Any

import pandas as pd

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import DataError, first_line
{%- if cookiecutter.__task == "classification" %}
from {{ cookiecutter.package_name }}.feature_values import category_texts
{%- endif %}

MIN_ROWS = 20
{%- if cookiecutter.__task == "classification" %}
MIN_ROWS_PER_CLASS = 2
{%- endif %}


def _sklearn_loader(name: str) -> Callable[[], Any]:
    """A scikit-learn dataset loader, imported only when that dataset is used."""

    def load() -> Any:
        from sklearn import datasets  # noqa: PLC0415 - slow to import; serving never needs it

        return getattr(datasets, f"load_{name}")(as_frame=True)

    return load


BUNDLED_DATASETS: dict[str, Callable[[], Any]] = {
{%- if cookiecutter.__task == "classification" %}
    "breast_cancer": _sklearn_loader("breast_cancer"),
    "wine": _sklearn_loader("wine"),
    "iris": _sklearn_loader("iris"),
{%- else %}
    "diabetes": _sklearn_loader("diabetes"),
{%- endif %}
}
"""Datasets that ship with scikit-learn (no download)."""


@dataclass(frozen=True)
class Dataset:
    """A table's candidate feature columns (raw, any type) and its target."""

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
{%- if cookiecutter.__task == "classification" %}
    if settings.dataset == "churn":
        return load_churn()
{%- endif %}
    return load_bundled(settings.dataset)
{%- if cookiecutter.__task == "classification" %}


def load_churn() -> Dataset:
    """The bundled churn table: synthetic customers with IDs, categories, dates and gaps."""
    with resources.as_file(resources.files(__package__) / "datasets" / "churn.csv") as path:
        return load_csv(path, "churned", source="bundled:churn")
{%- endif %}


def load_bundled(name: str) -> Dataset:
    """Load a dataset that ships inside scikit-learn (no download)."""
    if name not in BUNDLED_DATASETS:
        known = ", ".join(sorted(BUNDLED_DATASETS))
        raise DataError(f"unknown bundled dataset {name!r}: use one of {known}, or csv")
    bunch = BUNDLED_DATASETS[name]()
    features: pd.DataFrame = bunch.data
{%- if cookiecutter.__task == "classification" %}
    labels = {index: str(name) for index, name in enumerate(bunch.target_names)}
    target = bunch.target.map(labels).rename("target")
{%- else %}
    target = bunch.target.astype("float64").rename("target")
{%- endif %}
    return _validated(features, target, source=f"sklearn:{name}")


def load_csv(path: Path, target_column: str, source: str | None = None) -> Dataset:
    """Load candidate features and the target from a CSV file with a header row."""
    source = source or str(path)
    frame = read_table(path)
    if target_column not in frame.columns:
        columns = ", ".join(map(repr, frame.columns))
        raise DataError(
            f"{source}: no target column {target_column!r} (columns: {columns}); "
            "set APP_TARGET_COLUMN to the right name"
        )
    target = frame.pop(target_column)
    if target.isna().any():
        rows = int(target.isna().sum())
        raise DataError(f"{source}: target column {target_column!r} is empty in {rows} row(s)")
{%- if cookiecutter.__task == "classification" %}
    target = category_texts(target)  # 1 and 1.0 (a CSV with gaps elsewhere) are one class
{%- else %}
    numeric_target = pd.to_numeric(target, errors="coerce")
    if numeric_target.isna().any():
        example = target[numeric_target.isna()].iloc[0]
        raise DataError(
            f"{source}: target column {target_column!r} must be numeric for regression "
            f"(found {example!r})"
        )
    target = numeric_target.astype("float64")
{%- endif %}
    return _validated(frame, target, source=source)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV file (UTF-8, one header row), or a JSON file of one or more records."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    if path.suffix.lower() == ".json":
        return _read_json_records(path)
    try:
        header = _header(path)
        frame = pd.read_csv(path, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file has no header row") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
            f"{exc.start}): save it as UTF-8"
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: not a valid CSV file ({first_line(exc)})") from None
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate column name(s) {', '.join(map(repr, duplicates))}")
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    return frame


def _header(path: Path) -> list[str]:
    """The header row as written (pandas renames duplicate names, hiding them)."""
    with path.open(encoding="utf-8", newline="") as file:
        return next(csv.reader(file), [])


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


def _validated(features: pd.DataFrame, target: pd.Series, source: str) -> Dataset:
    if features.shape[1] == 0:
        raise DataError(f"{source}: no columns besides the target")
    if len(features) < MIN_ROWS:
        raise DataError(f"{source}: {len(features)} rows; at least {MIN_ROWS} are needed to train")
{%- if cookiecutter.__task == "classification" %}
    counts = target.value_counts()
    if len(counts) < 2:  # noqa: PLR2004 - a classifier needs two classes
        raise DataError(
            f"{source}: the target {target.name!r} has one class ({counts.index[0]!r}) in every "
            "row; a classifier needs at least two"
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if not rare.empty:
        raise DataError(
            f"{source}: class(es) {', '.join(map(repr, rare.index))} have fewer than "
            f"{MIN_ROWS_PER_CLASS} rows; add rows or drop them"
        )
{%- endif %}
    return Dataset(
        features=features.reset_index(drop=True),
        target=target.reset_index(drop=True),
        source=source,
    )
