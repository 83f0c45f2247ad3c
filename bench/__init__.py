"""Benchmarks: each ``bench/<name>.py`` runs as ``python -m bench.<name>`` and prints its figures.

Every benchmark measures the raw ceiling (e.g. plain confluent-kafka) in the same run and prints
the ratio: our machines are shared, so only ratios within one run compare.
"""
