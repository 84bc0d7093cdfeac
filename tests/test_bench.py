"""`scripts/bench.py --quick` in the default project prints every figure, baseline and goal.

Benchmarks are figures, not pass/fail tests: no timing thresholds here, only that each line
of the summary table is there with a number above zero (counts: zero or more) and its goal,
and that the project's own files are left as they were (the benchmark works in a temporary
folder).
"""

from pathlib import Path

import pytest

from .conftest import run, summary_table

# Every figure of the summary table, how many baselines it is printed next to (a row each),
# and its goal (printed in the last column).
FIGURES = {
    "`--help` seconds": (1, "< 1 s"),  # the bare interpreter's start
    "`train` seconds": (1, "< 2x"),  # its own fitting step
    "`train` (MLflow included) seconds": (1, ""),  # a fresh process that loads and fits alone
    "`train`'s ONNX export step, seconds": (1, ""),  # its own fitting step
    # The project's table resampled to 200,000 cells (churn: 10 columns), next to its fitting
    "`train` on 20,000 rows, seconds": (1, "< 2x"),
    "`train` on 20,000 rows: schema and split step, seconds": (1, ""),
    # ... and the difference from a run on 10,000 rows: train's and its fitting step's
    "`train` per 10,000 more rows, seconds": (1, ""),
    "`train`'s fixed cost (extrapolated to 0 rows), seconds": (1, ""),
    "`serve` to its first /predict, seconds": (1, "< 3 s"),  # a bare FastAPI app's
    "/predict requests/s": (2, "x"),  # the same pipeline on a one-row array, and a constant
    "/predict p50 latency (ms)": (2, ""),
    "/predict p99 latency (ms)": (2, ""),
    "micro-batching: requests/s": (1, ""),  # the same app, each request scored alone
    "micro-batching: p99 latency (ms)": (1, ""),
    "micro-batching: rows per model call": (0, ""),
    "ONNX preprocessing: requests/s": (1, ""),  # the same app on scikit-learn's preprocessing
    "bare pipeline requests/s, model in the thread pool": (1, ""),  # vs on the event loop
    "/predict/batch rows/s (100 per request)": (0, ""),
    "/predict/batch rows/s (1000 per request)": (0, ">= 50,000"),
    "prediction-log rows lost in the batch runs": (0, "0"),
    "drift 1,000 rows x 30: Evidently's tests, seconds": (1, "<= 3x"),  # numpy's, all below
    "drift 1,000 rows x 30: the job with its report, seconds": (1, ""),
    "drift 1,000 rows x 30: peak memory of the job (MB)": (1, ""),
    "drift 1,000 rows x 30: columns flagged by the tests": (1, ""),
    "drift 1,000 rows x 30: columns flagged by the job": (1, ""),
    "drift 2,000 rows x 30: Evidently's tests, seconds": (1, "<= 3x"),  # numpy's, all below
    "drift 2,000 rows x 30: the job with its report, seconds": (1, ""),
    "drift 2,000 rows x 30: peak memory of the job (MB)": (1, ""),
    "drift 2,000 rows x 30: columns flagged by the tests": (1, ""),
    "drift 2,000 rows x 30: columns flagged by the job": (1, ""),
    "monitor, 20,000-row log: seconds": (1, "< 60 s"),
    "monitor, 20,000-row log: peak memory (MB)": (1, "< 1,074"),
    "API image virtualenv (MB)": (1, ""),
    "wheel of the project (kB)": (0, ""),
    "`make test -k schema` seconds": (1, "< 60 s"),  # the same tests on one worker
}
COUNTS = {"prediction-log rows lost in the batch runs"}
"""Figures that count events: zero is a valid value (and the goal)."""
DIFFERENCES = {"`train` per 10,000 more rows", "`train`'s fixed cost"}
"""Figures that subtract one timing from another: on the quick run's small tables, noise
can outweigh them, so they and their baselines may have any sign."""


def files_of(project: Path) -> set[str]:
    ignored = {".venv", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", "__pycache__"}
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if not ignored.intersection(path.relative_to(project).parts)
    }


def test_quick_bench_prints_every_figure(default_project: Path) -> None:
    before = files_of(default_project)
    result = run(
        ["uv", "run", "--all-extras", "python", "scripts/bench.py", "--quick", "--client", "httpx"],
        cwd=default_project,
        timeout=900,
    )
    rows = summary_table(result.stdout)

    for figure, (baselines, goal) in FIGURES.items():
        found = [cells for cells in rows if figure in cells[0]]
        assert len(found) == max(1, baselines), (figure, found)
        difference = any(figure.startswith(name) for name in DIFFERENCES)
        for _, value, baseline, baseline_value, ratio, printed_goal in found:
            if not difference:
                assert float(value) >= 0 if figure in COUNTS else float(value) > 0, figure
            assert goal in printed_goal and bool(goal) == bool(printed_goal), (figure, printed_goal)
            if not baselines:
                assert not baseline and not ratio, figure
                continue
            assert baseline and (difference or float(baseline_value) > 0), (figure, baseline)
            if float(baseline_value) != 0:  # a difference can be 0: no ratio then
                expected = float(value) / float(baseline_value)
                assert float(ratio.rstrip("x")) == pytest.approx(expected, rel=0.05, abs=0.01)
    assert len(rows) == sum(max(1, count) for count, _ in FIGURES.values()), rows
    assert "total time:" in result.stdout
    assert files_of(default_project) == before
