"""Loading data and refusing bad files with a clear message."""

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import (
    BUNDLED_DATASETS,
    MIN_ROWS,
    load_bundled,
{%- if cookiecutter.__task == "classification" %}
    load_churn,
{%- endif %}
    load_csv,
    load_dataset,
    read_table,
)
from {{ cookiecutter.package_name }}.errors import DataError


@pytest.mark.parametrize("name", sorted(BUNDLED_DATASETS))
def test_scikit_learn_datasets_load_as_finite_numbers(name: str) -> None:
    dataset = load_bundled(name)
    assert len(dataset.features) == len(dataset.target) >= MIN_ROWS
    assert (dataset.features.dtypes == "float64").all()
{%- if cookiecutter.__task == "classification" %}
    assert dataset.target.nunique() >= 2
    assert all(type(label) is str for label in dataset.target)
{%- else %}
    assert dataset.target.dtype == "float64"
{%- endif %}


def test_configured_dataset_loads(settings: Settings) -> None:
    dataset = load_dataset(settings)
    assert len(dataset.features) == len(dataset.target) >= MIN_ROWS
    assert dataset.source
{%- if cookiecutter.__task == "classification" %}


def test_bundled_churn_table_is_realistic() -> None:
    dataset = load_churn()
    assert dataset.source == "bundled:churn"
    assert set(dataset.target) == {"yes", "no"}
    assert dataset.features.isna().any().any()
    assert (dataset.features.dtypes == "object").sum() >= 3
{%- endif %}


def test_unknown_bundled_dataset_is_refused() -> None:
    with pytest.raises(DataError, match="unknown bundled dataset 'nope'"):
        load_bundled("nope")


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def good_frame() -> pd.DataFrame:
    rows = 40
{%- if cookiecutter.__task == "classification" %}
    target = ["yes" if i % 2 else "no" for i in range(rows)]
{%- else %}
    target = [float(i) * 1.5 for i in range(rows)]
{%- endif %}
    return pd.DataFrame({"a": range(rows), "b": [i * 0.5 for i in range(rows)], "y": target})


def test_csv_with_target_loads(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    dataset = load_csv(write_csv(tmp_path / "d.csv", good_frame), "y")
    assert list(dataset.features.columns) == ["a", "b"]
    assert len(dataset.target) == len(good_frame)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "no header row"),
        ("a,b,y\n", "header but no rows"),
        ('a,b,y\n1,2,"unclosed\n', "not a valid CSV"),
        ("a,b,y\n1,2,3\n1,2,3,4,5\n", "not a valid CSV"),
    ],
)
def test_broken_csv_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_csv(path, "y")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "absent.csv", "y")


def test_missing_target_names_the_columns(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    path = write_csv(tmp_path / "d.csv", good_frame)
    with pytest.raises(DataError, match=r"no target column 'label' \(columns: 'a', 'b', 'y'\)"):
        load_csv(path, "label")


def test_text_and_gaps_load_as_they_are(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    good_frame["colour"] = ["red", None] * (len(good_frame) // 2)
    dataset = load_csv(write_csv(tmp_path / "d.csv", good_frame), "y")
    assert dataset.features["colour"].isna().sum() == len(good_frame) // 2


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,y\ncaf\u00e9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 .*save it as UTF-8"):
        load_csv(path, "y")


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,y\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"duplicate column name\(s\) 'a'"):
        load_csv(path, "y")


def test_missing_targets_are_refused(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    good_frame["y"] = good_frame["y"].astype(object)
    good_frame.loc[3, "y"] = None
    with pytest.raises(DataError, match="target column 'y' is empty in 1 row"):
        load_csv(write_csv(tmp_path / "d.csv", good_frame), "y")


def test_too_few_rows_are_refused(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=rf"at least {MIN_ROWS}"):
        load_csv(write_csv(tmp_path / "d.csv", good_frame.head(5)), "y")
{%- if cookiecutter.__task == "classification" %}


def test_single_class_is_refused(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    good_frame["y"] = "same"
    with pytest.raises(DataError, match="target 'y' has one class \\('same'\\) in every row"):
        load_csv(write_csv(tmp_path / "d.csv", good_frame), "y")


def test_rare_class_is_refused(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    good_frame.loc[0, "y"] = "rare"
    with pytest.raises(DataError, match="'rare' have fewer than"):
        load_csv(write_csv(tmp_path / "d.csv", good_frame), "y")
{%- else %}


def test_non_numeric_target_is_refused(tmp_path: Path, good_frame: pd.DataFrame) -> None:
    good_frame["y"] = "high"
    with pytest.raises(DataError, match="must be numeric"):
        load_csv(write_csv(tmp_path / "d.csv", good_frame), "y")
{%- endif %}


def test_json_records_are_read(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text('{"a": 1, "b": 2}')
    many = tmp_path / "many.json"
    many.write_text('{"records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}')
    assert len(read_table(single)) == 1
    assert list(read_table(many)["a"]) == [1, 3]


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ("[]", "non-empty list"), ("[1, 2]", "JSON object")],
)
def test_bad_json_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_table(path)
