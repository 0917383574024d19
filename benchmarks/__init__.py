"""Bounded, repeatable performance measurements: `python -m benchmarks.run [--quick]`."""
