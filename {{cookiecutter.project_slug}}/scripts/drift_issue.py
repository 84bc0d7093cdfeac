"""Format a drift summary (reports/latest.json) as the body of a GitHub issue.

Standard library only: the drift workflow runs it with the runner's python3.
"""

import json
import sys
from pathlib import Path
from typing import Any


def issue_body(summary: dict[str, Any], run_url: str) -> str:
    """Markdown: the verdict, a table of drifted columns, and what to do next."""
    features: list[dict[str, Any]] = summary.get("features") or []
    drifted = [feature for feature in features if feature["drifted"]]
    rows = "\n".join(
        f"| {f['column']} | {f['method']} | {_number(f['score'])} | {_number(f['threshold'])} |"
        for f in drifted
    )
    prediction: dict[str, Any] = summary.get("prediction") or {}
    return f"""The drift job found drift in the traffic of model **{summary["model_version"]}**.

- window: {summary["window"]["source"]}, {summary["window"]["start"]} to {summary["window"]["end"]}
- rows: {summary["current_rows"]} current, {summary["reference_rows"]} reference
- drifted features: {len(drifted)} of {len(features)} (alert share: {summary["share_threshold"]})
- predictions drifted: {prediction.get("drifted", "unknown")}

| feature | test | score | threshold |
|---|---|---|---|
{rows}

Reports: {run_url} (artifact `drift-report-*`). Next: docs/runbook.md, section "DriftDetected".
"""


def _number(value: float | None) -> str:
    """A score or threshold; none for a column with no value left in the window."""
    return "none: no values" if value is None else f"{value:.3g}"


def main() -> None:
    """Print the issue body for a ``latest.json`` and a workflow run URL."""
    summary_path, run_url = sys.argv[1], sys.argv[2]
    summary = json.loads(Path(summary_path).read_text(encoding="utf-8"))
    print(issue_body(summary, run_url))


if __name__ == "__main__":
    main()
