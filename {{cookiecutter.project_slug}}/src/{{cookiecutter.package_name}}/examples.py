"""Example inputs drawn from the data a model was trained on, rewritten by every ``train``.

``examples/records.csv`` (for ``predict``), ``examples/request.json`` (for ``/predict``) and
``examples/batch.json`` (for ``/predict/batch``) always match the champion's features, on
whatever table you train: held-out rows, one with a missing value where the data has gaps.
"""

import json
from pathlib import Path

import pandas as pd

from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.schema import FeatureSchema

EXAMPLE_ROWS = 5


def example_rows(schema: FeatureSchema, held_out: pd.DataFrame) -> pd.DataFrame:
    """A few held-out rows of the schema's features, with a gap among them if there is one."""
    features = held_out[schema.names]
    gaps = features.isna().any(axis=1)
    chosen = pd.concat([features[gaps].head(1), features[~gaps].head(EXAMPLE_ROWS)])
    return chosen.head(EXAMPLE_ROWS)


def write_examples(schema: FeatureSchema, held_out: pd.DataFrame, directory: Path) -> list[Path]:
    """Write the three example files (each atomically); return their paths."""
    rows = example_rows(schema, held_out)
    records = schema.records(rows, "held-out split")
    files = {
        directory / "records.csv": rows.to_csv(index=False),
        directory / "request.json": json.dumps({"features": records[0]}, indent=2) + "\n",
        directory / "batch.json": json.dumps({"records": records}, indent=2) + "\n",
    }
    for path, text in files.items():
        write_atomic(path, text)
    return list(files)
