"""Accuracy measurement: verification (LFW protocol) and open-set identification."""
