"""`scripts/bench.py --quick` in the default project prints every figure as a positive number.

Benchmarks are figures, not pass/fail tests: no timing thresholds here, only that each line
of the summary table is there with a number above zero, and that the project's own files
are left as they were (the benchmark works in a temporary folder).
"""

from pathlib import Path

import pytest

from .conftest import run, summary_table

# Every figure of the summary table, and how many baselines it is printed next to (a row each).
FIGURES = {
    "`--help` seconds (goal < 1)": 1,  # the bare interpreter's start
    "/predict requests/s": 2,  # the same pipeline on a one-row array, and a constant
    "/predict p50 latency (ms)": 2,
    "/predict p99 latency (ms)": 2,
    "/predict/batch rows/s (100 per request)": 0,
    "/predict/batch rows/s (1000 per request)": 0,
    "drift 1,000 rows x 30: seconds": 1,
    "drift 1,000 rows x 30: peak memory (MB)": 1,
    "drift 1,000 rows x 30: columns flagged": 1,
    "drift 2,000 rows x 30: seconds": 1,
    "drift 2,000 rows x 30: peak memory (MB)": 1,
    "drift 2,000 rows x 30: columns flagged": 1,
    "API image virtualenv (MB)": 1,
    "wheel of the project (kB)": 0,
}


def files_of(project: Path) -> set[str]:
    ignored = {".venv", ".pytest_cache", ".ruff_cache", ".mypy_cache", "__pycache__"}
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

    for figure, baselines in FIGURES.items():
        found = [cells for cells in rows if figure in cells[0]]
        assert len(found) == max(1, baselines), (figure, found)
        for _, value, baseline, baseline_value, ratio in found:
            assert float(value) > 0, f"{figure}: {value}"
            if baselines:
                assert baseline and float(baseline_value) > 0, (figure, baseline)
                expected = float(value) / float(baseline_value)
                assert float(ratio.rstrip("x")) == pytest.approx(expected, rel=0.05, abs=0.01)
            else:
                assert not baseline and not ratio, figure
    assert len(rows) == sum(max(1, count) for count in FIGURES.values()), rows
    assert "total time:" in result.stdout
    assert files_of(default_project) == before
