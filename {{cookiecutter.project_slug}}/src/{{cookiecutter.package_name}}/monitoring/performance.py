"""Live performance: the champion's metrics on the labelled traffic, against its held-out ones.

Labels come back after the predictions (POST /feedback). Once the predictions of the last
``APP_PERFORMANCE_WINDOW_HOURS`` hold at least ``APP_PERFORMANCE_MIN_LABELS`` labelled ones
made by the champion, its primary metric on them is compared with the one measured on the
held-out split at training: worse by more than ``APP_PERFORMANCE_MAX_DROP`` (a share of the
held-out value) is a verdict of its own, "performance degraded". Input drift can't see
every such drop: when the relation between inputs and label changes (concept shift), the
inputs look the same and only the labels tell.

{% if cookiecutter.__task == "classification" -%}
The live metrics are the held-out ones. The log holds each prediction, not its probabilities:
ROC-AUC scores the logged features again with the champion (the same version gives the same
probabilities), and is left out while the labels lack a class (it is undefined then).
{%- else -%}
The live metrics are the held-out ones, each comparing the logged prediction with the label.
{%- endif %}
"""

import warnings
from datetime import UTC, datetime, timedelta
from typing import Literal

import pandas as pd
{%- if cookiecutter.__task == "classification" %}
from evidently import (
    BinaryClassification,
    DataDefinition,
    Dataset,
    MulticlassClassification,
    Report,
)
from evidently.presets import ClassificationPreset
{%- else %}
from evidently import DataDefinition, Dataset, Regression, Report
from evidently.presets import RegressionPreset
{%- endif %}
from pydantic import BaseModel
from sklearn.exceptions import UndefinedMetricWarning

from {{ cookiecutter.package_name }}.evaluation import (
    HIGHER_IS_BETTER,
    PRIMARY_METRIC,
{%- if cookiecutter.__task == "classification" %}
    roc_auc,
{%- endif %}
    score_labels,
)
from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata
from {{ cookiecutter.package_name }}.monitoring.labels import LABEL_COLUMN, read_labelled
from {{ cookiecutter.package_name }}.monitoring.prediction_log import reading
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

PerformanceStatus = Literal["ok", "degraded", "insufficient_labels"]


class LivePerformance(BaseModel):
    """The champion's metrics on labelled traffic, and the verdict."""

    status: PerformanceStatus
    model_version: str
    labelled_rows: int
    min_labels: int
    metric: str
    max_drop: float
    live: dict[str, float] = {}
    held_out: dict[str, float] = {}

    @property
    def degraded(self) -> bool:
        """Whether the primary metric dropped by more than the allowed share."""
        return self.status == "degraded"

    def headline(self) -> str:
        """The outcome in one line."""
        if self.status == "insufficient_labels":
            return (
                f"performance: not enough labels: {self.labelled_rows} labelled predictions "
                f"of {self.model_version}, {self.min_labels} needed (APP_PERFORMANCE_MIN_LABELS)"
            )
        live, held_out = self.live[self.metric], self.held_out[self.metric]
        verdict = "degraded" if self.degraded else "ok"
        return (
            f"performance {verdict}: {self.metric} {live:.4f} on {self.labelled_rows} labelled "
            f"predictions, {held_out:.4f} held out (allowed drop {self.max_drop:.0%})"
        )


def own_rows(labelled: pd.DataFrame, model: ModelMetadata) -> pd.DataFrame:
    """The labelled predictions that ``model`` made (other versions' rows are left out)."""
    return labelled[labelled["model_version"] == model.version]


