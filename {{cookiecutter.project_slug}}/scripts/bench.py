"""Benchmarks: figures to compare side by side on this machine, not pass/fail tests.

0. Start-up: ``COMMAND --help`` (the goal: under 1 s), next to ``python -c pass``;
   ``train`` next to its own fitting step (the goal: fitting is most of it, under 2x), its
   step that exports the preprocessing to ONNX next to the fitting step too, ``train`` next
   to a fresh process that only loads the data and fits the same pipeline; the same goal on
   the project's table resampled to 10,000,000 cells (a CSV file), with its schema and split
   step, and, from a second run on half as many rows, ``train``'s seconds per row and its
   fixed cost, each next to its fitting step's; and ``serve`` until it answers ``/predict``
   (the goal: under 3 s), next to a bare FastAPI app.
1. ``/predict`` requests/s and p50/p99 latency of the real app (``serve``), next to two bare
   FastAPI endpoints served with the same uvicorn settings: one that runs the same fitted
   pipeline on a one-row array (the goal: at least 0.9x of it), one that returns a constant
   (the goal: at least 0.25x), at 8 and 32 requests in flight. Next to the same app with
   micro-batching off (``APP_MICRO_BATCH_MAX_ROWS=1``), with the rows per model call, and
   next to the same app with its preprocessing run by scikit-learn instead of the ONNX export
   (``APP_PREPROCESSING_RUNTIME=scikit-learn``). And the bare pipeline endpoint with the
   model in Starlette's thread pool next to the same on the event loop: the evidence for
   where ``/predict`` runs its model. The six servers run at once and take turns under load
   (3 rounds of 5 s each), so that a machine slowing down mid-run weighs on all of them alike.
2. ``/predict/batch`` rows/s, at 100 and 1,000 records per request (the goal: 50,000 rows/s
   at 1,000), and the prediction-log rows lost meanwhile (the goal: none).
3. Evidently's drift tests (the verdict: Wasserstein distance per column) next to a
   vectorised numpy version of the same test on the same synthetic data (the goal: at most
   3x), and the whole drift job (``detect_drift``, HTML report included) next to numpy too:
   time and peak memory, each in a fresh process.
   Then ``monitor`` itself on a prediction log of 1,000,000 rows (the goal: under 60 s and
   1 GiB), next to the same on 50,000 rows.
4. The size of the API image's virtualenv (the wheel and its locked dependencies, no dev
   tools), without and with the ``jobs`` extra.
5. With a Docker engine: both images built by ``make``, their size above the base image (the
   goals: API at most 300 MB, monitor at most 700 MB), and the base image's own size.
6. A learner's feedback: ``make test``, one pytest worker per core (the goal: under 60 s),
   next to the same tests on one worker (``make test PARALLEL=``), after an untimed run that
   compiles the bytecode for both. A --quick run times only the tests selected by
   ``-k schema``.

Everything runs in a temporary folder (its own model, SQLite log and virtualenvs) with no
APP_* variables or .env: it measures the default settings and leaves your files alone.
Servers listen on 127.0.0.1 only. The load generator (wrk if installed, else asyncio +
httpx in its own process) shares the CPU cores with the server: compare the figures with
each other, do not read them as the capacity of a production machine.

    uv run python scripts/bench.py           # make bench: a few minutes
    uv run python scripts/bench.py --quick   # smoke run: short and small, no images
    uv run python scripts/bench.py --images-only   # only figure 5
"""
# ruff: noqa: PLC0415 - imports inside functions on purpose: each measured process
# (server, load generator, drift job) loads only the libraries it needs.

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from processes import free_port, stop

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
CLI = str(Path(sys.executable).with_name("{{ cookiecutter.project_slug }}"))
JSON_HEADERS = {"Content-Type": "application/json"}
REAL = "real app"
UNBATCHED = "real app with micro-batching off (APP_MICRO_BATCH_MAX_ROWS=1)"
SKLEARN_PREPROCESSING = "real app, preprocessing in scikit-learn (APP_PREPROCESSING_RUNTIME)"
BARE = "bare FastAPI endpoint (constant)"
BARE_PIPELINE = "bare FastAPI endpoint (same pipeline, one-row array)"
BARE_THREADPOOL = "bare FastAPI endpoint (same pipeline, in the thread pool)"
NUMPY_DRIFT = "numpy, vectorised"
BARE_FIT = """\
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.train import feature_schema, fit_model, split_dataset

settings = Settings()
dataset = load_dataset(settings)
fit_model(dataset, split_dataset(dataset, settings), settings, feature_schema(dataset, settings))
"""
"""``train`` without MLflow: load the data, fit and evaluate the same pipeline, nothing kept."""


