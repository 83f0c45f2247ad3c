"""tracecode contracts: Avro schemas, wire codec, status model and traceability codes.

This package imports nothing else of the project: every other part imports it.
"""
