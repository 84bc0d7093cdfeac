"""Prediction log, drift detection, retraining trigger and traffic simulation."""
