"""facegate: real-time face recognition for attendance and access control."""

__version__ = "0.1.0"