@dataclass(frozen=True)
class Plan:
    """How long and how big each benchmark is."""

    warmup: float  # seconds of load before measuring
    duration: float  # seconds measured per load run
    rounds: int  # /predict: load runs per server, taking turns with the other servers
    connections: tuple[int, ...]  # requests in flight on /predict
    batch_connections: int  # requests in flight on /predict/batch
    batch_sizes: tuple[int, ...]
    drift_rows: tuple[int, ...]  # rows of the reference and of the current frame
    log_rows: tuple[int, int]  # rows in the prediction log for monitor: large, then small
    train_cells: int  # rows x columns of the large table `train` learns from
    tests_selected: str  # pytest options choosing the tests that `make test` runs
    drift_features: int = 30
    drift_shifted: int = 3  # features moved by half a standard deviation


FULL = Plan(
    warmup=2,
    duration=5,
    rounds=3,
    connections=(8, 32),
    batch_connections=2,
    batch_sizes=(100, 1000),
    drift_rows=(10_000, 100_000),
    log_rows=(1_000_000, 50_000),
    train_cells=10_000_000,
    tests_selected="",
)
QUICK = Plan(
    warmup=1,
    duration=2,
    rounds=1,
    connections=(4,),
    batch_connections=2,
    batch_sizes=(100, 1000),
    drift_rows=(1_000, 2_000),
    log_rows=(20_000, 2_000),
    train_cells=200_000,
    tests_selected="-k schema",
)


@dataclass(frozen=True)
class Figure:
    """One line of the summary: a figure of the project, and what it is compared with."""

    name: str
    value: float
    baseline: str = ""
    baseline_value: float | None = None
    goal: str = ""


