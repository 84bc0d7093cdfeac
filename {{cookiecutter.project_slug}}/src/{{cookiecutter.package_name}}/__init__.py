"""The {{ cookiecutter.project_slug }} package: train, serve and monitor a model."""

from importlib.metadata import version

__version__ = version("{{ cookiecutter.project_slug }}")
