"""Pixels to faces: detection, alignment, quality and embeddings.

Knows nothing of HTTP, sockets or databases.
"""

from facegate.engine.engine import FaceEngine
from facegate.engine.types import Box, Face, Quality

__all__ = ["Box", "Face", "FaceEngine", "Quality"]
