"""riskstream: real-time fraud detection on a partitioned, replayable event log."""

__version__ = "0.1.0"

__all__ = ["__version__"]
