"""Benchmarks, run on demand (never by the test suite): see bench/README.md and BENCHMARKS.md."""
