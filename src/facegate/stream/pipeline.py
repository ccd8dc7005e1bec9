"""Per-stream frame processing: a one-frame slot, stage timings, tracking and recognition.

The pipeline knows nothing of sockets. A source (the TCP server, or a server-side camera of
live/cameras.py) calls ``StreamPipeline.submit`` with each frame as it arrives and gets a typed
``FrameResult`` (or a ``FrameFailure``) back through a callback. In between:

- **One-frame slot.** A frame that arrives while an earlier one still waits replaces it
  (``replaced`` counter): a real-time stream wants the newest picture, never a queue of old
  ones to catch up on.
- **Maximum age.** When its turn comes, a frame that has waited longer than ``max_age_s`` is
  dropped unprocessed (``stale`` counter, kept apart from ``replaced``): its answer would
  describe a scene that is gone.
- **The work** (``FrameProcessor.process``) runs on the shared inference pool, scheduled
  fairly across streams by ``FairScheduler`` (scheduler.py): decode (frame size checked from
  the JPEG header first), detect (every frame, or every ``detect_every``-th while all
  faces are confirmed, every ``still_detect_every``-th while nothing else moves either:
  see ``FrameProcessor._carry``), associate detections with
  tracks, embed only
  the faces whose track asks for it (suspect tracks first: see tracker.py), match them in
  the gallery, vote into the tracker, and
  build the result from the tracker's states, optionally with an annotated JPEG. An optional
  ``observer`` sees every frame's tracked faces and pixels on the inference thread (how
  confirmed identities become recognition events, with a face snapshot, for attendance).

- **One face per track.** A scene cut (``SceneCutDetector``, appearance.py) ends every
  track; so does a new ``FrameIn.segment`` (a server camera that restarted: on demand,
  after a read error or a stall), so a different person in the same spot never inherits
  the previous one's confirmed name. Track ids keep counting across these resets.

A stream has at most one frame in processing at a time, so its tracker is only ever touched
by one thread at once even though consecutive frames may run on different pool threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from facegate.config.base import default_of
from facegate.config.stream import StreamSettings
from facegate.engine import FaceEngine
from facegate.engine.types import Box
from facegate.errors import BadImage, DatabaseUnavailable, ImageTooLarge
from facegate.gallery import Gallery, ModelGuard
from facegate.stream.annotate import draw_faces
from facegate.stream.appearance import SceneCutDetector, StillScene, face_descriptor
from facegate.stream.jpeg import decode_jpeg, encode_jpeg
from facegate.stream.tracker import Detected, Tracker, TrackerParams

if TYPE_CHECKING:
    from facegate.config import Settings
    from facegate.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FrameIn:
    """A frame handed to a pipeline. ``jpeg`` from the network, or ``image`` (BGR pixels)
    from a server-side source that has already decoded it. Times are ``time.time()``."""

    frame_id: int
    captured: float  # the source's clock
    received: float  # when the frame was complete on this server
    receive_ms: float = 0.0  # first to last byte on the wire
    segment: int = 0  # a new value: the source restarted, so every track ends (see reset)
    jpeg: bytes | None = field(default=None, repr=False)
    image: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """One face of a frame as its track reports it (person None: unknown or undecided)."""

    box: Box
    track_id: int
    person_id: int | None
    person_name: str | None
    score: float
    confirmed: bool
    landmarks: tuple[tuple[float, float], ...] | None = None
    captured: float | None = None  # the frame's capture time (the source's clock)


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Milliseconds spent in each stage of one frame (``encode``: the annotated JPEG)."""

    receive: float = 0.0
    decode: float = 0.0
    detect: float = 0.0
    embed: float = 0.0
    match: float = 0.0
    encode: float = 0.0


# The stages the pipeline times, in order: the one list of their names. The wire's
# ``Timings`` (RESULT's ``timings_ms``) is these plus ``send``; stats and metrics read them
# from here.
PIPELINE_STAGES: tuple[str, ...] = tuple(f.name for f in fields(StageTimings))


