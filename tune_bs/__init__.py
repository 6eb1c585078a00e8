"""tune-bs: Ray Tune search over batch sizes, batch strategies and batch-size schedules for
contrastive representation learning of time series."""

__version__ = "0.1.0"
