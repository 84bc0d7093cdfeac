"""The data a challenger learns from: the training table plus the labelled traffic.

Labels sent back through ``POST /feedback`` turn logged predictions into fresh training rows.
The labelled predictions of the last ``APP_RETRAIN_WINDOW_HOURS`` (whichever version made
them) join the table once there are ``APP_PERFORMANCE_MIN_LABELS`` of them. The split stays
leak-free:

- the table splits as at the first training (same seed: the same held-out rows);
- the traffic splits by time: its newest ``APP_TEST_SIZE`` share is held out, so the gate
  scores both models on predictions made after every labelled one the challenger learned
  from, as it will be used: on what comes next;
- a traffic row with exactly the feature values of a held-out row (the same customer seen
  twice) is not learned from.

The traffic carries ``APP_RETRAIN_TRAFFIC_SHARE`` of the weight, in fitting and in the gate's
held-out scores; the table carries the rest. Recent labels describe today's world, and the
table keeps the cases a week of traffic may not show. When the labels say the relation
between inputs and outcome changed (concept shift), only a large share lets the challenger
learn the new one.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import Dataset
from {{ cookiecutter.package_name }}.monitoring.labels import LABEL_COLUMN, read_labelled
from {{ cookiecutter.package_name }}.monitoring.prediction_log import reading
from {{ cookiecutter.package_name }}.schema import FeatureSchema
from {{ cookiecutter.package_name }}.train import Split, feature_schema, split_dataset


@dataclass(frozen=True)
class TrainingData:
    """What a challenger fits and is scored on, and how much labelled traffic is in it."""

    dataset: Dataset
    split: Split
    schema: FeatureSchema
    labelled_rows: int = 0
    """Labelled predictions in the data (0: the table alone)."""
    held_out_rows: int = 0
    """Of those, the newest ones, held out for the gate."""
    left_out_rows: int = 0
    """Of those, the ones not learned from: copies of held-out rows."""

    def describe(self, available: int, settings: Settings) -> str:
        """One line on what the labelled traffic adds (``available``: how many were read)."""
        window = f"the last {settings.retrain_window_hours:g} h"
        if settings.retrain_traffic_share == 0:
            return "APP_RETRAIN_TRAFFIC_SHARE=0: training on the table alone"
        if self.labelled_rows == 0:
            return (
                f"{available} labelled predictions in {window}, "
                f"{settings.performance_min_labels} needed (APP_PERFORMANCE_MIN_LABELS): "
                "training on the table alone"
            )
        learned = self.labelled_rows - self.held_out_rows - self.left_out_rows
        return (
            f"learning from {learned} labelled predictions of {window} ("
            f"{self.held_out_rows} newer ones held out for the gate, {self.left_out_rows} "
            f"copies of held-out rows left out), weighted {settings.retrain_traffic_share:.0%} "
            "against the table (APP_RETRAIN_TRAFFIC_SHARE)"
        )


def labelled_traffic(settings: Settings) -> pd.DataFrame:
    """The labelled predictions of the last APP_RETRAIN_WINDOW_HOURS, oldest first.

    See ``read_labelled``. None, and the log unread, when APP_RETRAIN_TRAFFIC_SHARE is 0.
    """
    if settings.retrain_traffic_share == 0:
        return pd.DataFrame()
    since = datetime.now(UTC) - timedelta(hours=settings.retrain_window_hours)
    with reading(settings.database_url) as engine:
        return read_labelled(engine, since=since)


def from_table(table: Dataset, settings: Settings) -> TrainingData:
    """The table alone: its inferred schema and its reproducible split."""
    return TrainingData(table, split_dataset(table, settings), feature_schema(table, settings))


def with_labelled_traffic(
    table: TrainingData, traffic: pd.DataFrame, settings: Settings
) -> TrainingData:
    """The ``table``'s split joined by the ``traffic``'s rows, split by time and weighted.

    The table is returned as it is while the traffic is short of the minimum.
    """
    share = settings.retrain_traffic_share
    if share == 0:
        return table
    schema, split = table.schema, table.split
    target = _as_table_labels(traffic[LABEL_COLUMN], table.dataset.target)
    traffic, target = traffic[target.notna().to_numpy()], target.dropna()  # no such class now
    if len(traffic) < settings.performance_min_labels:
        return table
    source = f"{len(traffic)} labelled predictions"
    records = pd.DataFrame.from_records(traffic["features"].tolist())
    features = schema.normalise(records, source)
    held_out = np.arange(len(traffic)) >= round(len(traffic) * (1 - settings.test_size))
    held_rows = int(held_out.sum())
    table_test = schema.normalise(split.test_features, table.dataset.source)
    test_features = pd.concat([table_test, features[held_out]])
    copies = _row_keys(features).isin(_row_keys(test_features)).to_numpy()
    learned = ~held_out & ~copies

    table_train = schema.normalise(split.train_features, table.dataset.source)
    joined = Split(
        train_features=pd.concat([table_train, features[learned]], ignore_index=True),
        test_features=test_features.reset_index(drop=True),
        train_target=pd.concat([split.train_target, target[learned]], ignore_index=True),
        test_target=pd.concat([split.test_target, target[held_out]], ignore_index=True),
        train_weights=_weights(len(split.train_features), int(learned.sum()), share),
        test_weights=_weights(len(split.test_features), held_rows, share),
    )
    dataset = Dataset(
        features=pd.concat([joined.train_features, joined.test_features], ignore_index=True),
        target=pd.concat([joined.train_target, joined.test_target], ignore_index=True),
        source=f"{table.dataset.source} + {source}",
    )
    left_out = int((~held_out & copies).sum())
    return TrainingData(dataset, joined, schema, len(traffic), held_rows, left_out)


def _as_table_labels(labels: pd.Series, table_target: pd.Series) -> pd.Series:
    """The labels with the table's target name and type ({{ "classes matched by their text" if cookiecutter.__task == "classification" else "floats" }})."""
{%- if cookiecutter.__task == "classification" %}
    classes = {str(label): label for label in table_target.unique()}
    values = labels.astype(str).map(classes)
{%- else %}
    values = labels.astype(float)
{%- endif %}
    return pd.Series(values.to_numpy(), name=table_target.name)


def _row_keys(features: pd.DataFrame) -> pd.Series:
    """One hash per row of its feature values: equal rows, equal keys."""
    return pd.util.hash_pandas_object(features.astype(str), index=False)


def _weights(table_rows: int, traffic_rows: int, traffic_share: float) -> pd.Series | None:
    """Row weights (mean 1) that give the traffic ``traffic_share`` of the total."""
    if traffic_rows == 0:
        return None
    total = table_rows + traffic_rows
    weights = np.r_[
        np.full(table_rows, (1 - traffic_share) * total / table_rows if table_rows else 0.0),
        np.full(traffic_rows, traffic_share * total / traffic_rows),
    ]
    return pd.Series(weights)
