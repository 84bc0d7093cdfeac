"""The command line; ``COMMAND --help`` explains each command.

Run it as ``{{ cookiecutter.project_slug }} COMMAND``.
Results go to standard output; progress and errors go to standard error. Expected errors
(bad data, missing model, bad setting) print one line and exit 1.

A module per concern adds its commands here: ``training`` (train, evaluate, predict,
retrain), ``serving`` (serve), ``registry`` (models list, promote, rollback),
``monitoring`` (monitor) and ``traffic`` (simulate-traffic); ``console`` is where they
print. Each command imports what it needs when it runs: pandas, scikit-learn, MLflow,
Evidently and uvicorn take seconds to import, and ``--help`` needs none of them.
"""

from typing import Annotated

import typer

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.cli import (
    monitoring,
    registry,
    serving,
    traffic,
    training,
)

app = typer.Typer(
    help="Train, serve and monitor the {{ cookiecutter.project_slug }} model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for commands in (training.app, serving.app, registry.app, monitoring.app, traffic.app):
    app.add_typer(commands)  # no name: their commands are top-level ones
app.add_typer(registry.models_app, name="models")


def version_callback(value: bool) -> None:
    """Print the version and exit."""
    if value:
        typer.echo(__version__)
        raise typer.Exit


@app.callback()
def main(
    _version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = None,
) -> None:
    """Train, serve and monitor the model. Settings come from APP_* variables and .env."""
