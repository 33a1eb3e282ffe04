"""Benchmarks: they print figures and compare with baselines measured in the same run."""