@dataclass(frozen=True, slots=True)
class DropCounts:
    replaced: int = 0
    stale: int = 0


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What the pipeline hands the transport for one processed frame."""

    stream: str
    frame_id: int
    captured: float
    received: float
    processed: float
    width: int
    height: int
    faces: tuple[TrackedFace, ...]
    embedded: int  # faces embedded (and matched) for this frame
    timings_ms: StageTimings
    drops: DropCounts
    annotated: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FrameFailure:
    """A frame that could not be processed; ``code`` is a protocol error code."""

    stream: str
    frame_id: int
    code: str  # "bad_frame" | "frame_too_large" | "internal" | "unavailable"
    message: str


Output = Callable[[FrameResult | FrameFailure], None]
# Called on the inference thread with each frame's tracked faces and its BGR pixels.
TrackObserver = Callable[[Sequence[TrackedFace], np.ndarray], None]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class FrameProcessor:
    """The model work for one stream's frames, in order. Runs on an inference thread."""

    def __init__(
        self,
        engine: FaceEngine,
        gallery: Gallery,
        *,
        stream: str,
        max_width: int = 4096,
        max_height: int = 4096,
        annotate: bool = False,
        annotate_quality: int = 80,
        tracker_params: TrackerParams | None = None,
        max_embeddings: int | None = None,
        observer: TrackObserver | None = None,
        detect_every: int = default_of(StreamSettings, "detect_every"),
        still_detect_every: int = default_of(StreamSettings, "still_detect_every"),
    ) -> None:
        if detect_every < 1 or still_detect_every < 1:
            raise ValueError("detect_every and still_detect_every must be at least 1")
        self.engine, self.gallery, self.stream = engine, gallery, stream
        self.max_embeddings = max_embeddings  # per frame; None: all that are due
        self.detect_every = detect_every
        self.still_detect_every = max(detect_every, still_detect_every)
        self.detected = 0  # frames the detector ran on
        self.carried = 0  # frames whose tracks were carried forward undetected
        self.carried_still = 0  # of those, carried past detect_every because nothing moved
        self._since_detect = 0  # frames carried since the detector last ran
        self.max_width, self.max_height = max_width, max_height
        self.annotate, self.annotate_quality = annotate, annotate_quality
        self.tracker = Tracker(tracker_params)
        self.cuts = SceneCutDetector()
        self.still = StillScene()
        self.observer = observer
        self.model_guard = ModelGuard(gallery.store, engine.model_id, engine.model_sha256)
        self._segment = 0

    def reset(self) -> None:
        """Start afresh: end every track (ids are never reused) and forget the last frame.

        Called on the inference thread by ``process`` when a frame starts a new segment;
        callers elsewhere must not call it while a frame of this stream is in processing.
        """
        self.tracker.reset()
        self.cuts.reset()
        self.still.reset()

    def process(self, frame: FrameIn, drops: DropCounts) -> FrameResult:
        """Decode, detect, track, embed what needs it, match, vote, report (and draw)."""
        t = time.perf_counter()
        if frame.image is not None:
            image = frame.image
        elif frame.jpeg is not None:
            image = decode_jpeg(frame.jpeg, self.max_width, self.max_height)
        else:
            raise BadImage("a frame needs a JPEG or pixels")
        decode_ms = _ms(t)
        if frame.segment != self._segment:
            self._segment = frame.segment
            self.reset()
        cut = self.cuts.is_cut(image)
        if cut:
            self.tracker.reset()  # on the frame of the cut, whether it is detected or not

        if not cut and self._carry(image):
            return self._result(
                frame, image, drops, {}, 0, StageTimings(frame.receive_ms, decode_ms)
            )
        self._since_detect = 0
        self.detected += 1
        t = time.perf_counter()
        detections = self.engine.detect(image)
        detect_ms = _ms(t)
        self.still.looked(self.cuts.thumbnail, [d.box for d in detections])

        assignments = self.tracker.update(
            [Detected(d.box, d.score, face_descriptor(image, d.box)) for d in detections]
        )
        todo = [a for a in assignments if a.needs_embedding]
        if self.max_embeddings is not None and len(todo) > self.max_embeddings:
            # Spread a burst (several new faces at once) over the next frames, suspect tracks
            # then the largest faces first: the tracker asks again for every track it did not
            # get a vote for, and a frame's cost stays bounded, which is what keeps the
            # latency tail short.
            todo.sort(key=lambda a: (not a.verify, -detections[a.index].box.area))
            todo = todo[: self.max_embeddings]
        t = time.perf_counter()
        faces = self.engine.describe(image, [detections[a.index] for a in todo])
        embed_ms = _ms(t)

        t = time.perf_counter()
        track_ids = {a.index: a.track_id for a in assignments}
        if faces:
            self.model_guard.check()  # ModelMismatch: a gallery built by another model
            matches = self.gallery.identify_many([f.embedding for f in faces])
            for a, face, match in zip(todo, faces, matches, strict=True):
                person = match.person
                track_ids[a.index] = self.tracker.observe(
                    a.track_id,
                    None if person is None else person.id,
                    None if person is None else person.name,
                    match.score,
                    face.embedding,
                )
        match_ms = _ms(t)

        marks = {
            track_id: tuple((float(x), float(y)) for x, y in detections[index].landmarks)
            for index, track_id in track_ids.items()
        }
        timings = StageTimings(frame.receive_ms, decode_ms, detect_ms, embed_ms, match_ms)
        return self._result(frame, image, drops, marks, len(faces), timings)

    def _carry(self, image: np.ndarray) -> bool:
        """Whether this frame goes undetected, its tracks carried forward (``detect_every``).

        Only between detections (the detector runs at least every ``detect_every`` frames,
        or every ``still_detect_every`` while nothing outside the tracked faces moved since
        it last looked: ``StillScene``), only while the tracker is settled (tracker.py: every
        face seen in the last detection confirmed and not suspect), never while the observer
        asks for every frame (``wants_every_frame``: a door checking liveness), and only if
        each carried box still looks like its face; otherwise the frame is detected as
        usual. The cut check ran before this. ``detect_every`` 1 turns all of it off.
        """
        since = self._since_detect + 1  # frames since the detector ran, this one included
        if self.detect_every == 1 or since >= self.still_detect_every:
            return False
        if not self.tracker.settled() or getattr(self.observer, "wants_every_frame", False):
            return False  # (a door checking liveness reads every frame's landmarks)
        boxes = self.tracker.carried_boxes()
        past_due = since >= self.detect_every
        if past_due:
            height, width = image.shape[:2]
            if not self.still.still(self.cuts.thumbnail, list(boxes.values()), width, height):
                return False
        looks = {track_id: face_descriptor(image, box) for track_id, box in boxes.items()}
        if not self.tracker.carry(looks):
            return False
        self._since_detect += 1
        self.carried += 1
        self.carried_still += past_due
        return True

    def _result(
        self,
        frame: FrameIn,
        image: np.ndarray,
        drops: DropCounts,
        marks: dict[int, tuple[tuple[float, float], ...]],
        embedded: int,
        timings: StageTimings,
    ) -> FrameResult:
        """The frame's tracked faces (landmarks where detected), shown to the observer, drawn
        if asked, as the result. A carried frame has no landmarks: none were found."""
        tracked = tuple(
            TrackedFace(
                box=s.box,
                track_id=s.track_id,
                person_id=s.person_id,
                person_name=s.person_name,
                score=s.score,
                confirmed=s.confirmed,
                landmarks=marks.get(s.track_id),
                captured=frame.captured,
            )
            for s in self.tracker.states()
        )
        processed = time.time()
        if self.observer is not None:
            try:
                self.observer(tracked, image)
            except Exception:  # an observer's bug must not cost the frame its result
                log.exception("stream %s: track observer failed", self.stream)

        annotated, encode_ms = None, 0.0
        if self.annotate:
            t = time.perf_counter()
            annotated = encode_jpeg(draw_faces(image, tracked), self.annotate_quality)
            encode_ms = _ms(t)
        height, width = image.shape[:2]
        return FrameResult(
            stream=self.stream,
            frame_id=frame.frame_id,
            captured=frame.captured,
            received=frame.received,
            processed=processed,
            width=int(width),
            height=int(height),
            faces=tracked,
            embedded=embedded,
            timings_ms=replace(timings, encode=encode_ms),
            drops=drops,
            annotated=annotated,
        )


