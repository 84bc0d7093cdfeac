"""Load test: concurrent clients against a real server; no failed request, no lost log row.

Trains a model into a temporary folder, then starts the server,
``{{ cookiecutter.project_slug }} serve``,
on a free port of 127.0.0.1 with a temporary SQLite prediction log; runs CONCURRENCY clients
(asyncio + httpx) against ``/predict`` and ``/predict/batch`` for DURATION seconds; stops the
server gracefully (SIGTERM to its PID); then checks that no request failed and that the log
holds exactly one row per record predicted. Prints the figures; exits 1 if a check fails.

    uv run python scripts/load_test.py                    # make load-test: 8 clients, 5 s
    uv run python scripts/load_test.py --duration 60 --concurrency 32

The tests reuse the building blocks (``start_server``, ``run_load``, ``logged_request_ids``).
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import httpx
import numpy as np
from processes import free_port, stop
from sqlalchemy import func, inspect, select

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import Dataset, load_dataset
from {{ cookiecutter.package_name }}.io.registry import open_registry
from {{ cookiecutter.package_name }}.io.tracking import register_trained
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    create_db_engine,
    predictions,
)
from {{ cookiecutter.package_name }}.monitoring.traffic import sample_records
from {{ cookiecutter.package_name }}.schema import FeatureValue
from {{ cookiecutter.package_name }}.train import (
    fit_model,
    split_dataset,
    with_onnx_export,
)

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "{{ cookiecutter.project_slug }}"
GRACEFUL_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
RETRY_PAUSE = 0.1  # seconds a client waits after a connection error (server down)
SINGLE_SHARE = 0.5  # share of requests sent to /predict; the others go to /predict/batch


class ServerError(RuntimeError):
    """The server exited or did not become ready; the message ends with its log."""


def command_path() -> str:
    """The project's command, from the virtualenv of this interpreter if it is there."""
    beside = Path(sys.executable).with_name(COMMAND)
    return str(beside) if beside.exists() else shutil.which(COMMAND) or COMMAND


