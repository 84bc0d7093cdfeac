"""Inferring the feature schema of real tables, and refusing tables that cannot be learned."""

from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import FeatureSchema
from {{ cookiecutter.package_name }}.schema_inference import infer_schema

from .helpers import mixed_table

ROWS = 60


def infer(frame: pd.DataFrame, **rules: str) -> FeatureSchema:
    return infer_schema(frame, rules, max_categories=50, source="t.csv")  # type: ignore[arg-type]


def test_kinds_and_exclusions_are_inferred() -> None:
    schema = infer(mixed_table())
    kinds = {feature.name: feature.kind for feature in schema.features}
    assert kinds == {"plan": "categorical", "tenure months": "numeric", "auto pay": "boolean"}
    reasons = {column.name: column.reason for column in schema.excluded}
    assert "an ID" in reasons["customer id"]
    assert "an ID" in reasons["row number"]
    assert "ISO dates" in reasons["signup date"]
    assert "an ID" in reasons["notes"]  # unique text in every row


def test_categories_and_nullability_come_from_the_data() -> None:
    schema = infer(mixed_table())
    plan, tenure, auto_pay = schema.features
    assert plan.categories == ["basic", "premium"]
    assert plan.nullable and tenure.nullable and not auto_pay.nullable
    assert tenure.min is not None and tenure.min >= 1


def test_free_text_with_many_values_is_excluded() -> None:
    table = mixed_table().assign(notes=[f"note {i % 55}" for i in range(ROWS)])
    reasons = {column.name: column.reason for column in infer(table).excluded}
    assert "55 distinct values, more than APP_MAX_CATEGORIES=50" in reasons["notes"]


def test_the_example_is_a_complete_real_record() -> None:
    schema = infer(mixed_table())
    assert set(schema.example) == {"plan", "tenure months", "auto pay"}
    assert None not in schema.example.values()
    assert isinstance(schema.example["auto pay"], bool)


def test_overrides_force_a_kind_or_exclude() -> None:
    schema = infer(mixed_table(), **{"row number": "categorical", "plan": "exclude"})
    kinds = {feature.name: feature.kind for feature in schema.features}
    assert kinds["row number"] == "categorical"
    assert "plan" not in kinds
    assert any(c.name == "plan" and "APP_FEATURE_KINDS" in c.reason for c in schema.excluded)


def test_overrides_must_name_real_columns() -> None:
    with pytest.raises(DataError, match=r"APP_FEATURE_KINDS names column\(s\) 'nope'"):
        infer(mixed_table(), nope="numeric")


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("empty", [None] * ROWS, r"column 'empty' is empty in every row.*\"empty\": \"exclude\""),
        ("same", ["x"] * ROWS, r"column 'same' has the same value \('x'\) in every row"),
        ("age", ["unknown"] + [str(i) for i in range(ROWS - 1)], r"column 'age' mixes numbers"),
        ("prediction", list(range(ROWS)), "reserved"),
    ],
    ids=["all-empty", "constant", "mixed-types", "reserved-name"],
)
def test_unlearnable_columns_are_refused_with_the_fix(
    column: str, values: list[Any], message: str
) -> None:
    table = mixed_table()
    table[column] = pd.Series(values, dtype=object)
    with pytest.raises(DataError, match=message):
        infer(table)


def test_normalise_converts_kinds_and_checks_values() -> None:
    schema = infer(mixed_table())
    frame = pd.DataFrame(
        {"plan": ["basic", 7], "tenure months": ["3", None], "auto pay": ["true", False]}
    )
    normalised = schema.normalise(frame, "f.csv")
    assert list(normalised["plan"]) == ["basic", "7"]
    assert normalised["tenure months"].iloc[0] == 3.0
    assert list(normalised["auto pay"]) == [1.0, 0.0]
    text = frame.copy()
    text["tenure months"] = pd.Series(["x", 1], dtype=object)
    with pytest.raises(DataError, match=r"column 'tenure months' must be numeric; got 'x'"):
        schema.normalise(text, "f.csv")
    gap = frame.copy()
    gap["auto pay"] = pd.Series([None, True], dtype=object)
    with pytest.raises(DataError, match=r"missing values in 'auto pay' \(1 rows\)"):
        schema.normalise(gap, "f.csv")
    nested = frame.copy()  # a JSON record can hold a list: refused like any other value
    nested["auto pay"] = pd.Series([True, [1]], dtype=object)
    with pytest.raises(DataError, match=r"'auto pay' must be true or false; got \[1\]"):
        schema.normalise(nested, "f.csv")


def test_absent_nullable_columns_are_missing_and_others_are_refused() -> None:
    schema = infer(mixed_table())
    normalised = schema.normalise(pd.DataFrame({"auto pay": [True]}), "f.csv")
    assert normalised["plan"].isna().all() and normalised["tenure months"].isna().all()
    with pytest.raises(DataError, match=r"missing feature column\(s\) 'auto pay'"):
        schema.normalise(pd.DataFrame({"plan": ["basic"]}), "f.csv")


def test_matrix_is_in_schema_order_with_nan_for_gaps() -> None:
    schema = infer(mixed_table())
    frame = pd.DataFrame({"auto pay": [True], "tenure months": [None], "plan": [None]})
    matrix = schema.to_matrix(frame, "f.csv")
    assert matrix.dtype == object and matrix.shape == (1, 3)
    assert np.isnan(matrix[0, 0]) and np.isnan(matrix[0, 1]) and matrix[0, 2] == 1.0
