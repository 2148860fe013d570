"""Fakes of the kit's ports and helpers for tests; never imported by production code."""