def assess(
    labelled: pd.DataFrame, model: LoadedModel, min_labels: int, max_drop: float
) -> LivePerformance:
    """Score ``model``'s labelled predictions (other versions' rows are left out)."""
    own = own_rows(labelled, model.metadata)
    verdict = LivePerformance(
        status="insufficient_labels",
        model_version=model.version,
        labelled_rows=len(own),
        min_labels=min_labels,
        metric=PRIMARY_METRIC,
        max_drop=max_drop,
        held_out=model.metadata.metrics,
    )
    if len(own) < min_labels:
        return verdict
{%- if cookiecutter.__task == "classification" %}
    labels = own[LABEL_COLUMN].astype(str)
    live = score_labels(labels, own[PREDICTION_COLUMN].astype(str))
    if labels.nunique() == len(model.metadata.classes):
        live["roc_auc"] = _live_roc_auc(own, labels, model)
{%- else %}
    live = score_labels(own[LABEL_COLUMN].astype(float), own[PREDICTION_COLUMN].astype(float))
{%- endif %}
    held_out = model.metadata.metrics[PRIMARY_METRIC]
    if HIGHER_IS_BETTER:
        degraded = live[PRIMARY_METRIC] < held_out * (1 - max_drop)
    else:
        degraded = live[PRIMARY_METRIC] > held_out * (1 + max_drop)
    status: PerformanceStatus = "degraded" if degraded else "ok"
    return verdict.model_copy(update={"status": status, "live": live})


{%- if cookiecutter.__task == "classification" %}


def _live_roc_auc(own: pd.DataFrame, labels: pd.Series, model: LoadedModel) -> float:
    """ROC-AUC of ``model`` on its labelled predictions, their features scored again.

    ``labels``: the true labels of ``own``, as text (how the log keeps them).
    """
    records = pd.DataFrame.from_records(own["features"].tolist())
    matrix = model.metadata.feature_schema.to_matrix(records, "labelled predictions")
    as_trained = {str(label): label for label in model.pipeline.classes_}
    return roc_auc(model.pipeline, matrix, labels.map(as_trained))
{%- endif %}


def from_prediction_log(
    database_url: str, hours: float, model: LoadedModel, min_labels: int, max_drop: float
) -> tuple[LivePerformance, pd.DataFrame]:
    """Assess ``model`` on its predictions of the last ``hours`` that got a label.

    Returns the verdict and the labelled predictions it read.
    """
    since = datetime.now(UTC) - timedelta(hours=hours)
    with reading(database_url) as engine:
        labelled = read_labelled(engine, since)
    return assess(labelled, model, min_labels, max_drop), labelled


def evidently_report_html(labelled: pd.DataFrame, model: ModelMetadata) -> str:
    """Evidently's {{ cookiecutter.__task }} report of ``model``'s labelled predictions, as a page."""
{%- if cookiecutter.__task == "classification" %}
    frame = own_rows(labelled, model)[[LABEL_COLUMN, PREDICTION_COLUMN]].astype(str)
    task: BinaryClassification | MulticlassClassification
    if len(model.classes) == 2:  # noqa: PLR2004 - Evidently's binary metrics need the positive class
        task = BinaryClassification(
            target=LABEL_COLUMN, prediction_labels=PREDICTION_COLUMN, pos_label=model.classes[1]
        )
    else:
        task = MulticlassClassification(target=LABEL_COLUMN, prediction_labels=PREDICTION_COLUMN)
    definition = DataDefinition(
        categorical_columns=[LABEL_COLUMN, PREDICTION_COLUMN], classification=[task]
    )
    preset = ClassificationPreset()
{%- else %}
    frame = own_rows(labelled, model)[[LABEL_COLUMN, PREDICTION_COLUMN]].astype(float)
    definition = DataDefinition(
        numerical_columns=[LABEL_COLUMN, PREDICTION_COLUMN],
        regression=[Regression(target=LABEL_COLUMN, prediction=PREDICTION_COLUMN)],
    )
    preset = RegressionPreset()
{%- endif %}
    dataset = Dataset.from_pandas(frame, data_definition=definition)
    # The page's plots score small slices of the labels too (a bin of one row has no R^2), and
    # scikit-learn warns about those on every run: nothing to act on, so not in the job's log.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        snapshot = Report([preset]).run(dataset, None)
    return str(snapshot.get_html_str(as_iframe=False))
