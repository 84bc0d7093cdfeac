"""The feature schema: which columns a model uses, of which kind, and what training saw.

``schema_inference`` infers it from a real table; ``feature_values`` converts a table's
columns to it. This module needs neither pandas nor scikit-learn: the API serves from it.

A feature is *nullable* when the training data has missing values in it: requests may then
send ``null`` or leave it out, and the pipeline imputes it.
"""

from typing import TYPE_CHECKING, Any, Literal

import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandas as pd

FeatureKind = Literal["numeric", "categorical", "boolean"]
FeatureValue = float | str | bool | None
"""A raw feature value as requests and files carry it (None: missing)."""

PREDICTION_COLUMN = "prediction"
"""Name of the model-output column in reference and monitoring frames (reserved)."""


class FeatureSpec(BaseModel):
    """One input feature: its kind, whether it may be missing, and what training saw."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: FeatureKind
    nullable: bool
    categories: list[str] = []
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


class ExcludedColumn(BaseModel):
    """A column of the table that is not a feature, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    reason: str


class FeatureSchema(BaseModel):
    """The ordered features a model expects; requests, files and traffic are checked against it."""

    model_config = ConfigDict(frozen=True)

    features: list[FeatureSpec]
    excluded: list[ExcludedColumn] = []
    example: dict[str, FeatureValue] = {}

    @property
    def names(self) -> list[str]:
        """Feature names, in training order (the column order of the model's input array)."""
        return [feature.name for feature in self.features]

    def positions(self, kind: FeatureKind) -> list[int]:
        """Column positions of the features of one kind, in the model's input array."""
        return [index for index, feature in enumerate(self.features) if feature.kind == kind]

    def contract(self) -> list[tuple[str, str, bool]]:
        """What a client must send: names, kinds and nullability (categories may grow freely)."""
        return [(feature.name, feature.kind, feature.nullable) for feature in self.features]

    def normalise(self, frame: "pd.DataFrame", source: str) -> "pd.DataFrame":
        """The schema's columns of ``frame`` as the model reads them, checked.

        Numeric and boolean columns become float64 (NaN when missing), categorical ones text
        (None when missing). A missing column is an error unless its feature is nullable.
        """
        from {{ cookiecutter.package_name }}.feature_values import normalise  # noqa: PLC0415 - pandas: not for serving

        return normalise(self, frame, source)

    def to_matrix(self, frame: "pd.DataFrame", source: str) -> npt.NDArray[Any]:
        """The model's input: a 2-D object array with the features in schema order."""
        from {{ cookiecutter.package_name }}.feature_values import to_matrix  # noqa: PLC0415

        return to_matrix(self, frame, source)

    def records(self, frame: "pd.DataFrame", source: str) -> list[dict[str, FeatureValue]]:
        """The rows of ``frame`` as JSON request records (null where a value is missing)."""
        from {{ cookiecutter.package_name }}.feature_values import records  # noqa: PLC0415

        return records(self, frame, source)