def stream_processor(
    services: Services,
    stream: str,
    *,
    observer: TrackObserver | None,
    annotate: bool = False,
    max_width: int = 4096,
    max_height: int = 4096,
    tracker_params: TrackerParams | None = None,
) -> FrameProcessor:
    """The processor for one stream (a TCP client or a server camera) with the settings'
    stream parameters: the one place both build it, so they never drift apart."""
    return settings_processor(
        services.engine,
        services.gallery,
        services.settings,
        stream,
        observer=observer,
        annotate=annotate,
        max_width=max_width,
        max_height=max_height,
        tracker_params=tracker_params,
    )


def settings_processor(
    engine: FaceEngine,
    gallery: Gallery,
    settings: Settings,
    stream: str,
    *,
    observer: TrackObserver | None = None,
    annotate: bool = False,
    max_width: int = 4096,
    max_height: int = 4096,
    tracker_params: TrackerParams | None = None,
) -> FrameProcessor:
    """A processor with ``settings``' stream parameters (``stream_processor`` for a server's
    streams; the offline video evaluation passes its engine's settings)."""
    s = settings.stream
    return FrameProcessor(
        engine,
        gallery,
        stream=stream,
        max_width=max_width,
        max_height=max_height,
        annotate=annotate,
        annotate_quality=s.annotate_quality,
        tracker_params=tracker_params or TrackerParams(reembed_every=s.reembed_every),
        max_embeddings=s.max_embeddings_per_frame,
        observer=observer,
        detect_every=s.detect_every,
        still_detect_every=s.still_detect_every,
    )


