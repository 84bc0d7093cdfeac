"""Evidently's drift tests run column by column: the same verdicts as its ValueDrift metric."""

import numpy as np
import pandas as pd
import pytest
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift

from {{ cookiecutter.package_name }}.errors import ConfigError, MonitoringError
from {{ cookiecutter.package_name }}.monitoring.drift_tests import (
    DriftTest,
    run_drift_tests,
)

WASSERSTEIN = DriftTest("wasserstein", 0.2, "numeric")
KS = DriftTest("ks", 0.05, "numeric")  # its score is a p-value: drift below the threshold
PLANS = np.array(["basic", "gold", None], dtype=object)  # None: a gap
JENSEN_SHANNON = DriftTest("jensenshannon", 0.1, "categorical")


def frames(rows: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current: numbers (one moved, with gaps and infinities), and a category mix."""
    generator = np.random.default_rng(7)
    reference, current = (
        pd.DataFrame(
            {
                "calm": generator.normal(size=rows),
                "moved": generator.normal(loc=shift, size=rows),
                "plan": generator.choice(PLANS, p=mix, size=rows),
            }
        )
        for shift, mix in ((0.0, [0.7, 0.2, 0.1]), (0.6, [0.3, 0.6, 0.1]))
    )
    current.loc[:9, "calm"] = np.inf
    current.loc[10:99, "calm"] = np.nan
    return reference, current


# ValueDrift's own statistics meet the infinities before it drops them (pandas warns).
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract:RuntimeWarning")
def test_scores_and_verdicts_are_those_of_evidentlys_value_drift() -> None:
    reference, current = frames()
    tests = {"calm": WASSERSTEIN, "moved": KS, "plan": JENSEN_SHANNON}
    results = run_drift_tests(tests, reference, current)
    definition = DataDefinition(numerical_columns=["calm", "moved"], categorical_columns=["plan"])
    snapshot = Report(
        [
            ValueDrift(column=name, method=test.method, threshold=test.threshold)
            for name, test in tests.items()
        ],
        include_tests=True,
    ).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    report = snapshot.dict()
    scores = {metric["config"]["column"]: metric["value"] for metric in report["metrics"]}
    failed = {
        test["metric_config"]["params"]["column"]
        for test in report["tests"]
        if test["status"] == "FAIL"
    }
    assert {name: result.score for name, result in results.items()} == pytest.approx(scores)
    assert (
        {name for name, result in results.items() if result.drifted} == failed == {"moved", "plan"}
    )


def test_an_emptied_column_is_left_out_and_an_empty_reference_is_refused() -> None:
    reference, current = frames()
    current["calm"] = np.nan
    results = run_drift_tests({"calm": WASSERSTEIN, "moved": WASSERSTEIN}, reference, current)
    assert list(results) == ["moved"]
    reference["plan"] = None
    with pytest.raises(MonitoringError, match="the reference has no value of column 'plan'"):
        run_drift_tests({"plan": JENSEN_SHANNON}, reference, current)


def test_a_method_evidently_lacks_names_its_setting() -> None:
    assert WASSERSTEIN.check() == WASSERSTEIN
    with pytest.raises(ConfigError, match=r"APP_DRIFT_NUMERIC_METHOD='nope': .*'wasserstein'"):
        WASSERSTEIN._replace(method="nope").check()
    numbers_only = JENSEN_SHANNON._replace(method="wasserstein")
    with pytest.raises(ConfigError, match=r"^APP_DRIFT_CATEGORICAL_METHOD='wasserstein': .*cat"):
        numbers_only.check()
