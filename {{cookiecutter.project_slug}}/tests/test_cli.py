"""The command line, as a learner and cron use it: output, exit codes, one-line errors."""

import importlib.metadata
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }} import __version__, audit
from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.cli.console import JOBS_EXTRA
from {{ cookiecutter.package_name }}.cli.monitoring import HEARTBEAT
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.io.champion_copy import (
    CURRENT_FILE,
    MODEL_FILE,
    copy_folder,
    load_copy,
)
from {{ cookiecutter.package_name }}.io.registry import (
    ModelRegistry,
    open_registry,
)
from {{ cookiecutter.package_name }}.monitoring.traffic import Shift
from {{ cookiecutter.package_name }}.schema import FeatureSchema

from .helpers import (
    CLI,
    PROJECT_ROOT,
    Record,
    artifact,
    free_port,
    metric_value,
    mixed_table_settings,
    refreshed_data,
    stop,
    traffic,
    wait_until,
)

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_help_imports_none_of_the_heavy_libraries() -> None:
    """`--help` stays instant: each command imports pandas, MLflow and the rest when it runs."""
    heavy = ["pandas", "sklearn", "mlflow", "evidently", "uvicorn", "sqlalchemy"]
    check = (
        "import sys\n"
        "from {{ cookiecutter.package_name }}.cli import app\n"
        f"print([name for name in {heavy!r} if name in sys.modules])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_jobs_extra_names_the_modules_of_pyprojects_jobs_extra() -> None:
    """A command missing one of these modules asks for the jobs extra: the two lists agree."""
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = pyproject["project"]["optional-dependencies"]["jobs"]
    extra = {canonical(re.split(r"[<>=!~;\[ ]", requirement)[0]) for requirement in requirements}
    modules_of: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            modules_of.setdefault(canonical(distribution), set()).add(module)
    assert all(modules_of[name] & JOBS_EXTRA for name in extra)
    assert set().union(*(modules_of[name] for name in extra)) >= JOBS_EXTRA


def canonical(distribution: str) -> str:
    """A distribution's name as the packaging standards compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_train_promotes_the_first_model_only(cli: CliRunner, settings: Settings) -> None:
    first = cli.invoke(app, ["train"])
    assert first.exit_code == 0, first.output
    assert "v1 is the champion" in first.stdout
    second = cli.invoke(app, ["train"])
    assert "v2 registered; v1 is still the champion" in second.stdout
    shutil.rmtree(copy_folder(settings.model_dir))  # e.g. a new models volume
    assert cli.invoke(app, ["train", "--if-missing"]).stdout.startswith("champion v1 exists")
    assert load_copy(settings.model_dir, "v1").version == "v1"  # copied again for the API
    assert "v3 is the champion" in cli.invoke(app, ["train", "--promote"]).stdout
    assert open_registry(settings).versions() == ["v1", "v2", "v3"]


def test_train_explains_the_schema_and_writes_examples_that_predict(
    cli: CliRunner, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = mixed_table_settings(settings, tmp_path)
    monkeypatch.setenv("APP_DATASET", "csv")
    monkeypatch.setenv("APP_DATA_PATH", str(mixed.data_path))
    monkeypatch.setenv("APP_TARGET_COLUMN", "label")
    result = cli.invoke(app, ["train"])
    assert result.exit_code == 0, result.output
    assert "3 features (1 boolean, 1 categorical, 1 numeric)" in result.stderr
    assert "excluded 'customer id': unique text in every row: an ID" in result.stderr
    assert "excluded 'signup date': ISO dates" in result.stderr
    request = json.loads((tmp_path / "examples" / "request.json").read_text())
    assert set(request["features"]) == {"plan", "tenure months", "auto pay"}
    assert None in request["features"].values()  # the example shows a gap the model imputes
    predicted = cli.invoke(app, ["predict", str(tmp_path / "examples" / "records.csv")])
    assert predicted.exit_code == 0, predicted.output
    assert len(predicted.stdout.splitlines()) == 5
    batch = cli.invoke(app, ["predict", str(tmp_path / "examples" / "batch.json")])
    assert len(batch.stdout.splitlines()) == 5


def table(header: str = "id,colour,size,label", **cells: str) -> str:
    """A 40-row CSV; ``cells`` replaces a column's values (``size="{i}"``: a format)."""
{%- if cookiecutter.__task == "classification" %}
    label = "{yes_no}"
{%- else %}
    label = "{half}"
{%- endif %}
    formats = {"id": "{i}", "colour": "{colour}", "size": "{seven}", "label": label, **cells}
    lines = [header]
    for i in range(40):
        values = {
            "i": i,
            "colour": "red" if i % 3 else "blue",
            "seven": i % 7,
            "yes_no": "yes" if i % 2 else "no",
            "half": i * 1.5,
        }
        lines.append(",".join(formats[name].format(**values) for name in formats))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (table(size=""), "column 'size' is empty in every row"),
        (table(colour="blue"), "column 'colour' has the same value ('blue')"),
        (table().replace("\n5,red,5,", "\n5,red,five,"), "column 'size' mixes numbers"),
        (table("id,colour,colour,label"), "duplicate column name(s) 'colour'"),
        (table().splitlines()[0] + "\n", "the file has a header but no rows"),
        (table("id,colour,size,outcome"), "no target column 'label'"),
{%- if cookiecutter.__task == "classification" %}
        (table(label="no"), "the target 'label' has one class ('no')"),
{%- else %}
        (table(label="high"), "must be numeric for regression"),
{%- endif %}
    ],
    ids=[
        "all-empty-column",
        "constant-column",
        "mixed-types",
        "duplicate-names",
        "header-only",
        "no-target",
        "bad-target",
    ],
)
def test_bad_tables_are_one_line_exit_1_and_no_model(
    cli: CliRunner,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    message: str,
) -> None:
    path = tmp_path / "table.csv"
    path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("APP_DATASET", "csv")
    monkeypatch.setenv("APP_DATA_PATH", str(path))
    monkeypatch.setenv("APP_TARGET_COLUMN", "label")
    result = cli.invoke(app, ["train"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert open_registry(settings).versions() == []
    assert not (tmp_path / "examples").exists()


def test_a_non_utf8_table_is_one_line(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(table().encode() + "1,rouge,2,caf\u00e9\n".encode("latin-1"))
    monkeypatch.setenv("APP_DATASET", "csv")
    monkeypatch.setenv("APP_DATA_PATH", str(path))
    result = cli.invoke(app, ["train"])
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.stderr and "save it as UTF-8" in result.stderr


def test_models_list_marks_the_champion(served_cli: CliRunner) -> None:
    result = served_cli.invoke(app, ["models", "list"])
    assert result.exit_code == 0
    assert "* │ v1" in result.stdout


def test_evaluate(served_cli: CliRunner, served_settings: Settings) -> None:
    result = served_cli.invoke(app, ["evaluate"])
    assert result.exit_code == 0
    metrics = open_registry(served_settings).metadata("v1").metrics
    assert all(name in result.stdout for name in metrics)


def test_predict_prints_one_json_line_per_record(
    served_cli: CliRunner, features: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "input.csv"
    features.head(5).to_csv(path, index=False)
    result = served_cli.invoke(app, ["predict", str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    assert all("prediction" in line for line in lines)
    printed = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", result.stdout)  # rounded for reading
    assert printed and all(len(number.split(".")[1]) <= 4 for number in printed)


def test_predict_writes_an_output_csv_and_reads_json(
    served_cli: CliRunner, record: Record, tmp_path: Path
) -> None:
    source = tmp_path / "input.json"
    source.write_text(json.dumps([record, record]))
    output = tmp_path / "out.csv"
    result = served_cli.invoke(app, ["predict", str(source), "--output", str(output)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(output)
    assert len(written) == 2
    assert {"prediction", *record} <= set(written.columns)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("a,b\n1,2\n", "missing feature column"),
        ("{broken", "not valid JSON"),
    ],
)
def test_predict_bad_input_is_one_line_and_no_output(
    served_cli: CliRunner, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / ("input.json" if content.startswith("{") else "input.csv")
    path.write_text(content)
    output = tmp_path / "out.csv"
    result = served_cli.invoke(app, ["predict", str(path), "--output", str(output)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert not output.exists()
    assert list(tmp_path.glob(".out.csv*")) == []


def test_missing_model_is_one_clear_line(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["predict", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert "run `train` first" in result.stderr


def test_corrupt_model_is_one_clear_line(cli: CliRunner, registry: ModelRegistry) -> None:
    artifact(registry, "v1", MODEL_FILE).write_bytes(b"garbage")
    result = cli.invoke(app, ["evaluate"])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("is corrupt (checksum mismatch)")


def test_invalid_setting_names_the_variable(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_TEST_SIZE", "2")
    result = cli.invoke(app, ["train"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid setting APP_TEST_SIZE:")


def test_another_models_folder_is_one_line_and_changes_nothing(
    cli: CliRunner, registry: ModelRegistry, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = copy_folder(settings.model_dir) / CURRENT_FILE
    served = pointer.read_bytes()
    monkeypatch.setenv("APP_MODEL_NAME", "another-model")
    result = cli.invoke(app, ["train"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert line.endswith("(APP_MODEL_DIR), or set APP_MODEL_NAME=" + settings.model_name)
    assert pointer.read_bytes() == served
    registered = registry.client.search_registered_models()
    assert [model.name for model in registered] == [settings.model_name]


MODEL_PARAM = "{{ 'C' if cookiecutter.__task == 'classification' else 'alpha' }}"
"""A hyper-parameter of the estimator in features.py."""


def test_model_params_reach_the_estimator_and_its_run(
    cli: CliRunner, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_MODEL_PARAMS", json.dumps({MODEL_PARAM: 0.5}))
    assert cli.invoke(app, ["train"]).exit_code == 0
    trained = registry.load("v2")
    assert trained.pipeline.named_steps["model"].get_params()[MODEL_PARAM] == 0.5
    run = registry.client.get_run(trained.metadata.run_id)
    assert run.data.params[f"model.{MODEL_PARAM}"] == "0.5"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{"no_such_parameter": 1}', "Invalid parameter 'no_such_parameter' for estimator"),
        (json.dumps({MODEL_PARAM: -1}), f"The '{MODEL_PARAM}' parameter of"),
        ("[1, 2]", "Input should be a valid dictionary"),
    ],
    ids=["unknown-name", "out-of-range", "not-an-object"],
)
def test_bad_model_params_are_one_line_and_register_nothing(
    cli: CliRunner,
    registry: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
    params: str,
    message: str,
) -> None:
    monkeypatch.setenv("APP_MODEL_PARAMS", params)
    result = cli.invoke(app, ["train"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: invalid setting APP_MODEL_PARAMS")
    assert message in result.stderr
    assert registry.versions() == ["v1"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "Could not parse SQLAlchemy URL"),
        ("postgresql+nosuchdriver://db/x", "Can't load plugin"),
        ("postgresql+pg8000://db/x", "No module named 'pg8000'"),
        ("sqlite:///{tmp}/a file/log.db", "cannot create"),
    ],
    ids=["not-a-url", "unknown-driver", "uninstalled-driver", "unwritable-folder"],
)
def test_serve_with_a_bad_database_url_is_one_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, message: str
) -> None:
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv("APP_DATABASE_URL", url.format(tmp=tmp_path))
    result = cli.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: invalid setting APP_DATABASE_URL: ")
    assert message in result.stderr


def test_serve_on_a_taken_port_is_one_line_naming_app_port(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("APP_PORT", str(port))
        result = cli.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: invalid setting APP_PORT: cannot serve on 127.0.0.1:{port}: Address already "
        f"in use; choose a free port, e.g. APP_PORT={port + 1}\n"
    )


def test_promote_and_rollback(cli: CliRunner, registry: ModelRegistry) -> None:
    cli.invoke(app, ["train"])
    assert cli.invoke(app, ["promote", "v2", "--reason", "drill"]).stdout == "v2 is the champion\n"
    assert "v1 is the champion" in cli.invoke(app, ["rollback"]).stdout
    assert audit.read(registry.audit_log)[-2]["reason"] == "drill"
    failed = cli.invoke(app, ["promote", "v7"])
    assert failed.exit_code == 1
    assert "model v7 not found" in failed.stderr


def test_retrain_skips_what_was_trained_unless_forced_and_gates_new_data(
    cli: CliRunner,
    registry: ModelRegistry,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    same = cli.invoke(app, ["retrain", "--reason", "test"])
    assert same.exit_code == 0, same.output
    assert "kept v1: the data and the training settings have not changed since v1" in same.stdout
    assert registry.versions() == ["v1"]
    forced = cli.invoke(app, ["retrain", "--force", "--reason", "new code"])
    assert forced.exit_code == 0, forced.output
    assert registry.versions() == ["v1", "v2"]

    for name, value in refreshed_data(settings, tmp_path / "new.csv").items():
        monkeypatch.setenv(name, value)
    champion = registry.champion()
    new = cli.invoke(app, ["retrain", "--reason", "new labels"])
    assert new.exit_code == 0, new.output
    assert registry.versions() == ["v1", "v2", "v3"]
    decision = audit.read(registry.audit_log)[-1]
    assert decision["challenger"] == "v3" and decision["trigger"] == "new labels"
    assert ("promoted" if decision["promoted"] else f"kept {champion}") in new.stdout
    assert registry.champion() == ("v3" if decision["promoted"] else champion)


def test_monitor_exit_codes_follow_the_verdict(
    cli: CliRunner,
    registry: ModelRegistry,
    features: pd.DataFrame,
    schema: FeatureSchema,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = registry.load_champion()
    calm, shifted, tiny = tmp_path / "calm.csv", tmp_path / "shifted.csv", tmp_path / "tiny.csv"
    traffic(model, features, 300).to_csv(calm, index=False)
    shifts: dict[str, Shift] = {f.name: 4.0 for f in schema.features if f.kind == "numeric"}
    traffic(model, features, 300, shifts).to_csv(shifted, index=False)
    traffic(model, features, 5).to_csv(tiny, index=False)

    assert cli.invoke(app, ["monitor", "--input", str(calm)]).exit_code == 0
    shown = cli.invoke(app, ["monitor", "--input", str(shifted), "--exit-zero"])  # make monitor
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("drift: ")
    assert shown.stdout.splitlines()[-1] == (
        "(exit status 3 without --exit-zero: `make monitor-check`)"
    )
    drift = cli.invoke(app, ["monitor", "--input", str(shifted), "--retrain"])
    assert drift.exit_code == 3, drift.output
    assert "drift:" in drift.stdout
    assert "report:" in drift.stdout
    assert audit.read(registry.audit_log)[-1]["event"] == "retrain"
    reports = set(settings.reports_dir.iterdir())
    not_enough = cli.invoke(app, ["monitor", "--input", str(tiny)])
    assert not_enough.exit_code == 4
    assert "not enough data" in not_enough.stdout
    assert set(settings.reports_dir.iterdir()) == reports


def test_monitor_errors_exit_1_without_reports(
    cli: CliRunner, registry: ModelRegistry, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("surprise\n1\n")
    for exit_zero in ([], ["--exit-zero"]):  # a failed job fails `make monitor` too
        result = cli.invoke(app, ["monitor", "--input", str(path), *exit_zero])
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ")
        assert not settings.reports_dir.exists()


def test_a_model_folder_monitor_cannot_read_is_one_error_line(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for every command: a file the settings name gives one line naming it, no traceback."""
    model_dir = unwritable_folder(tmp_path)
    monkeypatch.setenv("APP_MODEL_DIR", str(model_dir))
    result = cli.invoke(app, ["monitor"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(model_dir.parent) in errors[0], result.stderr


@pytest.mark.parametrize("option", ["--hours=0", "--max-rows=0", "--every=-1"])
def test_monitor_refuses_a_window_or_interval_of_nothing(cli: CliRunner, option: str) -> None:
    result = cli.invoke(app, ["monitor", option])
    assert result.exit_code == 2
    assert f"Invalid value for '{option.partition('=')[0]}'" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("APP_DRIFT_NUMERIC_METHOD", "wasserstien", "APP_DRIFT_NUMERIC_METHOD='wasserstien': "),
        (  # a test for numbers only
            "APP_DRIFT_CATEGORICAL_METHOD",
            "wasserstein",
            "APP_DRIFT_CATEGORICAL_METHOD='wasserstein': ",
        ),
        (
            "APP_DRIFT_FEATURE_THRESHOLDS",
            '{"no such feature": 0.5}',
            "APP_DRIFT_FEATURE_THRESHOLDS names no feature of the model: 'no such feature' ",
        ),
    ],
)
def test_a_drift_setting_evidently_cannot_follow_is_one_error_line(
    cli: CliRunner,
    registry: ModelRegistry,
    features: pd.DataFrame,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    message: str,
) -> None:
    """A typo in a drift setting is refused before any report is written."""
    path = tmp_path / "calm.csv"
    traffic(registry.load_champion(), features, 300).to_csv(path, index=False)
    monkeypatch.setenv(setting, value)
    result = cli.invoke(app, ["monitor", "--input", str(path)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {message}")
    assert not settings.reports_dir.exists()


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder path that cannot be created, even by root: its parent is a file."""
    parent = tmp_path / "a file"
    parent.write_text("not a folder")
    return parent / "reports"


def test_an_unwritable_reports_folder_is_one_line_after_the_verdict(
    cli: CliRunner,
    registry: ModelRegistry,
    features: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calm = tmp_path / "calm.csv"
    traffic(registry.load_champion(), features, 300).to_csv(calm, index=False)
    reports = unwritable_folder(tmp_path)
    monkeypatch.setenv("APP_REPORTS_DIR", str(reports))
    result = cli.invoke(app, ["monitor", "--input", str(calm)])
    assert result.exit_code == 1
    assert "no drift:" in result.stdout  # the verdict is not lost
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: cannot write the reports to APP_REPORTS_DIR={reports}: Not a directory"
    ]


@pytest.mark.e2e
def test_monitor_every_survives_failed_checks(
    env: dict[str, str], registry: ModelRegistry, features: pd.DataFrame, tmp_path: Path
) -> None:
    calm = tmp_path / "calm.csv"
    traffic(registry.load_champion(), features, 300).to_csv(calm, index=False)
    log = tmp_path / "monitor.log"
    port = free_port()
    env = {
        **env,
        "APP_REPORTS_DIR": str(unwritable_folder(tmp_path)),
        "APP_MONITOR_METRICS_PORT": str(port),
    }
    command = [CLI, "monitor", "--input", str(calm), "--every", "0.2"]
    with log.open("w") as stderr:
        monitor = subprocess.Popen(command, env=env, stderr=stderr, text=True)
    try:
        failed = "error: cannot write the reports to APP_REPORTS_DIR="
        wait_until(lambda: log.read_text().count(failed) >= 2, "two failed checks", timeout=90)
        assert monitor.poll() is None  # still on schedule
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text  # counted, too
        assert metric_value(metrics, "drift_checks_total", outcome="error") >= 2, metrics
        assert "drift_check_last_success_timestamp_seconds 0.0" in metrics
        assert "drift_check_interval_seconds 0.2" in metrics
    finally:
        status = stop(monitor, signal.SIGTERM, timeout=30)  # SIGKILL if it outlives that
    assert status == 0
    assert "monitor: stopped by SIGTERM" in log.read_text()


def test_monitor_reads_the_prediction_log(cli: CliRunner, registry: ModelRegistry) -> None:
    result = cli.invoke(app, ["monitor", "--hours", "1"])
    assert result.exit_code == 4
    assert "not enough data: 0 rows" in result.stdout


@pytest.mark.e2e
@pytest.mark.usefixtures("registry")
def test_monitor_every_beats_after_each_check_and_stops_on_sigterm(
    env: dict[str, str], settings: Settings
) -> None:
    """What compose relies on: a heartbeat file for the health check, a prompt SIGTERM exit."""
    heartbeat = settings.reports_dir / HEARTBEAT
    monitor = subprocess.Popen(
        [CLI, "monitor", "--every", "3600"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(heartbeat.exists, "the monitor's first heartbeat", timeout=90)
    finally:
        status = stop(monitor, signal.SIGTERM, timeout=10)  # SIGKILL if it outlives that
    assert status == 0
    assert monitor.stderr is not None
    assert "monitor: stopped by SIGTERM" in monitor.stderr.read()
