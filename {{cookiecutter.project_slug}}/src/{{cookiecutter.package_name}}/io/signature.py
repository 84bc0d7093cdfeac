"""The MLflow signature of a model: named, typed inputs taken from its feature schema."""

from typing import TYPE_CHECKING

from {{ cookiecutter.package_name }}.model import ModelMetadata

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

COLUMN_TYPES = {"numeric": "double", "boolean": "boolean", "categorical": "string"}
"""MLflow's column type for each feature kind."""


def model_signature(metadata: ModelMetadata) -> "ModelSignature":
    """Inputs as the API takes them (raw values, nullable where the schema says); the output."""
    from mlflow.models import ModelSignature  # noqa: PLC0415 - MLflow loads only when needed
    from mlflow.types import ColSpec, Schema  # noqa: PLC0415

    inputs = Schema(
        [
            ColSpec(COLUMN_TYPES[feature.kind], feature.name, required=not feature.nullable)
            for feature in metadata.feature_schema.features
        ]
    )
{%- if cookiecutter.__task == "classification" %}
    outputs = Schema([ColSpec("string", metadata.target)])
{%- else %}
    outputs = Schema([ColSpec("double", metadata.target)])
{%- endif %}
    return ModelSignature(inputs=inputs, outputs=outputs)
