"""Reliability and security: real servers fuzzed from their OpenAPI schema, under load, killed
and restarted under load; and static checks of the repository (secrets, non-root container).
"""

import contextlib
import fnmatch
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.schemas import BaseSchema

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.monitoring.traffic import sample_records
from {{ cookiecutter.package_name }}.schema import FeatureSchema
from {{ cookiecutter.package_name }}.serving.contract import FLOAT32_MAX

from .helpers import (
    ADMIN_TOKEN,
    FEEDBACK_TOKEN,
    GRACEFUL_EXIT,
    PROJECT_ROOT,
    BackgroundLoad,
    Record,
    Server,
    free_port,
    isolated_settings,
    load_test,
    logged_request_ids,
    metric_value,
    server_env,
    start_server,
    train_champion,
    wait_until,
)

CLIENTS = 8
EXAMPLES = 30  # per operation and phase: the schema-driven test takes seconds, not minutes
PREDICT_PATHS = {"/predict", "/predict/batch"}
SCOREABLE = 1e6  # |value| up to which any record of the training range must be accepted
BODY_TIMEOUT = 2.0
MB = 1024 * 1024


# Schema-driven tests (Schemathesis) against one real server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Settings]]:
    """One ``serve`` process with a trained model, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("api")
    config = isolated_settings(root)
    train_champion(config, load_dataset(config))
    env = server_env(config, free_port()) | {"APP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT)}
    server = start_server(env, root / "server.log")
    yield server, config
    server.stop(signal.SIGTERM)


@pytest.fixture(scope="module")
def api_schema(api: tuple[Server, Settings]) -> BaseSchema:
    """The running server's OpenAPI schema, with a bounded number of examples."""
    server, _ = api
    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": EXAMPLES},
            "checks": {
                # The schema cannot say which numbers a model can score (finite values far
                # outside the training range overflow the scaler): those are 422 with a
                # reason. Scoreable records are asserted below.
                "positive_data_acceptance": {"enabled": False}
            },
        }
    )
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=config)


def scoreable(body: Any) -> bool:
    """A valid predict body within the batch limit, whose values lie in a plausible range."""
    records = [body["features"]] if "features" in body else body["records"]
    return len(records) <= Settings().max_batch_size and all(
        abs(value) <= SCOREABLE
        for record in records
        for value in record.values()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )


schema = schemathesis.pytest.from_fixture("api_schema")
STATUSES: Counter[tuple[str, int]] = Counter()
"""Responses of the fuzzed requests, by path and status."""


@pytest.fixture
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4 (up to 4.32 at least) reads ``Node._nodeid``, which pytest 9 dropped."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.mark.e2e
@pytest.mark.usefixtures("_node_id_for_schemathesis")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_every_endpoint_conforms_to_its_schema(case: Case[Any]) -> None:
    """No 5xx; status codes, content types, headers and bodies as documented; bad input 422."""
    response = case.call()  # without the admin or feedback token
    STATUSES[case.path, response.status_code] += 1
    case.validate_response(response)
    if case.path == "/admin/reload":
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    if case.path.startswith("/feedback"):  # unknown predictions (404) or bad labels (422)
        case.call_and_validate(headers={"Authorization": f"Bearer {FEEDBACK_TOKEN}"})
    meta = case.meta
    positive = meta is not None and meta.generation.mode is GenerationMode.POSITIVE
    if case.path in PREDICT_PATHS and positive and scoreable(case.body):
        assert response.status_code == httpx.codes.OK, response.text


@pytest.mark.e2e
def test_the_fuzzer_reached_the_model_and_no_server_error() -> None:
    """Requests generated from the served schema alone were scored (runs after the above)."""
    for path in PREDICT_PATHS:
        assert STATUSES[path, httpx.codes.OK] > 0, STATUSES
    assert not [key for key in STATUSES if key[1] >= httpx.codes.INTERNAL_SERVER_ERROR]


