"""Benchmarks for ``make bench``: every figure in one run, ratios measured side by side."""
