"""Deterministic, broker-free replays of a file through the worker's core, for evaluation.

No Faust and no Kafka: each module feeds source records to the same plain functions the
agents call (validation, tie strength, person influence) and reports what came out.
"""
