"""Benchmarks: measured, printed as JSON, never asserted as wall-clock limits in tests."""
