"""The champion/challenger gate: promote a retrained model only if it is at least as good.

A challenger learns from the configured table (``APP_DATASET`` / ``APP_DATA_PATH``) plus the
labelled traffic (see ``retraining_data``), and both models are scored on the same held-out
split of that data, weighted the same way. If a version was already trained on the same data
with the same training settings, a challenger would be that version again: retraining is
skipped, and the reason recorded.
Every decision, promoted or not, is appended to the audit log, and tagged on the challenger's
MLflow run (``gate.promoted``, ``gate.reason``, the scores and the champion it faced).
"""

from dataclasses import asdict, dataclass

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.errors import DataError, RegistryError
from {{ cookiecutter.package_name }}.evaluation import (
    PRIMARY_METRIC,
    at_least_as_good,
    evaluate,
)
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry, schema_change
from {{ cookiecutter.package_name }}.model import ModelMetadata
from {{ cookiecutter.package_name }}.train import Split


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided, and why."""

    trigger: str
    metric: str
    challenger: str | None
    challenger_score: float | None
    champion: str | None
    champion_score: float | None
    promoted: bool
    reason: str
    labelled_rows: int = 0
    """Labelled predictions in the challenger's data (see retraining_data)."""


def skip_already_trained(
    registry: ModelRegistry, data_sha256: str, settings_sha256: str, trigger: str
) -> GateDecision | None:
    """Decide not to retrain when a version was trained on this data with these settings.

    The challenger would be that version again. Under persistent drift, hourly retraining
    would register it every hour, and after a rollback it could win the gate and undo the
    rollback. None: nothing was trained on this data and these settings, or there is no
    champion to compare with yet.
    """
    champion = registry.champion()
    if champion is None:
        return None
    same = next(
        (
            version
            for version in reversed(registry.versions())
            if _fingerprints(registry, version) == (data_sha256, settings_sha256)
        ),
        None,
    )
    if same is None:
        return None
    role = "the champion" if same == champion else f"not promoted; {champion} is the champion"
    reason = (
        f"the data and the training settings have not changed since {same} ({role}) was "
        "trained on them, so a challenger would be the same model: send labels "
        "(POST /feedback), refresh the data source or change the settings; after a code "
        "change, `retrain --force` (see docs/runbook.md)"
    )
    return _record(
        registry,
        GateDecision(
            trigger=trigger,
            metric=PRIMARY_METRIC,
            challenger=None,
            challenger_score=None,
            champion=champion,
            champion_score=registry.metadata(champion).metrics[PRIMARY_METRIC],
            promoted=False,
            reason=reason,
        ),
    )


def _fingerprints(registry: ModelRegistry, version: str) -> tuple[str, str] | None:
    """The data and settings fingerprints a version was trained with (None: unreadable)."""
    try:
        metadata = registry.metadata(version)
    except RegistryError:  # a broken old version must not stop retraining
        return None
    return metadata.data_sha256, metadata.settings_sha256


def challenge(
    registry: ModelRegistry,
    challenger: ModelMetadata,
    split: Split,
    tolerance: float,
    trigger: str,
    labelled_rows: int = 0,
) -> GateDecision:
    """Score champion and registered challenger on ``split``; promote the challenger if it wins.

    ``split`` holds its row weights: the champion is scored as the challenger was.
    """
    challenger_score = challenger.metrics[PRIMARY_METRIC]
    champion_version = registry.champion()
    champion_score: float | None = None
    if champion_version is None:
        promoted, reason = True, "there was no champion"
    else:
        champion = registry.load(champion_version)
        change = schema_change(champion.metadata, challenger)
        try:
            schema = champion.metadata.feature_schema
            features = schema.to_matrix(split.test_features, "held-out split")
            champion_metrics = evaluate(
                champion.pipeline, features, split.test_target, split.test_weights
            )
            champion_score = champion_metrics[PRIMARY_METRIC]
        except (DataError, ValueError) as exc:
            promoted, reason = True, f"the champion cannot score the current data ({exc})"
        else:
            promoted = at_least_as_good(challenger_score, champion_score, tolerance)
            comparison = "at least as good as" if promoted else "worse than"
            reason = (
                f"challenger {PRIMARY_METRIC}={challenger_score:.4f} is {comparison} "
                f"champion {PRIMARY_METRIC}={champion_score:.4f} (tolerance {tolerance})"
            )
        if promoted and change:
            promoted = False
            reason += (
                f"; but it changes the request schema ({change}): promote "
                f"{challenger.version} with --allow-schema-change once clients are ready"
            )
    if promoted:
        registry.promote(challenger.version, reason=f"retraining gate: {reason}")
    return _record(
        registry,
        GateDecision(
            trigger=trigger,
            metric=PRIMARY_METRIC,
            challenger=challenger.version,
            challenger_score=challenger_score,
            champion=champion_version,
            champion_score=champion_score,
            promoted=promoted,
            reason=reason,
            labelled_rows=labelled_rows,
        ),
    )


def _record(registry: ModelRegistry, decision: GateDecision) -> GateDecision:
    if decision.challenger is not None:
        registry.record_decision(decision.challenger, asdict(decision))
    audit.record(registry.audit_log, "retrain", **asdict(decision))
    return decision