def test_values_the_model_cannot_score_are_422_not_500(
    client: TestClient, record: Record, schema: FeatureSchema
) -> None:
    """Found by the test above: finite values near the float limit overflowed the scaler.

    Beyond float32's range, the contract names the field; within it, a scaler that still
    overflows gives a 422 for the whole request.
    """
    numeric = [feature.name for feature in schema.features if feature.kind == "numeric"]
    too_large = {**record, numeric[0]: 1.7e308}
    for path, body in [
        ("/predict", {"features": too_large}),
        ("/predict/batch", {"records": [record, too_large]}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == httpx.codes.UNPROCESSABLE_ENTITY, response.text
        [error] = response.json()["detail"]
        assert error["loc"][-1] == numeric[0] and "less than or equal to" in error["msg"]
    huge = {**record, **dict.fromkeys(numeric, FLOAT32_MAX)}
    for path, body in [("/predict", {"features": huge}), ("/predict/batch", {"records": [huge]})]:
        response = client.post(path, json=body)
        if response.status_code != httpx.codes.OK:  # whether it overflows depends on the data
            assert response.status_code == httpx.codes.UNPROCESSABLE_ENTITY, response.text
            assert "out of the range the model can score" in response.json()["detail"][0]["msg"]
    assert client.post("/predict", json={"features": record}).status_code == httpx.codes.OK


@pytest.mark.e2e
def test_the_admin_token_is_required_and_never_leaks(api: tuple[Server, Settings]) -> None:
    server, _ = api
    token = ADMIN_TOKEN
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        assert client.post("/admin/reload").status_code == httpx.codes.UNAUTHORIZED
        wrong = client.post("/admin/reload", headers={"Authorization": f"Bearer {token}x"})
        assert wrong.status_code == httpx.codes.UNAUTHORIZED
        basic = client.post("/admin/reload", auth=("admin", token))
        assert basic.status_code == httpx.codes.UNAUTHORIZED
        right = client.post("/admin/reload", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == httpx.codes.OK
        for path in ("/health", "/ready", "/model", "/metrics", "/openapi.json"):
            assert token not in client.get(path).text, path
    assert token not in server.log_path.read_text(encoding="utf-8")


# Request limits, on a real socket


def raw_request(server: Server, head: str) -> socket.socket:
    """A connection to ``server`` that has sent ``head`` (request line and headers)."""
    url = httpx.URL(server.base_url)
    connection = socket.create_connection((url.host, url.port), timeout=10 * BODY_TIMEOUT)
    connection.sendall(f"{head}\r\nHost: {url.host}\r\n\r\n".encode())
    return connection


def counted(server: Server, status: int) -> float:
    """How many /predict/batch requests the server answered with ``status``."""
    metrics = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    return metric_value(
        metrics, "http_requests_total", method="POST", path="/predict/batch", status=str(status)
    )


def memory_kib(pid: int, field: str) -> int:
    """A memory figure of process ``pid`` from /proc (VmRSS: now, VmHWM: peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise AssertionError(f"/proc/{pid}/status has no {field}")


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc")
def test_a_huge_streamed_body_is_413_without_the_server_holding_it(
    api: tuple[Server, Settings],
) -> None:
    server, config = api
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart the peak-memory count (VmHWM)
    rss_before = memory_kib(pid, "VmRSS")
    before = counted(server, 413)
    sent = 0
    connection = raw_request(server, "POST /predict/batch HTTP/1.1\r\nTransfer-Encoding: chunked")
    with connection, contextlib.suppress(OSError):  # should the server hang up after refusing
        chunk = b" " * MB
        while sent < 100 * MB:
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
    wait_until(lambda: counted(server, 413) == before + 1, "the 413 to be counted")
    assert sent > 10 * config.body_limit  # ten times the limit, refused all the same
    peak_growth_mb = (memory_kib(pid, "VmHWM") - rss_before) / 1024
    assert peak_growth_mb < 50, f"the server's memory grew {peak_growth_mb:.0f} MB"


@pytest.mark.e2e
def test_a_stalled_body_is_408(api: tuple[Server, Settings]) -> None:
    server, _ = api
    head = "POST /predict HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1000"
    started = time.monotonic()  # the server's clock starts at its first read: after the head
    with raw_request(server, head) as connection:
        connection.sendall(b'{"features": {')
        answer = connection.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    assert BODY_TIMEOUT <= time.monotonic() - started < 5 * BODY_TIMEOUT


# Load, kills and restarts


@pytest.mark.e2e
def test_load_test_script_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """``make load-test``, shorter: no failed request, one log row per record predicted."""
    status = load_test.main(["--duration", "1.5", "--concurrency", str(CLIENTS)])
    out = capsys.readouterr().out
    print(out)
    assert status == 0, out
    assert "load test passed" in out


def test_the_load_test_fails_on_a_failed_request_a_lost_row_or_an_unclean_exit() -> None:
    failed = load_test.Failure(0.0, 0.1, "b", "HTTP 500")
    result = load_test.LoadResult(
        requests=2, successes=[(0.0, "a", 3)], errors=[failed], elapsed=1.0
    )
    problems = load_test.report(result, 1, Counter(a=2), status=-signal.SIGKILL)
    assert len(problems) == 4, problems  # failed request, row count, rows of "a", exit status
    assert load_test.report(result, 1, Counter(a=3), status=0) == [
        "1 requests failed (HTTP 500: 1)"
    ]


@pytest.fixture
def records(features: pd.DataFrame, schema: FeatureSchema) -> list[Record]:
    return sample_records(features, schema, 500, {}, seed=3)


@pytest.mark.e2e
@pytest.mark.usefixtures("registry")  # v1 is the champion
def test_restarts_under_load(
    env: dict[str, str],
    serve: Callable[[dict[str, str]], Server],
    settings: Settings,
    records: list[Record],
) -> None:
    """A hard kill fails only the requests in flight; a graceful restart loses no logged row.

    One load runs throughout. Server 1 is killed (SIGKILL); server 2 starts on the same port
    with the same model folder and prediction log, and is stopped gracefully (SIGTERM) under
    load; server 3 takes over. Clients retry after connection errors.
    """
    first = serve(env)
    with BackgroundLoad(first.base_url, records, CLIENTS) as load:
        load.wait_for_successes(30)
        killed = time.monotonic()
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        second = serve(env)
        second_ready = time.monotonic()
        load.wait_for_successes(30, after=second_ready)
        stopping = time.monotonic()
        assert second.stop(signal.SIGTERM) in GRACEFUL_EXIT
        stopped = time.monotonic()
        third = serve(env)
        third_ready = time.monotonic()
        load.wait_for_successes(30, after=third_ready)
    assert third.stop(signal.SIGTERM) in GRACEFUL_EXIT
    result = load.result
    logged = logged_request_ids(settings.database_url)

    def failed_within(start: float, end: float) -> Counter[str]:
        """Failures sent and failed between ``start`` and ``end``: the server was up."""
        return Counter(f.kind for f in result.errors if start <= f.began and f.ended < end)

    def failed_during(start: float, end: float) -> Counter[str]:
        """Failures that overlap the outage from ``start`` to ``end``."""
        return Counter(f.kind for f in result.errors if f.began < end and f.ended >= start)

    # While a server is up, nothing fails. A failure that straddles the moment a server was
    # found ready (a refused connection, timed when its error arrived) belongs to the outage.
    for up, down in [(0, killed), (second_ready, stopping), (third_ready, float("inf"))]:
        assert not failed_within(up, down), f"failed while up: {failed_within(up, down)}"
    # Hard kill: the requests in flight fail (at most one per client), the others are refused
    # until server 2 listens.
    killed_failures = failed_during(killed, second_ready)
    refused = killed_failures.pop("ConnectError", 0)
    assert set(killed_failures) <= {"RemoteProtocolError", "ReadError", "WriteError"}
    in_flight = sum(killed_failures.values())
    assert in_flight <= CLIENTS, killed_failures
    # Graceful stop: requests either complete or are refused (then never logged); every
    # request answered by server 2 or 3 has all its rows in the log.
    stop_failures = failed_during(stopping, third_ready)
    assert not [kind for kind in stop_failures if kind.startswith("HTTP")], stop_failures
    assert all(logged[f.request_id] == 0 for f in result.errors if f.ended >= stopping)
    answered = [(rid, n) for at, rid, n in result.successes if at > second_ready]
    missing = [rid for rid, n in answered if logged[rid] != n]
    assert not missing, f"{len(missing)} answered requests lack log rows"
    queued = sum(n - logged[rid] for at, rid, n in result.successes if at < killed)
    print(
        f"\nhard kill: {in_flight} requests failed in flight ({dict(killed_failures)}), "
        f"{refused} refused during {second_ready - killed:.1f}s of downtime; "
        f"{queued} log rows of answered requests were still queued at the kill"
        f"\ngraceful restart: shutdown {stopped - stopping:.2f}s, failures while down "
        f"{dict(stop_failures)}; {len(answered)} requests answered by servers 2 and 3, "
        f"all {sum(n for _, n in answered)} rows logged"
        f"\ntotal: {result.succeeded} requests succeeded, {result.failed} failed"
    )


# Static security checks


PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
    r"|-----BEGIN OpenVPN Static key V[1]-----|PuTTY-User-Key-File-\d"
)
TOKENS = {
    "private key": PRIVATE_KEY,
    "GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "API secret key": re.compile(r"\bsk-(ant-|proj-)?[A-Za-z0-9_-]{32,}"),
    "PyPI token": re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}"),
}
SECRET_FILES = ["*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", ".env"]


def find_secrets(text: str) -> list[str]:
    """Names of the secret kinds found in ``text``."""
    return [kind for kind, pattern in TOKENS.items() if pattern.search(text)]


def repository_files() -> list[Path]:
    """Files git would commit (tracked, or new and not ignored); without git, .gitignore applied."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        names = [name for name in listed.stdout.decode().split("\0") if name]
        return [PROJECT_ROOT / name for name in names if (PROJECT_ROOT / name).is_file()]
    patterns = [".git", ".hypothesis"] + [
        line.strip().rstrip("/")
        for line in (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: Path) -> bool:
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        return any(
            fnmatch.fnmatch(relative if "/" in pattern else path.name, pattern)
            for pattern in patterns
        )

    files = []
    for folder, subfolders, names in os.walk(PROJECT_ROOT):
        subfolders[:] = [name for name in subfolders if not ignored(Path(folder, name))]
        files += [Path(folder, name) for name in names if not ignored(Path(folder, name))]
    return files


def test_the_secret_patterns_work() -> None:
    key = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    assert find_secrets(key) == ["private key"]
    assert find_secrets("token = 'ghp_" + "a1B2" * 9 + "'") == ["GitHub token"]
    assert find_secrets("AKIA" + "IOSFODNN7EXAMPLE") == ["AWS access key"]
    assert find_secrets("APP_ADMIN_TOKEN=\nPOSTGRES_PASSWORD=change-me") == []


def test_no_secrets_in_the_repository() -> None:
    files = repository_files()
    assert files, "no files found"
    secret_files = [
        str(p.relative_to(PROJECT_ROOT))
        for p in files
        if any(fnmatch.fnmatch(p.name, pattern) for pattern in SECRET_FILES)
    ]
    assert not secret_files, f"files that hold secrets must not be committed: {secret_files}"
    found = {
        str(p.relative_to(PROJECT_ROOT)): kinds
        for p in files
        if (kinds := find_secrets(p.read_bytes().decode("utf-8", errors="ignore")))
    }
    assert not found, f"secrets in the repository: {found}"


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """The build stages of a Dockerfile: (INSTRUCTION, arguments) in order, per FROM."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


ROOT_USERS = {"", "root", "0"}


def test_the_container_runs_as_a_non_root_user() -> None:
    runtime = dockerfile_stages((PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8"))[-1]
    user, user_at, last_root_step = "", -1, -1
    for index, (instruction, arguments) in enumerate(runtime):
        if instruction == "USER":
            user, user_at = arguments, index
        elif instruction in {"RUN", "COPY", "ADD"} and user.partition(":")[0] in ROOT_USERS:
            last_root_step = index
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), f"USER {user!r}: use a numeric uid (Kubernetes runAsNonRoot checks it)"
    assert int(uid) != 0, "the image runs as root"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"USER {user!r}: numeric non-root gid"
    assert user_at > last_root_step, "USER must come after the last step run as root"
