"""Tracking observes a run (MLflow); it never steers it."""