class StreamPipeline:
    """One stream's slot and counters; the scheduler takes frames from it in turn.

    ``submit`` never blocks and never queues more than one frame. Results and failures go to
    ``output`` on the event loop's thread. Not thread-safe: call it from the loop only.
    """

    def __init__(
        self, processor: FrameProcessor, output: Output, *, max_age_s: float = 0.2
    ) -> None:
        self.processor = processor
        self.output = output
        self.max_age_s = max_age_s
        self.slot: FrameIn | None = None
        self.busy = False  # a frame of this stream is on the pool now
        self.closed = False
        self.received = 0
        self.processed = 0
        self.failed = 0
        self.replaced = 0
        self.stale = 0
        self.on_ready: Callable[[StreamPipeline], None] | None = None  # set by the scheduler

    @property
    def stream(self) -> str:
        return self.processor.stream

    @property
    def drops(self) -> DropCounts:
        return DropCounts(self.replaced, self.stale)

    def submit(self, frame: FrameIn) -> None:
        """Put a frame in the slot, replacing (and counting) one that still waits."""
        if self.closed:
            return
        self.received += 1
        if self.slot is not None:
            self.replaced += 1
        self.slot = frame
        if self.on_ready is not None and not self.busy:
            self.on_ready(self)

    def take(self, now: float | None = None) -> FrameIn | None:
        """The waiting frame, if one is fresh enough; a stale one is dropped and counted."""
        frame, self.slot = self.slot, None
        if frame is None:
            return None
        if (now if now is not None else time.time()) - frame.received > self.max_age_s:
            self.stale += 1
            return None
        return frame

    def is_stale(self, frame: FrameIn) -> bool:
        """For the last check on the inference thread (the pool may have made it wait)."""
        return time.time() - frame.received > self.max_age_s

    def run(self, frame: FrameIn) -> FrameResult | FrameFailure | None:
        """Process one frame (on an inference thread); None when it went stale meanwhile."""
        if self.is_stale(frame):
            return None
        try:
            return self.processor.process(frame, self.drops)
        except ImageTooLarge as exc:
            return FrameFailure(self.stream, frame.frame_id, "frame_too_large", str(exc))
        except BadImage as exc:
            return FrameFailure(self.stream, frame.frame_id, "bad_frame", str(exc))
        except DatabaseUnavailable as exc:  # the outage policy refused (docs/cluster.md)
            return FrameFailure(self.stream, frame.frame_id, "unavailable", str(exc))

    def deliver(self, outcome: FrameResult | FrameFailure | None, frame: FrameIn) -> None:
        """Count an outcome and pass it on (on the loop's thread)."""
        if outcome is None:
            self.stale += 1
            return
        if isinstance(outcome, FrameResult):
            self.processed += 1
        else:
            self.failed += 1
        if not self.closed:
            self.output(outcome)

    def close(self) -> None:
        """Stop: a waiting frame is dropped and a frame in processing is not reported."""
        self.closed = True
        self.slot = None
