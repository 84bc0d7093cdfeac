"""The ``simulate-traffic`` command: records from the dataset sent to a running server.

Optionally shifted (to see drift), and followed by their true labels (to see live performance).
"""

from __future__ import annotations  # type hints of heavy classes are never evaluated

from typing import TYPE_CHECKING, Annotated

import typer

from {{ cookiecutter.package_name }}.cli.console import (
    reported_errors,
    stderr,
    stdout,
)
from {{ cookiecutter.package_name }}.config import (
    Settings,
    load_settings,
)
from {{ cookiecutter.package_name }}.errors import (
    ConfigError,
    DataError,
)

if TYPE_CHECKING:
    import httpx

    from {{ cookiecutter.package_name }}.schema import FeatureSchema

app = typer.Typer()


@app.command("simulate-traffic")
def simulate_traffic(
    url: Annotated[
        str, typer.Option(help="Base URL of the running server.")
    ] = "http://127.0.0.1:8000",
    records: Annotated[int, typer.Option(min=1, help="How many records to send.")] = 500,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Records per request (1 uses /predict).")
    ] = 1,
    shift: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=K adds K standard deviations to a numeric feature; NAME=VALUE@SHARE "
            "gives a category (or true/false) to a share of the records. Repeatable."
        ),
    ] = None,
    shift_share: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Shift this share of the features (the first ones): numbers by 3 standard "
            "deviations, a category (or true) in 90% of the records.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 0,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="Send each batch's true labels to /feedback/batch (needs APP_FEEDBACK_TOKEN).",
        ),
    ] = False,
    label_delay: Annotated[
        float,
        typer.Option(
            min=0, help="With --labels: send each request's labels this many seconds after it."
        ),
    ] = 0.0,
    concept_shift: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="With --labels: in this top share of the first numeric feature, the labels "
            "{{ "all become the last class" if cookiecutter.__task == "classification" else "rise by 3 standard deviations" }}, as if the world changed while the inputs did not.",
        ),
    ] = 0.0,
) -> None:
    """Send records drawn from the dataset to a running server, optionally shifted.

    With --labels, their true labels follow, as ground truth comes back in production.
    """
    import httpx
    from rich.progress import Progress

    with reported_errors():
        from {{ cookiecutter.package_name }}.data import load_dataset
        from {{ cookiecutter.package_name }}.monitoring.traffic import (
            TrafficResult,
            parse_shifts,
            sample_records,
            sample_truths,
            send,
            shifts_for_share,
        )

        settings = load_settings()
        headers = _feedback_headers(settings) if labels else {}
    with (
        httpx.Client(base_url=url, timeout=30, headers=headers) as client,
        Progress(console=stderr) as progress,
    ):
        with reported_errors():
            schema = _served_schema(client)
            dataset = load_dataset(settings)
            specs = [*(shift or []), *shifts_for_share(schema, shift_share or 0.0)]
            shifts = parse_shifts(specs, schema)
            if shifts:
                stderr.print(f"- shifted: {', '.join(specs)}", markup=False)
            sample = sample_records(dataset.features, schema, records, shifts, seed)
            truths = (
                sample_truths(dataset, schema, records, seed, concept_shift) if labels else None
            )
        task = progress.add_task(f"Sending {records} records to {url}", total=records)
        result = TrafficResult()
        for result in send(client, sample, batch_size, truths, label_delay):
            progress.update(task, completed=result.records)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.status_counts.items()))
    labelled = f", {result.labels} labelled" if labels else ""
    stdout.print(
        f"sent {result.records} records in {result.requests} requests ({statuses}){labelled}"
    )
    if result.failed:
        raise typer.Exit(1)


def _feedback_headers(settings: Settings) -> dict[str, str]:
    """The Authorization header of the feedback endpoints, from APP_FEEDBACK_TOKEN."""
    token = settings.feedback_token.get_secret_value() if settings.feedback_token else ""
    if not token:
        raise ConfigError("--labels needs APP_FEEDBACK_TOKEN: the server's feedback token")
    return {"Authorization": f"Bearer {token}"}


def _served_schema(client: httpx.Client) -> FeatureSchema:
    """The feature schema of the model the server at ``client`` is serving."""
    import httpx

    from {{ cookiecutter.package_name }}.schema import FeatureSchema

    try:
        response = client.get("/model")
    except httpx.HTTPError as exc:
        raise DataError(f"cannot reach {client.base_url}: {exc}") from None
    if response.status_code != httpx.codes.OK:
        raise DataError(f"{client.base_url}/model answered {response.status_code}: {response.text}")
    return FeatureSchema.model_validate(response.json()["feature_schema"])
