"""Reproducible benchmarks: ``python -m bench.NAME`` prints its figures and the baseline
measured in the same run, with the ratio between them."""
