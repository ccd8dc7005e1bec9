"""Attendance: confirmed recognitions become a durable log, daily records and reports."""
