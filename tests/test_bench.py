"""`scripts/bench.py --quick` in the default project prints every figure as a positive number.

Benchmarks are figures, not pass/fail tests: no timing thresholds here, only that each line
of the summary table is there with a number above zero, and that the project's own files
are left as they were (the benchmark works in a temporary folder).
"""

from pathlib import Path

from .conftest import run

# Every figure of the summary table, and whether it is printed next to a baseline.
FIGURES = {
    "/predict requests/s": True,
    "/predict p50 latency (ms)": True,
    "/predict p99 latency (ms)": True,
    "load generator CPU (cores)": True,
    "/predict/batch rows/s (100 per request)": False,
    "/predict/batch rows/s (1000 per request)": False,
    "drift 1,000 rows x 30: seconds": True,
    "drift 1,000 rows x 30: peak memory (MB)": True,
    "drift 1,000 rows x 30: columns flagged": True,
    "drift 2,000 rows x 30: seconds": True,
    "drift 2,000 rows x 30: peak memory (MB)": True,
    "drift 2,000 rows x 30: columns flagged": True,
    "API image virtualenv (MB)": True,
    "wheel of the project (kB)": False,
}


def summary_table(stdout: str) -> dict[str, list[str]]:
    """Rows of the Markdown table: figure name -> the other cells."""
    rows = {}
    for line in stdout.splitlines():
        if not line.startswith("| ") or line.startswith("| ---"):
            continue
        name, *cells = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name] = cells
    rows.pop("figure")  # the header
    return rows


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

    for figure, compared in FIGURES.items():
        [name] = [name for name in rows if figure in name]
        value, baseline, baseline_value = rows[name]
        assert float(value) > 0, f"{name}: {value}"
        if compared:
            assert baseline, name
            assert float(baseline_value) > 0, f"{name} ({baseline}): {baseline_value}"
    assert len(rows) == len(FIGURES), sorted(rows)
    assert "total time:" in result.stdout
    assert files_of(default_project) == before
