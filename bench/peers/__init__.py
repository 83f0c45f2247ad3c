"""Peer implementations of the worker's join on other stream processors, for the benchmarks."""
