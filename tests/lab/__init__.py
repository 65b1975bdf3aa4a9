"""The real-server lab used by the integration tests and the benchmarks."""

from tests.lab.lab import Lab

__all__ = ["Lab"]
