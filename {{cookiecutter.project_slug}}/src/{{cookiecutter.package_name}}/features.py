"""The preprocessing + model pipeline, built from the feature schema.

Preprocessing lives inside the saved pipeline, so serving applies exactly what training did
and clients send raw values (``{"plan": "basic", "tenure months": null}``), never dummies.
Columns are selected by position: the input is a 2-D array with the features in schema
order (see :meth:`FeatureSchema.to_matrix`), which scores a single record without building
a DataFrame.

- numeric: median imputation, then standard scaling;
- boolean (0/1): most-frequent imputation;
- categorical: most-frequent imputation, then one-hot encoding over the categories seen in
  training. An unknown category gets all-zero one-hot columns (it adds nothing to the
  score); the API counts it and the drift job reports its share.
"""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
{%- if cookiecutter.__task == "classification" %}
from sklearn.linear_model import LogisticRegression
{%- else %}
from sklearn.linear_model import Ridge
{%- endif %}
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from {{ cookiecutter.package_name }}.schema import FeatureKind, FeatureSchema


def build_pipeline(schema: FeatureSchema, random_seed: int) -> Pipeline:
    """Preprocessing and model in one object, so serving applies exactly what training did.

    Swap the estimator here (e.g. ``HistGradientBoosting{{ "Classifier" if cookiecutter.__task == "classification" else "Regressor" }}``)
    and everything else (registry, API, monitoring) keeps working.
    """
    categorical = schema.positions("categorical")
    steps: list[tuple[FeatureKind, object]] = [
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler())),
        ("boolean", SimpleImputer(strategy="most_frequent")),
        (
            "categorical",
            make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(
                    categories=[schema.features[i].categories for i in categorical],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
            ),
        ),
    ]
    preprocess = ColumnTransformer(
        [
            (kind, transformer, schema.positions(kind))
            for kind, transformer in steps
            if schema.positions(kind)
        ],
        remainder="drop",
    )
{%- if cookiecutter.__task == "classification" %}
    model = LogisticRegression(max_iter=2000, random_state=random_seed)
{%- else %}
    model = Ridge(alpha=1.0, random_state=random_seed)
{%- endif %}
    return Pipeline([("preprocess", preprocess), ("model", model)])