@dataclass(frozen=True)
class LoadResult:
    """What the load generator measured (failed requests are not in the latencies)."""

    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu: float  # CPU time of the load generator / wall time (1.0 = one full core)

    @property
    def per_second(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds


def pooled(runs: list[LoadResult]) -> LoadResult:
    """Several load runs of one server as one: all their requests over all their time."""
    return LoadResult(
        requests=sum(run.requests for run in runs),
        failed=sum(run.failed for run in runs),
        seconds=sum(run.seconds for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        client_cpu=statistics.mean(run.client_cpu for run in runs),
    )


@dataclass(frozen=True)
class JobResult:
    """Time and memory of one drift computation."""

    seconds: float
    peak_mb: float  # peak resident memory of the whole process
    flagged: int  # columns found drifted


# --- 0: start-up ----------------------------------------------------------------------------


def bench_startup() -> list[Figure]:
    """``--help`` against the bare interpreter's start, best of three each."""
    progress("start-up: --help")

    def best_of_three(command: list[str]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        return min(times)

    help_seconds = best_of_three([CLI, "--help"])
    bare_seconds = best_of_three([sys.executable, "-c", "pass"])
    return [Figure("`--help` seconds", help_seconds, "python -c pass", bare_seconds, "< 1 s")]


# --- Load generators -------------------------------------------------------------------


def httpx_load(
    url: str, body: bytes, connections: int, warmup: float, duration: float
) -> LoadResult:
    """POST ``body`` to ``url`` from ``connections`` concurrent clients (closed loop)."""
    return asyncio.run(_httpx_load(url, body, connections, warmup, duration))


async def _httpx_load(
    url: str, body: bytes, connections: int, warmup: float, duration: float
) -> LoadResult:
    latencies: list[float] = []
    failed = 0
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def client_loop(until: float, measure: bool) -> None:
            nonlocal failed
            while time.perf_counter() < until:
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=JSON_HEADERS)
                    ok = response.status_code == httpx.codes.OK
                except httpx.HTTPError:
                    ok = False
                if measure and ok:
                    latencies.append(time.perf_counter() - started)
                elif measure:
                    failed += 1

        async def run_for(seconds: float, measure: bool) -> None:
            until = time.perf_counter() + seconds
            await asyncio.gather(*(client_loop(until, measure) for _ in range(connections)))

        await run_for(warmup, measure=False)  # connections open, caches and JITs warm
        cpu, started = time.process_time(), time.perf_counter()
        await run_for(duration, measure=True)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(
        requests=len(latencies),
        failed=failed,
        seconds=seconds,
        p50_ms=1000 * percentiles[49],
        p99_ms=1000 * percentiles[98],
        client_cpu=cpu / seconds,
    )


def wrk_load(url: str, body: bytes, connections: int, warmup: float, duration: float) -> LoadResult:
    """The same load with wrk (written in C: the client takes less CPU from the server)."""
    script = Path("wrk-post.lua")  # in the benchmark's temporary folder
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body.decode()}]==]\n",
        encoding="utf-8",
    )
    command = ["wrk", "--threads", "1", "--connections", str(connections), "--latency"]
    command += ["--script", str(script), url, "--duration"]
    subprocess.run([*command, f"{max(1, round(warmup))}s"], capture_output=True, check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        [*command, f"{max(1, round(duration))}s"], capture_output=True, text=True, check=True
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    def parsed(pattern: str) -> float:
        found = re.search(pattern, output, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def latency_ms(percent: int) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s) *$", output, re.MULTILINE)
        if not found:
            raise RuntimeError(f"no {percent}% latency in the output of wrk:\n{output}")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    seconds = parsed(r"requests in ([\d.]+)s")
    failed = parsed(r"Non-2xx or 3xx responses: (\d+)") + sum(
        int(count) for count in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return LoadResult(
        requests=int(parsed(r"^\s+(\d+) requests in") - failed),
        failed=int(failed),
        seconds=seconds,
        p50_ms=latency_ms(50),
        p99_ms=latency_ms(99),
        client_cpu=cpu / seconds,
    )


def measure_load(client: str, url: str, body: bytes, connections: int, plan: Plan) -> LoadResult:
    """Run the chosen load generator against ``url`` in a process of its own."""
    if client == "wrk":
        return wrk_load(url, body, connections, plan.warmup, plan.duration)
    with fresh_process() as pool:
        return pool.submit(httpx_load, url, body, connections, plan.warmup, plan.duration).result()


# --- Servers -----------------------------------------------------------------------------


def serve_bare(port: int, model_dir: str | None, *, threadpool: bool = False) -> None:
    """A FastAPI app with one POST endpoint, run like ``serve``.

    It returns a constant, or (with ``model_dir``) scores the champion's fitted pipeline on a
    fixed one-row array: the cost of the model alone, without validation, logging or metrics.
    With ``threadpool``, the model runs in Starlette's thread pool instead of on the event
    loop (as ``/predict/batch`` does; ``/predict`` runs it on the loop).
    """
    import uvicorn
    from fastapi import FastAPI, Request
    from starlette.concurrency import run_in_threadpool

    app = FastAPI()
    if model_dir is None:

        @app.post("/predict")
        async def constant() -> dict[str, str]:
            return {"prediction": "constant"}

    else:
        from {{ cookiecutter.package_name }}.config import Settings
        from {{ cookiecutter.package_name }}.io.registry import open_registry

        model = open_registry(Settings(model_dir=Path(model_dir))).load_champion()
        schema = model.metadata.feature_schema
        row = schema.to_matrix(pd.DataFrame([schema.example]), "example")
        score = getattr(model.pipeline, "predict_proba", model.pipeline.predict)

        @app.post("/predict")
        async def pipeline(request: Request) -> dict[str, list[float]]:
            await request.body()
            scores = await run_in_threadpool(score, row) if threadpool else score(row)
            return {"scores": scores[0].tolist()}

    uvicorn.run(app, host="127.0.0.1", port=port, workers=1)


@dataclass(frozen=True)
class StartedServer:
    """A server that answers, and how long it took from its start to its first answer."""

    url: str
    start_seconds: float


@contextlib.contextmanager
def server(
    command: list[str], env: dict[str, str], port: int, body: bytes
) -> Iterator[StartedServer]:
    """Start a server, wait until ``POST /predict`` answers 200, yield it, then stop it."""
    url = f"http://127.0.0.1:{port}"
    log = Path(f"server-{port}.log")
    started = time.perf_counter()
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{url}/predict", body):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield StartedServer(url, time.perf_counter() - started)
    finally:
        stop(process)


def _answers(url: str, body: bytes) -> bool:
    try:
        return httpx.post(url, content=body, headers=JSON_HEADERS).status_code == httpx.codes.OK
    except httpx.TransportError:
        return False


def prometheus_value(metrics: str, name: str) -> float:
    """The value of an unlabelled metric in the Prometheus text format."""
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def micro_batches(url: str) -> tuple[float, float]:
    """The rows scored by /predict so far, and the model calls that scored them."""
    metrics = httpx.get(f"{url}/metrics").text
    rows, calls = (
        prometheus_value(metrics, f"predict_micro_batch_rows_{part}") for part in ("sum", "count")
    )
    return rows, calls


def fresh_process() -> ProcessPoolExecutor:
    """A pool of one new Python process (spawned, not forked: it shares nothing with us)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


# --- 1 and 2: the API --------------------------------------------------------------------


def project_env() -> dict[str, str]:
    """Settings that keep every file of the project's commands in the temporary folder."""
    workdir = Path.cwd()
    return {
        **os.environ,
        "APP_HOST": "127.0.0.1",
        "APP_MODEL_DIR": str(workdir / "models"),
        "APP_MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'models' / 'mlflow.db'}",
        "APP_DATABASE_URL": f"sqlite:///{workdir / 'predictions.db'}",
        "APP_REPORTS_DIR": str(workdir / "reports"),
        "APP_DATA_PATH": str(ROOT / "data" / "dataset.csv"),  # used when dataset=csv
    }


def timed_train(env: dict[str, str], *options: str) -> tuple[float, dict[str, float]]:
    """``train``'s seconds, and its steps' by their first word (rich wraps long step lines)."""
    started = time.perf_counter()
    trained = subprocess.run(
        [CLI, "train", *options], env=env, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    words = "Loading|Inferring|Fitting|Exporting|Recording"
    steps = re.findall(rf"^- ({words}) .*?: done in ([0-9.]+)s", trained.stderr, re.M | re.S)
    return seconds, {word: float(step_seconds) for word, step_seconds in steps}


def bench_train_at_scale(plan: Plan) -> list[Figure]:
    """``train`` (not promoted) on the project's own table resampled to large CSV files.

    Trained on ``plan.train_cells`` cells, then on half as many: the difference is what
    ``train`` spends per row, set next to what its fitting step spends per row; the rest is
    its fixed cost (starting Python, importing scikit-learn and MLflow, opening the registry).
    """
    from {{ cookiecutter.package_name }}.config import Settings
    from {{ cookiecutter.package_name }}.data import load_dataset

    dataset = load_dataset(Settings(data_path=ROOT / "data" / "dataset.csv"))
    table = dataset.features.assign(**{str(dataset.target.name): dataset.target})
    rows = plan.train_cells // table.shape[1]
    runs = {}
    for size in (rows // 2, rows):
        progress(f"train on the project's table resampled to {size:,} rows")
        large = Path("large-table.csv").resolve()
        table.sample(n=size, replace=True, random_state=0).to_csv(large, index=False)
        env = {
            **project_env(),
            "APP_DATASET": "csv",
            "APP_DATA_PATH": str(large),
            "APP_TARGET_COLUMN": str(dataset.target.name),
        }
        runs[size] = timed_train(env, "--no-promote")
        large.unlink()
    (half_seconds, half_steps), (seconds, steps) = runs[rows // 2], runs[rows]
    more_rows = seconds - half_seconds  # what the second half of the rows costs
    fit_more_rows = steps["Fitting"] - half_steps["Fitting"]
    label = f"`train` on {rows:,} rows"
    return [
        Figure(f"{label}, seconds", seconds, "its fitting step", steps["Fitting"], "< 2x"),
        Figure(
            f"{label}: schema and split step, seconds",
            steps["Inferring"],
            "its fitting step",
            steps["Fitting"],
        ),
        Figure(
            f"`train` per {rows - rows // 2:,} more rows, seconds",
            more_rows,
            "its fitting step per as many more",
            fit_more_rows,
        ),
        Figure(
            "`train`'s fixed cost (extrapolated to 0 rows), seconds",
            half_seconds - more_rows,
            "its fitting step, extrapolated alike",
            half_steps["Fitting"] - fit_more_rows,
        ),
    ]


def bench_api(plan: Plan, client: str, notes: list[str]) -> list[Figure]:
    """Train a model in the temporary folder, then load the real app and the bare apps."""
    env = project_env()
    progress("training a model into the temporary folder")
    train_seconds, steps = timed_train(env)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_FIT], env=env, capture_output=True, check=True)
    bare_fit_seconds = time.perf_counter() - started
    single = Path("examples/request.json").read_bytes()  # written by train
    records = json.loads(Path("examples/batch.json").read_bytes())["records"]

    # Every server runs at once, and their load runs take turns, round after round: a
    # machine that slows down (other work, heat) slows them all alike, and the ratios hold.
    # The start of each is timed alone: the ones already started are idle meanwhile.
    servers = {}
    for name, extra_env in [
        (REAL, {}),
        (UNBATCHED, {"APP_MICRO_BATCH_MAX_ROWS": "1"}),
        (SKLEARN_PREPROCESSING, {"APP_PREPROCESSING_RUNTIME": "scikit-learn"}),
    ]:
        port = free_port()
        servers[name] = ([CLI, "serve"], {**env, "APP_PORT": str(port), **extra_env}, port)
    with_model = ["--model-dir", env["APP_MODEL_DIR"]]
    for name, extra in [
        (BARE_PIPELINE, with_model),
        (BARE_THREADPOOL, [*with_model, "--threadpool"]),
        (BARE, []),
    ]:
        port = free_port()
        bare_command = [sys.executable, str(SCRIPT), "--bare-server", str(port), *extra]
        servers[name] = (bare_command, env, port)
    with contextlib.ExitStack() as running:
        apps = {
            name: running.enter_context(server(command, command_env, port, single))
            for name, (command, command_env, port) in servers.items()
        }
        turns: dict[str, dict[int, list[LoadResult]]] = {name: {} for name in apps}
        real_app = apps[REAL]  # the model calls, the batches and the log's losses are its own
        rows_per_call: dict[int, float] = {}
        for connections in plan.connections:
            before = micro_batches(real_app.url)
            for turn in range(plan.rounds):
                for name, app in apps.items():
                    progress(
                        f"/predict on the {name}: {connections} in flight, round {turn + 1} of "
                        f"{plan.rounds}, {plan.duration}s"
                    )
                    turns[name].setdefault(connections, []).append(
                        measure_load(client, f"{app.url}/predict", single, connections, plan)
                    )
            after = micro_batches(real_app.url)
            rows_per_call[connections] = (after[0] - before[0]) / max(after[1] - before[1], 1)
        batches = {}
        for size in plan.batch_sizes:
            progress(f"/predict/batch with {size} records per request")
            body = json.dumps({"records": [records[i % len(records)] for i in range(size)]})
            batches[size] = measure_load(
                client, f"{real_app.url}/predict/batch", body.encode(), plan.batch_connections, plan
            )
        metrics = httpx.get(f"{real_app.url}/metrics").text
    lost = sum(
        prometheus_value(metrics, name)
        for name in ["prediction_log_dropped_total", "prediction_log_errors_total"]
    )
    bare = {name: {n: pooled(r) for n, r in by_count.items()} for name, by_count in turns.items()}
    for name, result in [
        *((f"{name}, {n} in flight", r) for name, runs in bare.items() for n, r in runs.items()),
        *((f"batches of {size}", result) for size, result in batches.items()),
    ]:
        if result.failed:
            progress(f"warning: {result.failed} failed requests ({name})")
    real = bare.pop(REAL)  # the rest are the bare apps, and the real one's variants
    unbatched, sklearn_preprocessing = bare.pop(UNBATCHED), bare.pop(SKLEARN_PREPROCESSING)
    goals = {BARE_PIPELINE: ">= 0.9x", BARE: ">= 0.25x"}
    figures = [
        Figure("`train` seconds", train_seconds, "its fitting step", steps["Fitting"], "< 2x"),
        Figure(
            "`train`'s ONNX export step, seconds",
            steps["Exporting"],
            "its fitting step",
            steps["Fitting"],
        ),
        Figure(
            "`train` (MLflow included) seconds",
            train_seconds,
            "loading and fitting alone (no MLflow)",
            bare_fit_seconds,
        ),
        Figure(
            "`serve` to its first /predict, seconds",
            real_app.start_seconds,
            BARE,
            apps[BARE].start_seconds,
            "< 3 s",
        ),
    ]
    for connections, result in real.items():
        in_flight = f"({connections} in flight)"
        figures += [
            Figure(
                f"/predict requests/s {in_flight}",
                result.per_second,
                name,
                bare[name][connections].per_second,
                goal,
            )
            for name, goal in goals.items()
        ]
        figures += [
            Figure(
                f"/predict p{percent} latency (ms) {in_flight}",
                getattr(result, f"p{percent}_ms"),
                name,
                getattr(bare[name][connections], f"p{percent}_ms"),
            )
            for percent in (50, 99)
            for name in goals
        ]
        figures += [
            Figure(
                f"micro-batching: requests/s {in_flight}",
                result.per_second,
                UNBATCHED,
                unbatched[connections].per_second,
            ),
            Figure(
                f"micro-batching: p99 latency (ms) {in_flight}",
                result.p99_ms,
                UNBATCHED,
                unbatched[connections].p99_ms,
            ),
            Figure(f"micro-batching: rows per model call {in_flight}", rows_per_call[connections]),
            Figure(
                f"ONNX preprocessing: requests/s {in_flight}",
                result.per_second,
                SKLEARN_PREPROCESSING,
                sklearn_preprocessing[connections].per_second,
            ),
        ]
        figures.append(
            Figure(
                f"bare pipeline requests/s, model in the thread pool {in_flight}",
                bare[BARE_THREADPOOL][connections].per_second,
                "the same, model on the event loop",
                bare[BARE_PIPELINE][connections].per_second,
            )
        )
    notes.append(
        f"{client} load generator CPU while loading the real app: "
        + ", ".join(f"{r.client_cpu:.2f} cores ({n} in flight)" for n, r in real.items())
    )
    figures += [
        Figure(
            f"/predict/batch rows/s ({size} per request)",
            result.per_second * size,
            goal=">= 50,000" if size == 1000 else "",  # noqa: PLR2004
        )
        for size, result in batches.items()
    ]
    figures.append(Figure("prediction-log rows lost in the batch runs", lost, goal="0"))
    return figures


# --- 3: the drift job --------------------------------------------------------------------


def synthetic_frames(
    rows: int, features: int, shifted: int, prediction_column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames of normal noise; the first ``shifted`` features move."""
    generator = np.random.default_rng(0)
    names = [f"feature_{index:02d}" for index in range(features)]
    frames = [
        pd.DataFrame(generator.normal(size=(rows, features)), columns=names) for _ in range(2)
    ]
    reference, current = frames
    current[names[:shifted]] += 0.5  # half a standard deviation
    for frame in frames:  # a 0/1 label: valid as a class (classification) or a value
        frame[prediction_column] = (frame[names[0]] > 0).astype(int)
    return reference, current


def peak_rss_mb() -> float:
    """The peak resident memory of this process, in MB.

    On Linux, VmHWM: ``getrusage().ru_maxrss`` would also count the peak of the parent
    process that started us (it survives fork and exec).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    return max_rss_mb(resource.RUSAGE_SELF)


def max_rss_mb(who: int) -> float:
    """``getrusage(who).ru_maxrss`` in MB (kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def evidently_job(rows: int, features: int, shifted: int) -> JobResult:
    """The project's drift job (``detect_drift``, HTML report included) on synthetic data."""
    from datetime import UTC, datetime

    from {{ cookiecutter.package_name }}.config import Settings
    from {{ cookiecutter.package_name }}.model import ModelMetadata
    from {{ cookiecutter.package_name }}.monitoring.drift import detect_drift
    from {{ cookiecutter.package_name }}.monitoring.window import Window
    from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN
    from {{ cookiecutter.package_name }}.schema_inference import infer_schema

    reference, current = synthetic_frames(rows, features, shifted, PREDICTION_COLUMN)
    names = [str(name) for name in reference.columns if name != PREDICTION_COLUMN]
    model = ModelMetadata.model_validate(
        {
            "version": "v0",
            "created_at": datetime.now(UTC),
            "task": "{{ cookiecutter.__task }}",
            "dataset": "synthetic",
            "data_sha256": "",
            "target": "target",
            "classes": ["0", "1"],  # ignored by regression projects
            "feature_schema": infer_schema(reference[names], {}, 50, "synthetic"),
            "metrics": {},
            "primary_metric": "none",
            "training_rows": rows,
            "test_rows": 0,
            "sha256": "",
            "library_versions": {},
        }
    )
    started = time.perf_counter()
    summary, _html = detect_drift(reference, current, model, Settings(), Window(source="bench"))
    seconds = time.perf_counter() - started
    prediction_drifted = summary.prediction is not None and summary.prediction.drifted
    return JobResult(seconds, peak_rss_mb(), len(summary.drifted_features) + prediction_drifted)


def evidently_tests_job(rows: int, features: int, shifted: int) -> JobResult:
    """Evidently's drift test alone, as the verdict runs it: on every column, as numpy does."""
    from {{ cookiecutter.package_name }}.config import Settings
    from {{ cookiecutter.package_name }}.monitoring.drift_tests import (
        configured_test,
        run_drift_tests,
    )

    reference, current = synthetic_frames(rows, features, shifted, "prediction")
    test = configured_test(Settings(), "numeric")
    started = time.perf_counter()
    results = run_drift_tests(dict.fromkeys(reference.columns, test), reference, current)
    seconds = time.perf_counter() - started
    return JobResult(seconds, peak_rss_mb(), sum(result.drifted for result in results.values()))


def numpy_drift_job(rows: int, features: int, shifted: int) -> JobResult:
    """The same test in plain numpy: every column's Wasserstein distance, all at once.

    On a common grid of quantiles, the mean gap between the two samples' quantile
    functions (the 1-D Wasserstein distance), in reference standard deviations.
    """
    from {{ cookiecutter.package_name }}.config import Settings

    reference, current = synthetic_frames(rows, features, shifted, "prediction")
    threshold = Settings().drift_numeric_threshold
    started = time.perf_counter()
    grid = np.linspace(0, 1, 2001)
    before, after = (np.quantile(frame.to_numpy(), grid, axis=0) for frame in (reference, current))
    distance = np.abs(before - after).mean(axis=0) / reference.to_numpy().std(axis=0)
    flagged = int((distance >= threshold).sum())
    return JobResult(time.perf_counter() - started, peak_rss_mb(), flagged)


def run_job(job: Callable[[int, int, int], JobResult], rows: int, plan: Plan) -> JobResult:
    """Run a drift computation in a fresh process, so its memory peak is its own."""
    with fresh_process() as pool:
        return pool.submit(job, rows, plan.drift_features, plan.drift_shifted).result()


def bench_drift(plan: Plan) -> list[Figure]:
    """Evidently and the numpy version on the same data, for each size."""
    figures = []
    for rows in plan.drift_rows:
        progress(f"drift computation on {rows:,} rows x {plan.drift_features} features")
        tests = run_job(evidently_tests_job, rows, plan)
        project = run_job(evidently_job, rows, plan)
        baseline = run_job(numpy_drift_job, rows, plan)
        label = f"drift {rows:,} rows x {plan.drift_features}"
        compared = [  # each figure next to numpy's
            ("Evidently's tests, seconds", tests.seconds, baseline.seconds, "<= 3x"),
            ("the job with its report, seconds", project.seconds, baseline.seconds, ""),
            ("peak memory of the job (MB)", project.peak_mb, baseline.peak_mb, ""),
            ("columns flagged by the tests", tests.flagged, baseline.flagged, ""),
            ("columns flagged by the job", project.flagged, baseline.flagged, ""),
        ]
        figures += [
            Figure(f"{label}: {name}", value, NUMPY_DRIFT, numpy_value, goal)
            for name, value, numpy_value, goal in compared
        ]
    return figures


def fill_prediction_log(rows: int) -> None:
    """Log ``rows`` predictions: the champion's reference rows, again and again."""
    from datetime import UTC, datetime

    from {{ cookiecutter.package_name }}.config import Settings
    from {{ cookiecutter.package_name }}.io.registry import open_registry
    from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
        create_db_engine,
        ensure_table,
        insert_rows,
        log_row,
    )
    from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

    os.environ.update(project_env())
    settings = Settings()
    registry = open_registry(settings)
    reference = registry.reference(registry.require_champion())
    values = json.loads(reference.to_json(orient="records"))  # NaN becomes None
    now = datetime.now(UTC)
    engine = create_db_engine(settings.database_url)
    ensure_table(engine)
    chunk_rows = 50_000  # rows per insert
    for start in range(0, rows, chunk_rows):
        chunk = [values[i % len(values)] for i in range(start, min(rows, start + chunk_rows))]
        batch = [
            log_row(
                "bench",
                "v1",
                {k: v for k, v in r.items() if k != PREDICTION_COLUMN},
                r[PREDICTION_COLUMN],
                now,
            )
            for r in chunk
        ]
        with engine.begin() as connection:
            insert_rows(connection, batch)
    engine.dispose()


def monitor_job() -> JobResult:
    """``monitor`` on the prediction log of the temporary folder: its time and peak memory."""
    started = time.perf_counter()
    command = [CLI, "monitor"]
    done = subprocess.run(command, env=project_env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 3):  # a verdict, drift or not: anything else measured nothing
        raise RuntimeError(f"monitor exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return JobResult(seconds, max_rss_mb(resource.RUSAGE_CHILDREN), 0)  # only child: monitor


def bench_monitor(plan: Plan) -> list[Figure]:
    """``monitor`` on a large log and on a small one (reading, sampling, Evidently, reports)."""
    results = []
    for rows in plan.log_rows:
        Path("predictions.db").unlink(missing_ok=True)
        progress(f"monitor on a prediction log of {rows:,} rows")
        with fresh_process() as pool:
            pool.submit(fill_prediction_log, rows).result()
        with fresh_process() as pool:
            results.append(pool.submit(monitor_job).result())
    (large, small), (big, little) = results, plan.log_rows
    baseline = f"the same, {little:,} rows"
    label = f"monitor, {big:,}-row log"
    return [
        Figure(f"{label}: seconds", large.seconds, baseline, small.seconds, "< 60 s"),
        Figure(f"{label}: peak memory (MB)", large.peak_mb, baseline, small.peak_mb, "< 1,074"),
    ]


# --- 4: the API image's virtualenv ---------------------------------------------------------


def bench_venv() -> list[Figure]:
    """Build the wheel, install it as the Dockerfile does, and measure the virtualenvs."""
    progress("building the wheel")
    dist = Path.cwd() / "dist"
    uv(["build", "--wheel", "--quiet", "--out-dir", str(dist)])
    [wheel] = dist.glob("*.whl")
    api = venv_size_mb(wheel, extras=[])
    with_jobs = venv_size_mb(wheel, extras=["jobs"])
    return [
        Figure("API image virtualenv (MB)", api, "with the jobs extra", with_jobs),
        Figure("wheel of the project (kB)", wheel.stat().st_size / 1e3),
    ]


# --- 6: a learner's feedback ---------------------------------------------------------------


def bench_feedback(plan: Plan) -> list[Figure]:
    """``make test`` on every core against the same tests on one worker, in the project."""
    selected = f" {plan.tests_selected}" if plan.tests_selected else ""
    progress(f"feedback: make test{selected}: a warm-up, one worker, then every core")
    env = {**os.environ, "PYTEST_ADDOPTS": plan.tests_selected}

    def seconds(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
        return time.perf_counter() - started

    # A first run, untimed: a fresh virtualenv compiles its bytecode then, once for both runs.
    seconds(["make", "test", "PARALLEL="])
    one_worker = seconds(["make", "test", "PARALLEL="])
    every_core = seconds(["make", "test"])
    return [
        Figure(
            f"`make test{selected}` seconds",
            every_core,
            "the same tests on one worker",
            one_worker,
            "< 60 s",
        )
    ]


def bench_images(notes: list[str]) -> list[Figure]:
    """Build both images as `make` does; their sizes above the base image, and the base's."""
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        notes.append("images: no Docker engine answers here, so they were not measured")
        return []
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = "python:{}-slim".format(*re.findall(r"^ARG PYTHON_VERSION=(\S+)$", dockerfile, re.M))
    tags = {
        "docker-build-api": "IMAGE=bench-api:local",
        "docker-build-monitor": "MONITOR_IMAGE=bench-monitor:local",
    }
    for target, tag in tags.items():
        progress(f"make {target} {tag}")
        subprocess.run(["make", "--silent", target, tag], cwd=ROOT, check=True, capture_output=True)
    base_mb = image_size_mb(base)
    api, monitor = (image_size_mb(tag.split("=")[1]) - base_mb for tag in tags.values())
    return [
        Figure(
            "API image above its base (MB)",
            api,
            "monitor image above its base",
            monitor,
            "<= 300 (monitor <= 700)",
        ),
        Figure(f"base image {base} (MB)", base_mb),
    ]


def image_size_mb(image: str) -> float:
    """Size of a local image, in MB."""
    inspect = ["docker", "image", "inspect", "--format", "{{ '{{' }}.Size{{ '}}' }}", image]
    return int(subprocess.run(inspect, check=True, capture_output=True, text=True).stdout) / 1e6


def venv_size_mb(wheel: Path, extras: list[str]) -> float:
    """Size of a fresh venv holding the wheel and its locked dependencies (no dev group)."""
    name = "-".join(["venv", *extras])
    progress(f"installing the wheel into a fresh {name}")
    venv = Path.cwd() / name
    requirements = venv.with_suffix(".txt")
    extra_options = [option for extra in extras for option in ("--extra", extra)]
    export = ["export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--quiet"]
    uv([*export, *extra_options, "--output-file", str(requirements)])
    uv(["venv", "--quiet", "--python", sys.executable, str(venv)])
    install = ["pip", "install", "--quiet", "--compile-bytecode", "--link-mode", "copy"]
    uv([*install, "--python", str(venv / "bin" / "python"), "-r", str(requirements), str(wheel)])
    files = [path for path in venv.rglob("*") if path.is_file() and not path.is_symlink()]
    return sum(path.stat().st_size for path in files) / 1e6


def uv(arguments: list[str]) -> None:
    """Run a uv command from the project root (where pyproject.toml and uv.lock are)."""
    executable = os.environ.get("UV", "uv")  # `uv run` says which uv started us
    subprocess.run([executable, *arguments], cwd=ROOT, check=True)


# --- Output --------------------------------------------------------------------------------


def progress(message: str) -> None:
    """A progress line on standard error; figures go to standard output."""
    print(f"- {message}", file=sys.stderr, flush=True)


def number(value: float) -> str:
    """Three significant digits for small numbers, whole numbers from 100 up."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"  # noqa: PLR2004


def print_table(figures: list[Figure], notes: list[str]) -> None:
    """The figures as a Markdown table (paste it into a pull request), then notes."""
    rows = [["figure", "this project", "baseline", "baseline's value", "ratio", "goal"]]
    rows += [
        [
            figure.name,
            number(figure.value),
            figure.baseline,
            "" if figure.baseline_value is None else number(figure.baseline_value),
            f"{figure.value / figure.baseline_value:.2f}x" if figure.baseline_value else "",
            figure.goal,
        ]
        for figure in figures
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    rows.insert(1, ["-" * width for width in widths])
    for row in rows:
        cells = [
            cell.rjust(width) if column in (1, 3, 4) else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    for note in notes:
        print(f"- {note}")


def main() -> None:
    """Run every benchmark in a temporary folder and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short and small: a smoke run")
    parser.add_argument(
        "--images-only", action="store_true", help="only build the two images and size them"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="load generator (auto: wrk if it is on PATH, else httpx)",
    )
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--threadpool", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server, args.model_dir, threadpool=args.threadpool)
        return
    if args.images_only:
        image_notes: list[str] = []
        print_table(bench_images(image_notes), image_notes)
        return
    plan = QUICK if args.quick else FULL
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    for name in [name for name in os.environ if name.startswith("APP_")]:
        del os.environ[name]  # default settings for every process started below

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    notes: list[str] = []
    # No .env in the temporary folder, and every file the benchmark writes lands there.
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir, contextlib.chdir(workdir):
        figures = [
            *bench_startup(),
            *bench_api(plan, client, notes),
            *bench_train_at_scale(plan),
            *bench_drift(plan),
            *bench_monitor(plan),
            *bench_venv(),
            *([] if args.quick else bench_images(notes)),
            *bench_feedback(plan),
        ]
    if args.quick:
        notes.append("images: not built in a --quick run (--images-only builds and sizes them)")
    print_table(
        figures,
        [
            *notes,
            f"{os.cpu_count()} CPU cores, shared by the server and the load generator ({client}):"
            " a load generator near 1 core is the limit, not the server",
            f"load average before the run: {load_before:.1f} (anything else running on the "
            "machine skews the figures)",
            "latency: time per request seen by the client with that many requests in flight",
            "train: its fitting step is timed inside it; `loading and fitting alone` is a fresh"
            " process that loads the data and fits the same pipeline: the difference is MLflow"
            " (its import, the run, the registry and the artifacts); `train` on N rows: the"
            " project's table sampled with replacement into a CSV file, a version not promoted",
            f"drift: reference and current frames of that many rows, {plan.drift_shifted} "
            f"features shifted by 0.5 sd, and the prediction with them: {plan.drift_shifted + 1}"
            " columns truly drifted; Evidently's tests are the verdict, the job adds the HTML"
            " report (every column's test result, charts of the drifted columns, every"
            " column's data quality); peak memory is the whole process (libraries, data,"
            " computation)",
            "monitor: the whole command on a SQLite log of the trained model's reference rows"
            " (start-up, reading a sample of APP_DRIFT_MAX_ROWS, Evidently, both reports)",
            "virtualenv: the wheel and its locked dependencies, bytecode compiled, Python itself"
            " not included; the images then drop the numeric libraries' test suites, and the"
            " API image the bytecode of what `serve` does not import",
            f"total time: {time.perf_counter() - started:.0f}s",
        ],
    )


if __name__ == "__main__":
    main()
