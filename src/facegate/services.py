"""``Services``: everything a facegate process builds once at start-up.

No module-level globals hold models, galleries or connections (a global gallery is what broke
seed 002 under several gunicorn workers); instead one ``Services`` is built and handed to
whatever serves requests: the CLI, the HTTP API, the stream server.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.gallery import Gallery
from facegate.recognition import RecognitionService


@dataclass
class Services:
    """The engine, the gallery and the operations over both, for one process."""

    settings: Settings
    engine: FaceEngine
    gallery: Gallery
    recognition: RecognitionService

    @classmethod
    def start(cls, settings: Settings, *, background_sync: bool = True) -> Services:
        """Load the models, open (and migrate) the database and build the index."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = FaceEngine(settings)
        gallery = Gallery(settings, background=background_sync)
        return cls(settings, engine, gallery, RecognitionService(engine, gallery))

    def close(self) -> None:
        self.gallery.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
