"""Training engine and metrics."""
