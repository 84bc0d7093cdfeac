"""The feature schema a model was trained on, and the preprocessing + model pipeline."""

import pandas as pd
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer
{%- if cookiecutter.task == "classification" %}
from sklearn.linear_model import LogisticRegression
{%- else %}
from sklearn.linear_model import Ridge
{%- endif %}
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from {{ cookiecutter.package_name }}.data import validate_features
from {{ cookiecutter.package_name }}.errors import DataError


class FeatureSpec(BaseModel):
    """One input feature and the range it had in training."""

    name: str
    mean: float
    std: float
    min: float
    max: float


class FeatureSchema(BaseModel):
    """The ordered features a model expects; requests and files are checked against it."""

    features: list[FeatureSpec]

    @property
    def names(self) -> list[str]:
        """Feature names, in training order."""
        return [feature.name for feature in self.features]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "FeatureSchema":
        """Describe the columns of a validated training frame."""
        stats = frame.describe().T
        return cls(
            features=[
                FeatureSpec(
                    name=str(name),
                    mean=float(row["mean"]),
                    std=float(row["std"]),
                    min=float(row["min"]),
                    max=float(row["max"]),
                )
                for name, row in stats.iterrows()
            ]
        )

    def select(self, frame: pd.DataFrame, source: str) -> pd.DataFrame:
        """Return the schema's columns of ``frame``, in order, validated as numeric."""
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            raise DataError(f"{source}: missing feature column(s) {', '.join(map(repr, missing))}")
        return validate_features(frame[self.names], source)


def build_pipeline(schema: FeatureSchema, random_seed: int) -> Pipeline:
    """Preprocessing and model in one object, so serving applies exactly what training did.

    Swap the estimator here (e.g. ``HistGradientBoosting{{ "Classifier" if cookiecutter.task == "classification" else "Regressor" }}``)
    and everything else (registry, API, monitoring) keeps working.
    """
    preprocess = ColumnTransformer(
        [("scale", StandardScaler(), schema.names)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
{%- if cookiecutter.task == "classification" %}
    model = LogisticRegression(max_iter=2000, random_state=random_seed)
{%- else %}
    model = Ridge(alpha=1.0, random_state=random_seed)
{%- endif %}
    return Pipeline([("preprocess", preprocess), ("model", model)])
