"""Settings: one object, read from environment variables (prefix ``APP_``) and ``.env``.

Every knob of the system lives here, so a deployment changes behaviour without code:
``APP_MODEL_DIR=/models APP_PORT=9000 {{ cookiecutter.project_slug }} serve``.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from {{ cookiecutter.package_name }}.errors import ConfigError

{%- if cookiecutter.__task == "classification" %}

DatasetName = Literal["churn", "breast_cancer", "wine", "iris", "csv"]
{%- else %}

DatasetName = Literal["diabetes", "csv"]
{%- endif %}
BODY_BYTES_PER_RECORD = 4096
"""Room per record of a full batch in the default body limit (a record of ~100 features)."""
PreprocessingRuntime = Literal["onnx", "scikit-learn"]
"""What runs the pipeline's preprocessing when a model scores (see ``preprocessing_onnx``)."""
ColumnRule = Literal["numeric", "categorical", "boolean", "exclude"]
"""What ``APP_FEATURE_KINDS`` can make of a column: force a feature kind, or exclude it."""


class Settings(BaseSettings):
    """All configuration of training, serving, logging and monitoring."""

    model_config = SettingsConfigDict(env_prefix="APP_", env_file=".env", extra="ignore")

    # Data and training
    dataset: DatasetName = "{{ cookiecutter.__app_dataset }}"
    data_path: Path = Path("data/dataset.csv")
    target_column: str = {{ cookiecutter.csv_target_column | tojson }}
    test_size: float = Field(default=0.2, gt=0, lt=1)
    random_seed: int = 42
    reference_rows: PositiveInt = 5000
    # Feature schema overrides, as JSON: APP_FEATURE_KINDS='{"zip code": "categorical",
    # "notes": "exclude"}'. Every other column's kind is inferred (see schema.py).
    feature_kinds: dict[str, ColumnRule] = Field(default_factory=dict)
    # The estimator's hyper-parameters, as JSON: APP_MODEL_PARAMS='{"C": 0.5}' (see
    # features.py for the estimator). Each run records them in MLflow; a retrained model
    # with worse ones loses the gate and is kept out.
    model_params: dict[str, bool | int | float | str | None] = Field(default_factory=dict)
    # Text columns with more distinct values than this are free text, not categories.
    max_categories: PositiveInt = 50
    # Where `train` writes example requests drawn from the data it trained on.
    examples_dir: Path = Path("examples")

    # Model registry and experiment tracking on MLflow. Unset, the tracking URI is an embedded
    # SQLite store in APP_MODEL_DIR (no server); compose sets http://mlflow:5000. The model
    # folder also holds the audit log of promotions, rollbacks and retraining decisions, and
    # the champion's copy that the API serves (champion/: written by promote and rollback).
    mlflow_tracking_uri: str | None = None
    model_name: str = Field(
        default="{{ cookiecutter.project_slug }}",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    )
    model_dir: Path = Path("models")
    # Where people open the MLflow UI (`make mlflow-ui`); /model links to the run there.
    mlflow_ui_url: str = "http://127.0.0.1:5000"

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: PositiveInt = 1
    # Requests handled at once before the server answers 503 (None: no limit).
    limit_concurrency: PositiveInt | None = None
    max_batch_size: PositiveInt = 1000
    # /predict requests waiting at the same moment share one model call of at most this many
    # rows (serving/micro_batch.py); 1 scores every request alone.
    micro_batch_max_rows: PositiveInt = 32
    # onnx: the preprocessing's ONNX export runs it (several times faster per call), for
    # versions trained with one; scikit-learn: the pickled pipeline does it all.
    preprocessing_runtime: PreprocessingRuntime = "onnx"
    # Request bodies larger than this get 413 before they are parsed. Unset: 4 KiB per record
    # of a full batch, plus 64 KiB (about 4 MB for the default batch size).
    max_body_bytes: PositiveInt | None = None
    # A request body still arriving after this many seconds gets 408.
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    # uvicorn's line per request on stderr. Off saves CPU under load; /metrics still counts
    # every request, and errors are still logged.
    access_log: bool = True
    # The interactive docs at /docs and /redoc (the schema stays at /openapi.json).
    docs_enabled: bool = True
    # How often the API looks for a newly promoted champion (APP_MODEL_DIR/champion/).
    model_poll_seconds: float = Field(default=2.0, gt=0)
    admin_token: SecretStr | None = None
    # POST /feedback needs `Authorization: Bearer` this token; unset: feedback is refused.
    feedback_token: SecretStr | None = None

    # Prediction log: any SQLAlchemy URL (SQLite file by default, PostgreSQL in compose)
    database_url: str = "sqlite:///data/predictions.db"
    log_queue_size: PositiveInt = 100_000
    log_batch_size: PositiveInt = 5000
    log_flush_seconds: float = Field(default=0.5, gt=0)

    # Drift monitoring
    reports_dir: Path = Path("reports")
    # Each run writes an HTML and a JSON report; only the newest this many runs are kept.
    reports_keep: PositiveInt = 100
    # `monitor --every` serves its own Prometheus metrics on this port (on APP_HOST); unset: off.
    monitor_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    drift_window_hours: float = Field(default=24.0, gt=0)
    # The job compares a uniform random sample of at most this many of the window's logged
    # rows, read in chunks, so any window fits in memory. Against a 5,000-row reference,
    # chance moves the Wasserstein distance of 50,000 sampled rows 0.034 sd at the 99th
    # percentile, and of 1,000,000 rows 0.032: the reference, not the sample, sets the noise,
    # far under the 0.2 threshold, and a 0.25 sd shift is flagged every time.
    drift_max_rows: PositiveInt = 50_000
    drift_min_rows: PositiveInt = 500
    drift_share_threshold: float = Field(default=0.25, gt=0, le=1)
    drift_numeric_method: str = "wasserstein"
    # Wasserstein distance in reference standard deviations. Chance alone moves a window
    # of 500 rows about 0.15; with windows of 5,000+ rows Evidently's 0.1 works too.
    drift_numeric_threshold: float = Field(default=0.2, gt=0)
    drift_categorical_method: str = "jensenshannon"
    drift_categorical_threshold: float = Field(default=0.1, gt=0)
    drift_feature_thresholds: dict[str, float] = Field(default_factory=dict)

    # Live performance: the champion's metrics on predictions of the last this many hours that
    # got their true label (POST /feedback), once there are at least this many labels; a
    # primary metric this much worse than on the held-out split (a share: 0.2 is 20 %) is a
    # "performance degraded" verdict (exit 5). The held-out figure is itself an estimate from
    # a few hundred rows: on the bundled churn table, calm traffic scores about 10 % under it.
    performance_window_hours: float = Field(default=168.0, gt=0)
    performance_min_labels: PositiveInt = 200
    performance_max_drop: float = Field(default=0.2, gt=0, lt=1)
    # Diagnosis: unknown categories, or missing values beyond training's, in this share of
    # the window make a "data problem" (fix the data, don't retrain on it).
    quality_max_share: float = Field(default=0.05, gt=0, le=1)

    # Retraining data: the labelled predictions of the last this many hours join the table
    # (once there are APP_PERFORMANCE_MIN_LABELS), carrying this share of the weight in
    # fitting and in the gate's held-out scores (0: the table alone). See retraining_data.py.
    retrain_window_hours: float = Field(default=168.0, gt=0)
    retrain_traffic_share: float = Field(default=0.8, ge=0, le=1)

    # Retraining gate: a challenger is promoted when its score is at least the
    # champion's minus this tolerance (in the units of the primary metric).
    gate_tolerance: float = Field(default=0.0, ge=0)

    @property
    def body_limit(self) -> int:
        """The largest request body served: ``APP_MAX_BODY_BYTES``, or what a full batch needs."""
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return self.max_batch_size * BODY_BYTES_PER_RECORD + 64 * 1024


def load_settings() -> Settings:
    """Read the settings now, failing with one line that names the bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        field, *inner = error["loc"]
        where = f" at {'.'.join(map(str, inner))}" if inner else ""
        raise ConfigError(
            f"invalid setting APP_{str(field).upper()}{where}: {error['msg']}"
        ) from None
    except SettingsError as exc:  # a JSON setting (APP_FEATURE_KINDS, ...) that is not JSON
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        raise ConfigError(f"invalid setting APP_{field.upper()}: not valid JSON") from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
