"""Synthetic demo data generators, one module per use case."""
