"""The registry's commands: list the versions, promote one, roll back to the previous champion."""

from typing import Annotated

import typer
from rich.table import Table

from {{ cookiecutter.package_name }}.cli.console import (
    reported_errors,
    stdout,
)
from {{ cookiecutter.package_name }}.config import load_settings

app = typer.Typer()
models_app = typer.Typer(help="Inspect the model registry.", no_args_is_help=True)


@models_app.command("list")
def list_models() -> None:
    """List the stored model versions; the champion is marked."""
    with reported_errors():
        from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC
        from {{ cookiecutter.package_name }}.io.registry import open_registry

        registry = open_registry(load_settings())
        champion = registry.champion()
        table = Table("", "version", "created (UTC)", PRIMARY_METRIC, "trained on", "MLflow run")
        for version in registry.versions():
            metadata = registry.metadata(version)
            table.add_row(
                "*" if version == champion else "",
                version,
                f"{metadata.created_at:%Y-%m-%d %H:%M:%S}",
                f"{metadata.metrics[PRIMARY_METRIC]:.4f}",
                f"{metadata.training_rows} training rows of {metadata.dataset}",
                metadata.run_id,
            )
        stdout.print(table)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The version to serve, e.g. v3.")],
    reason: Annotated[str, typer.Option(help="Recorded in the audit log.")] = "manual promotion",
    allow_schema_change: Annotated[
        bool,
        typer.Option(
            "--allow-schema-change",
            help="Promote even if clients must change their requests (a new required "
            "feature, a removed one, another kind, or no more nulls).",
        ),
    ] = False,
) -> None:
    """Make a version the champion; running servers switch to it without restarting."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        registry = open_registry(load_settings())
        registry.promote(version, reason=reason, allow_schema_change=allow_schema_change)
        stdout.print(f"{version} is the champion")


@app.command()
def rollback(
    reason: Annotated[str, typer.Option(help="Recorded in the audit log.")] = "manual rollback",
) -> None:
    """Serve the previous champion again; running servers switch without restarting."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        registry = open_registry(load_settings())
        version = registry.rollback(reason=reason)
        stdout.print(f"rolled back: {version} is the champion")
