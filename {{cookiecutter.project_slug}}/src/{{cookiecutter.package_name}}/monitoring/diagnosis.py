"""Diagnosis: is the trouble in the data or in the model? One kind, its action, its runbook.

The checks run in this order, and the first that holds is the diagnosis:

1. ``data_problem``: in some feature, unknown categories, missing values beyond those of
   training, or numbers far outside the training range (see ``drift.plausible_range``)
   reach ``APP_QUALITY_MAX_SHARE`` of the window. Fix the data upstream first:
   a model retrained on it would learn the breakage, so ``monitor --retrain`` does not.
2. ``model_problem``: the champion's live performance on labelled traffic degraded, whether
   the inputs drifted or not. Retrain on the recent labels, or roll back a recent promotion.
3. ``input_drift``: the inputs drifted, and the labels show no drop (or are too few to
   tell). The model may still be right on the new inputs: watch the labels.
4. ``healthy``: no drift, no drop, clean data; ``no_verdict``: too little data and too few
   labels to say anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from {{ cookiecutter.package_name }}.monitoring.drift import ColumnDrift, DriftSummary

DiagnosisKind = Literal["data_problem", "model_problem", "input_drift", "healthy", "no_verdict"]
RUNBOOK = "docs/runbook.md"

ACTIONS: dict[DiagnosisKind, tuple[str, str]] = {
    "data_problem": (
        "fix the data upstream (a new or misspelt category, a dropped field); do not retrain on it",
        "data-problem",
    ),
    "model_problem": (
        "retrain on the recent labels (`retrain`, or `monitor --retrain`) and let the gate "
        "decide; roll back instead if a promotion started it",
        "model-problem",
    ),
    "input_drift": (
        "watch the labels: retrain when they show a drop, or to cover the new inputs; fix "
        "the source if the shift is a bug upstream",
        "input-drift",
    ),
    "healthy": ("nothing to do", "verify-recovery"),
    "no_verdict": ("send more traffic and labels, or widen the windows", "not-enough-data-exit-4"),
}
"""Per kind: the recommended action, and the anchor of its runbook section."""


class Diagnosis(BaseModel):
    """Which kind of problem the check sees, why, and what to do."""

    kind: DiagnosisKind
    reason: str
    action: str
    runbook: str

    def lines(self) -> list[str]:
        """How ``monitor`` prints it."""
        return [
            f"diagnosis: {self.kind.replace('_', ' ')}: {self.reason}",
            f"action: {self.action} ({self.runbook})",
        ]


def diagnose(summary: DriftSummary, max_quality_share: float) -> Diagnosis:
    """The diagnosis of one check: its drift verdict, data quality and live performance."""
    performance = summary.performance
    broken = [feature.column for feature in summary.features if _broken(feature, max_quality_share)]
    if broken:
        kind: DiagnosisKind = "data_problem"
        reason = (
            "unknown categories, new gaps or far-out numbers in "
            f"{', '.join(map(repr, broken))} reach {max_quality_share:.0%} of the window "
            "(APP_QUALITY_MAX_SHARE)"
        )
    elif performance is not None and performance.degraded:
        kind = "model_problem"
        drift = (
            "the inputs drifted too" if summary.status == "drift" else "the inputs did not drift"
        )
        reason = f"the model got worse on labelled traffic, and {drift}"
    elif summary.status == "drift":
        kind = "input_drift"
        labels = (
            "the labels show no drop"
            if performance is not None and performance.status == "ok"
            else "too few labels to tell whether the model suffers"
        )
        reason = f"{len(summary.drifted_features)} features drifted; {labels}"
    elif summary.status == "no_drift" or (performance is not None and performance.status == "ok"):
        kind = "healthy"
        checked = [
            *(["no drift"] if summary.status == "no_drift" else []),
            *(["no drop in performance"] if performance and performance.status == "ok" else []),
        ]
        reason = ", ".join([*checked, "clean data"])
    else:
        kind, reason = "no_verdict", "too little traffic and too few labels for a verdict"
    action, anchor = ACTIONS[kind]
    return Diagnosis(kind=kind, reason=reason, action=action, runbook=f"{RUNBOOK}#{anchor}")


def _broken(feature: ColumnDrift, max_share: float) -> bool:
    """Whether unknown categories, new gaps or far-out numbers reach ``max_share``."""
    new_gaps = (feature.missing_share or 0) - (feature.reference_missing_share or 0)
    shares = (feature.unknown_share or 0, new_gaps, feature.out_of_range_share or 0)
    return max(shares) >= max_share
