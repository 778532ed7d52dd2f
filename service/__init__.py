"""Closeknit: relationship-based influence on Kafka."""
