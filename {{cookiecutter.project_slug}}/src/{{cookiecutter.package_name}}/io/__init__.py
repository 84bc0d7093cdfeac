"""Seams to the services outside the process: the model registry and experiment tracking."""
