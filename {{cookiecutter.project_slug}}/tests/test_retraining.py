"""The champion/challenger gate and its audit trail."""

import pandas as pd

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import Dataset, load_dataset
from {{ cookiecutter.package_name }}.evaluation import HIGHER_IS_BETTER, PRIMARY_METRIC
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry, open_registry
from {{ cookiecutter.package_name }}.monitoring.retraining import (
    challenge,
    skip_unchanged_data,
)

from .helpers import train_version


def test_first_model_is_promoted(settings: Settings) -> None:
    registry = open_registry(settings)
    challenger, split = train_version(registry, settings)
    decision = challenge(registry, challenger, split, 0.0, trigger="test")
    assert decision.promoted
    assert decision.reason == "there was no champion"
    assert registry.champion() == challenger.version


def test_an_equal_challenger_is_promoted(registry: ModelRegistry, settings: Settings) -> None:
    challenger, split = train_version(registry, settings)
    decision = challenge(registry, challenger, split, 0.0, trigger="drift report x")
    assert decision.promoted
    assert decision.champion == "v1"
    assert decision.champion_score == decision.challenger_score
    assert registry.champion() == "v2"
    events = audit.read(registry.audit_log)
    assert events[-1]["event"] == "retrain"
    assert events[-1]["trigger"] == "drift report x"
    assert events[-1]["promoted"] is True
    assert events[-2]["event"] == "promote"


def test_a_worse_challenger_is_rejected(registry: ModelRegistry, settings: Settings) -> None:
    challenger, split = train_version(registry, settings)
    champion_score = challenger.metrics[PRIMARY_METRIC]
    worse = champion_score - 0.1 if HIGHER_IS_BETTER else champion_score + 10.0
    handicapped = challenger.model_copy(update={"metrics": {PRIMARY_METRIC: worse}})
    decision = challenge(registry, handicapped, split, 0.0, trigger="test")
    assert not decision.promoted
    assert "worse than" in decision.reason
    assert registry.champion() == "v1"
    assert audit.read(registry.audit_log)[-1]["promoted"] is False


def test_retraining_on_the_champions_own_data_is_skipped(
    registry: ModelRegistry, settings: Settings
) -> None:
    dataset = load_dataset(settings)
    decision = skip_unchanged_data(registry, dataset.sha256, trigger="drift report x")
    assert decision is not None
    assert not decision.promoted
    assert decision.challenger is None
    assert "the data has not changed since v1" in decision.reason
    assert registry.versions() == ["v1"]
    assert audit.read(registry.audit_log)[-1]["challenger"] is None


def test_new_data_is_retrained(registry: ModelRegistry, settings: Settings) -> None:
    dataset = load_dataset(settings)
    more = dataset.features.iloc[:10]
    refreshed = Dataset(
        features=pd.concat([dataset.features, more], ignore_index=True),
        target=pd.concat([dataset.target, dataset.target.iloc[:10]], ignore_index=True),
        source=dataset.source,
    )
    assert refreshed.sha256 != dataset.sha256
    assert skip_unchanged_data(registry, refreshed.sha256, trigger="test") is None