def settings_env(settings: Settings) -> dict[str, str]:
    """The APP_* variables that reproduce ``settings`` in a subprocess or CLI run."""
    env = {
        "APP_DATASET": settings.dataset,
        "APP_TARGET_COLUMN": settings.target_column,
        "APP_FEATURE_KINDS": json.dumps(settings.feature_kinds),
        "APP_EXAMPLES_DIR": str(settings.examples_dir),
        "APP_DATA_PATH": str(settings.data_path),
        "APP_MODEL_DIR": str(settings.model_dir),
        "APP_DATABASE_URL": settings.database_url,
        "APP_REPORTS_DIR": str(settings.reports_dir),
        "APP_DRIFT_MIN_ROWS": str(settings.drift_min_rows),
        "APP_MODEL_POLL_SECONDS": str(settings.model_poll_seconds),
        "APP_LOG_FLUSH_SECONDS": str(settings.log_flush_seconds),
    }
    if settings.mlflow_tracking_uri is not None:
        env["APP_MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
    if settings.admin_token is not None:
        env["APP_ADMIN_TOKEN"] = settings.admin_token.get_secret_value()
    if settings.feedback_token is not None:
        env["APP_FEEDBACK_TOKEN"] = settings.feedback_token.get_secret_value()
    return env


def server_env(settings: Settings, port: int) -> dict[str, str]:
    """The environment of ``serve`` for ``settings``: ours minus APP_* variables, plus theirs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("APP_")}
    return {
        **env,
        **settings_env(settings),
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(port),
        "APP_WORKERS": "1",
    }


@dataclass
class Server:
    """A ``serve`` subprocess; it is only ever signalled by its own PID."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote (standard output and error)."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` if the process still runs, wait for it (SIGKILL after ``timeout``).

        Returns the exit status: negative for a signal, as in :attr:`subprocess.Popen.returncode`.
        """
        return stop(self.process, sig, timeout)


def start_server(
    env: Mapping[str, str], log_path: Path, cwd: Path | None = None, timeout: float = 60.0
) -> Server:
    """Start ``serve`` with ``env`` (APP_HOST, APP_PORT, ...) and wait until ``/ready`` is 200."""
    base_url = f"http://{env['APP_HOST']}:{env['APP_PORT']}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [command_path(), "serve"],
            env=dict(env),
            cwd=cwd or log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, base_url, log_path)
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise ServerError(f"the server exited ({process.returncode}):\n{server.log_tail()}")
            try:
                if client.get("/ready").status_code == httpx.codes.OK:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop(signal.SIGKILL)
                raise ServerError(f"not ready after {timeout:.0f}s:\n{server.log_tail()}")
            time.sleep(0.05)


class Failure(NamedTuple):
    """A failed request: when it was sent and when it failed (time.monotonic()), and how.

    The kind is ``HTTP 503`` or the httpx exception (``ConnectError``: nothing listened).
    """

    began: float
    ended: float
    request_id: str
    kind: str


@dataclass
class LoadResult:
    """What the clients saw. A success is a 200 answering the request that was sent."""

    requests: int = 0
    successes: list[tuple[float, str, int]] = field(default_factory=list)
    """(time.monotonic(), request id, records predicted) of every successful request."""
    errors: list[Failure] = field(default_factory=list)
    """Every failed request."""
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def succeeded(self) -> int:
        """Successful requests."""
        return len(self.successes)

    @property
    def failed(self) -> int:
        """Failed requests, of every kind."""
        return len(self.errors)

    @property
    def failures(self) -> Counter[str]:
        """Failed requests by kind."""
        return Counter(failure.kind for failure in self.errors)

    @property
    def predicted(self) -> int:
        """Records predicted by successful requests."""
        return sum(count for _, _, count in self.successes)

    def expected_rows(self) -> Counter[str]:
        """Log rows each successful request must have left: request id -> records."""
        return Counter({request_id: count for _, request_id, count in self.successes})

    def percentile(self, share: float) -> float:
        """Latency (seconds) of successful requests at ``share`` (0..1), 0.0 without any."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def run_load(
    base_url: str,
    records: Sequence[Mapping[str, FeatureValue]],
    *,
    duration: float,
    concurrency: int,
    max_batch: int = 20,
    seed: int = 0,
    stop: threading.Event | None = None,
    timeout: float = 10.0,
    result: LoadResult | None = None,
) -> LoadResult:
    """Run ``concurrency`` clients for ``duration`` seconds (or until ``stop`` is set).

    Each client sends, on its own connection, ``/predict`` (one record) or ``/predict/batch``
    (2 to ``max_batch`` records) at random, with a unique ``X-Request-ID``; after a connection
    error it pauses briefly and goes on, so it survives a server restart. Figures go into
    ``result`` if given (another thread may watch it fill), else into a new one.
    """
    result = LoadResult() if result is None else result
    started = time.monotonic()
    deadline = started + duration

    def running() -> bool:
        return time.monotonic() < deadline and not (stop is not None and stop.is_set())

    async def client(worker: int) -> None:
        rng = np.random.default_rng([seed, worker])
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as http:
            sent = 0
            while running():
                sent += 1
                size = 1 if rng.random() < SINGLE_SHARE else int(rng.integers(2, max_batch + 1))
                chunk = [dict(records[i]) for i in rng.integers(0, len(records), size)]
                request_id = f"load-{seed}-{worker}-{sent}"
                path, body = (
                    ("/predict", {"features": chunk[0]})
                    if size == 1
                    else ("/predict/batch", {"records": chunk})
                )
                result.requests += 1
                begin = time.monotonic()
                try:
                    response = await http.post(
                        path, json=body, headers={"X-Request-ID": request_id}
                    )
                except httpx.TransportError as exc:
                    failed = Failure(begin, time.monotonic(), request_id, type(exc).__name__)
                    result.errors.append(failed)
                    await asyncio.sleep(RETRY_PAUSE)
                    continue
                end = time.monotonic()
                if response.status_code == httpx.codes.OK and _answers(response, request_id, size):
                    result.successes.append((end, request_id, size))
                    result.latencies.append(end - begin)
                else:
                    kind = f"HTTP {response.status_code}"
                    result.errors.append(Failure(begin, end, request_id, kind))

    await asyncio.gather(*(client(worker) for worker in range(concurrency)))
    result.elapsed = time.monotonic() - started
    return result


def _answers(response: httpx.Response, request_id: str, size: int) -> bool:
    body = response.json()
    predicted = 1 if "predictions" not in body else len(body["predictions"])
    return bool(body.get("request_id") == request_id and predicted == size)


def logged_request_ids(database_url: str) -> Counter[str]:
    """Rows of the prediction log per request id (empty if nothing was ever written)."""
    engine = create_db_engine(database_url)
    try:
        if not inspect(engine).has_table(predictions.name):
            return Counter()
        query = select(predictions.c.request_id, func.count()).group_by(predictions.c.request_id)
        with engine.connect() as connection:
            return Counter({str(rid): int(count) for rid, count in connection.execute(query)})
    finally:
        engine.dispose()


def train_champion(settings: Settings, dataset: Dataset) -> str:
    """Train a model on ``dataset`` and promote it; return its version."""
    registry = open_registry(settings)
    split = split_dataset(dataset, settings)
    trained = with_onnx_export(fit_model(dataset, split, settings))
    version = register_trained(registry, trained, dataset, split, "load test").version
    registry.promote(version, reason="load test")
    return version


def report(result: LoadResult, concurrency: int, logged: Counter[str], status: int) -> list[str]:
    """Print the figures; return the failed checks (empty: all passed).

    ``logged`` holds the prediction log's rows per request id, read after the server stopped.
    """
    rows = sum(logged.values())
    wrong = [rid for rid, count in result.expected_rows().items() if logged[rid] != count]
    seconds = max(result.elapsed, 1e-9)
    failures = ", ".join(f"{kind}: {n}" for kind, n in sorted(result.failures.items()))
    print(f"clients           {concurrency} for {result.elapsed:.1f}s")
    print(f"requests          {result.requests} ({result.requests / seconds:.0f}/s)")
    print(f"succeeded         {result.succeeded}")
    print(f"failed            {result.failed}{f' ({failures})' if failures else ''}")
    print(f"records predicted {result.predicted} ({result.predicted / seconds:.0f}/s)")
    print(
        "latency           "
        + ", ".join(
            f"p{round(share * 100)} {result.percentile(share) * 1000:.1f} ms"
            for share in (0.5, 0.95, 0.99)
        )
    )
    print(f"rows logged       {rows}")
    print(f"server exit       {status} after SIGTERM")
    problems = []
    if result.succeeded == 0:
        problems.append("no request succeeded")
    if result.failed:
        problems.append(f"{result.failed} requests failed ({failures})")
    if rows != result.predicted:
        problems.append(f"the log holds {rows} rows for {result.predicted} records predicted")
    if wrong:
        problems.append(f"{len(wrong)} successful requests do not have one row per record")
    if status not in GRACEFUL_EXIT:
        problems.append(f"the server exited with status {status} instead of a clean shutdown")
    return problems


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load (5)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--max-batch", type=int, default=20, help="records per batch (2-20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the traffic (0)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.concurrency < 1 or args.max_batch < 2:  # noqa: PLR2004
        parser.error("--duration must be > 0, --concurrency >= 1 and --max-batch >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Train, serve, load, stop, check; return the exit status."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="load-test-") as tmp:
        folder = Path(tmp)
        settings = Settings().model_copy(
            update={
                "model_dir": folder / "models",
                "database_url": f"sqlite:///{folder / 'predictions.db'}",
            }
        )
        if not settings.data_path.is_absolute():
            settings = settings.model_copy(update={"data_path": ROOT / settings.data_path})
        dataset = load_dataset(settings)
        version = train_champion(settings, dataset)
        print(f"trained {version} in {folder}")
        schema = open_registry(settings).metadata(version).feature_schema
        records = sample_records(dataset.features, schema, 1000, {}, args.seed)
        server = start_server(server_env(settings, free_port()), folder / "server.log")
        print(f"serving at {server.base_url} (pid {server.process.pid})")
        try:
            result = asyncio.run(
                run_load(
                    server.base_url,
                    records,
                    duration=args.duration,
                    concurrency=args.concurrency,
                    max_batch=args.max_batch,
                    seed=args.seed,
                )
            )
        finally:
            status = server.stop(signal.SIGTERM)
        logged = logged_request_ids(settings.database_url)
        problems = report(result, args.concurrency, logged, status)
        if problems:
            print(f"server log (last lines):\n{server.log_tail()}", file=sys.stderr)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    print("load test failed" if problems else "load test passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
