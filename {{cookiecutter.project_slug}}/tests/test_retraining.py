"""The champion/challenger gate and its audit trail."""

import pandas as pd

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import Dataset, load_dataset
from {{ cookiecutter.package_name }}.evaluation import HIGHER_IS_BETTER, PRIMARY_METRIC
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry, open_registry
from {{ cookiecutter.package_name }}.monitoring.retraining import (
    challenge,
    skip_already_trained,
)
from {{ cookiecutter.package_name }}.train import training_settings_sha256

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


def test_retraining_on_the_champions_own_data_and_settings_is_skipped(
    registry: ModelRegistry, settings: Settings
) -> None:
    fingerprints = load_dataset(settings).sha256, training_settings_sha256(settings)
    decision = skip_already_trained(registry, *fingerprints, trigger="drift report x")
    assert decision is not None
    assert not decision.promoted
    assert decision.challenger is None
    assert "have not changed since v1 (the champion)" in decision.reason
    assert registry.versions() == ["v1"]
    assert audit.read(registry.audit_log)[-1]["challenger"] is None


def test_a_challenger_kept_out_is_not_trained_again(
    registry: ModelRegistry, settings: Settings
) -> None:
    """Persistent drift retrains every hour: a challenger that lost is not registered again."""
    train_version(registry, settings)  # v2: the same data and settings, not promoted
    fingerprints = load_dataset(settings).sha256, training_settings_sha256(settings)
    decision = skip_already_trained(registry, *fingerprints, trigger="drift report x")
    assert decision is not None
    assert "since v2 (not promoted; v1 is the champion)" in decision.reason
    assert decision.champion == "v1"
    assert registry.versions() == ["v1", "v2"]


def test_new_data_or_new_settings_are_retrained(
    registry: ModelRegistry, settings: Settings
) -> None:
    dataset = load_dataset(settings)
    more = dataset.features.iloc[:10]
    refreshed = Dataset(
        features=pd.concat([dataset.features, more], ignore_index=True),
        target=pd.concat([dataset.target, dataset.target.iloc[:10]], ignore_index=True),
        source=dataset.source,
    )
    assert refreshed.sha256 != dataset.sha256
    same_settings = training_settings_sha256(settings)
    assert skip_already_trained(registry, refreshed.sha256, same_settings, trigger="t") is None
    reseeded = training_settings_sha256(settings.model_copy(update={"random_seed": 7}))
    assert reseeded != same_settings
    assert skip_already_trained(registry, dataset.sha256, reseeded, trigger="t") is None
