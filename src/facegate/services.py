"""``Services``: everything a facegate process builds once at start-up.

No module-level globals hold models, galleries or connections (a global gallery is what broke
seed 002 under several gunicorn workers); instead one ``Services`` is built and handed to
whatever serves requests: the CLI, the HTTP API, the stream server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from facegate.cluster.service import ClusterNode
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.events import EventBus
from facegate.gallery import Gallery, open_store
from facegate.inference import InferencePool
from facegate.memory import return_large_blocks
from facegate.observers import TrackObservers
from facegate.recognition import RecognitionService
from facegate.stream.announce import announcer_factory


@dataclass
class Services:
    """The engine, the gallery, the operations over both, the one inference pool that every
    caller (HTTP request or video stream) runs model work on, the recognition events, who
    observes every stream's tracked faces (``observers``: the announcer of recognition events
    first, then whatever a hook registers, e.g. access control's door watchers), and this host
    as a node of the cluster (``cluster``: camera leases, stream names)."""

    settings: Settings
    engine: FaceEngine
    gallery: Gallery
    recognition: RecognitionService
    inference: InferencePool
    events: EventBus
    observers: TrackObservers = field(default_factory=TrackObservers)
    cluster: ClusterNode | None = None  # this host as a node (facegate.cluster)

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        background_sync: bool = True,
        create: bool = True,
        warm_up: bool = False,
    ) -> Services:
        """Open (and migrate) the database, load the models and build the index.

        ``create=False`` (commands that only read a gallery) refuses a SQLite gallery that
        does not exist, before any model is loaded. ``warm_up`` (servers) compiles every
        detector input shape first, so no request ever waits for a compile.
        """
        if create:
            settings.storage.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = open_store(settings, create=create)
        return_large_blocks()  # decoded images go back to the OS when freed (memory.py)
        engine = FaceEngine(settings)
        if warm_up:
            engine.detector.warm_up()
        gallery = Gallery(settings, store=store, background=background_sync)
        inference = InferencePool(settings.inference.threads, settings.inference.max_queue)
        recognition = RecognitionService(engine, gallery)
        services = cls(settings, engine, gallery, recognition, inference, EventBus())
        services.cluster = ClusterNode(settings, store.db)
        services.observers.register(announcer_factory(services.events))
        return services

    def close(self) -> None:
        self.inference.shutdown()
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
