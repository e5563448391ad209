"""Deterministic fakes of the boundaries (protocols.py), shipped in the package for tests and demos."""
