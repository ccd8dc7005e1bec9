"""Faces followed across the frames of one stream, each with a voted, confirmed identity.

Embedding and matching every face in every frame is the expensive part of recognition, and
a single frame's answer is noisy (blur, a turned head). A track links one face's detections
over time, so the pipeline can embed it only now and then (every few frames, or when a
clearly better view appears) and let several views vote before a name is *confirmed*. A
confirmed identity only changes when another one gathers a full confirmation's weight of
votes within the recent window, so one odd frame never flips it.

A track belongs to one face. Votes are slow on purpose, so a *different* person taking the
place of a tracked one must not be left to them: a track whose box jumps or whose cheap
appearance descriptor (appearance.py) stops resembling its last frame's becomes *suspect*:
it is reported unconfirmed and embedded at once; an embedding far from the track's recent
ones (or disagreeing with its identity and not close to them) *splits* it: the face gets a
new track id with no votes. ``reset`` ends every track (a scene cut, a camera restart).
Track ids are never reused, also across resets: observers key their state by track id.

Detection itself can be skipped on some frames of a stream (``stream.detect_every``): when
``settled`` (every face seen in the last detection confirmed and not suspect) the pipeline
may ``carry`` the tracks one frame forward on their velocity instead of running the detector,
after checking that each carried box still looks like its face. Such a frame changes no
identity: only detected frames embed, vote, confirm or split, and a scene cut still ends
every track on the frame of the cut (the pipeline checks for cuts on every frame).

Pure Python: the tracker takes boxes, detector scores and match results as plain values and
knows nothing of the engine or the gallery, so it is tested without models.

Use per frame::

    assignments = tracker.update([Detected(box, score), ...])
    for a in assignments:
        if a.needs_embedding:
            match = ...  # embed + match detections[a.index]
            track_id = tracker.observe(a.track_id, match.person_id, match.name, match.score,
                                       embedding)  # a split gives the face a new id
    faces = tracker.states()
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from facegate.config.base import default_of
from facegate.config.stream import StreamSettings
from facegate.engine.types import Box


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """How tracks are linked, kept, re-embedded and confirmed.

    - ``min_iou``: a detection continues a track when their boxes overlap at least this much
      (the track's box is first moved by its recent velocity) ...
    - ``max_center_shift``: ... or when the centres are closer than this many face sizes
      (sqrt of the box area), which keeps fast-moving small faces linked.
    - ``max_missed``: a track not seen for this many consecutive frames is dropped (frames,
      detected or carried: door watchers forget a track a little later and rely on it).
    - ``reembed_every``: a confirmed track is embedded again after this many frames;
      ``reembed_every_unconfirmed`` applies until then (1: every frame, to confirm fast),
      but only to faces good enough to ever confirm (see ``confirm_votes``).
    - ``quality_gain``: a track is also embedded when its face quality beats the quality of
      its last embedding by this factor (a face that came closer or turned to the camera).
    - ``full_vote_px``: a face this many pixels across (sqrt of the box area) with detector
      score 1 casts a vote of weight 1; smaller or less certain faces weigh less.
    - ``confirm_votes``: the weight of agreeing votes (within the last ``vote_window``
      embeddings) that confirms an identity, "unknown" included. Must exceed 1, the
      heaviest single vote, so no single frame can confirm or flip an identity. A face whose
      votes stay lighter than ``confirm_votes / vote_window`` (tiny or doubtful) never
      confirms at all, which is the point: it is too poor a view to name anyone.
    - ``max_size_change`` / ``max_jump``: a detection whose face size (sqrt of the area)
      differs from its track's by more than this factor, or whose centre lies more than
      ``max_jump`` face sizes from the predicted one, makes the track suspect.
    - ``min_appearance``: so does a face descriptor correlating less than this with the
      track's previous frame. One face in consecutive frames: mostly above 0.85 (obama.mp4:
      lowest 0.67; small walking faces lower still), which costs only an extra embedding;
      another face at a synthetic cut: -0.18 to 0.63.
    - ``split_similarity``: an embedding whose best cosine similarity to the track's
      ``recent_embeddings`` is below this is another face: the track splits. Measured on the
      dev videos: one face's consecutive embeddings rarely fall below 0.3; different
      people's are around 0 (synthetic cuts: -0.08 to 0.13).
    - ``disagree_similarity``: a split also happens below this similarity when the match
      names someone other than the track's identity (unknown included).
    """

    min_iou: float = 0.3
    max_center_shift: float = 0.5
    max_missed: int = 10
    reembed_every: int = default_of(StreamSettings, "reembed_every")
    reembed_every_unconfirmed: int = 1
    quality_gain: float = 1.25
    full_vote_px: float = 80.0
    confirm_votes: float = 2.5
    vote_window: int = 8
    max_size_change: float = 1.3
    max_jump: float = 0.35
    min_appearance: float = 0.7
    split_similarity: float = 0.2
    disagree_similarity: float = 0.35
    recent_embeddings: int = 3

    def __post_init__(self) -> None:
        if self.confirm_votes <= 1.0:
            raise ValueError("confirm_votes must exceed 1 (one frame's heaviest vote)")
        if min(self.max_missed, self.reembed_every, self.reembed_every_unconfirmed) < 1:
            raise ValueError("max_missed and re-embedding periods must be at least 1")
        if self.vote_window < math.ceil(self.confirm_votes):
            raise ValueError("vote_window too short to ever reach confirm_votes")
        if self.max_size_change < 1.0 or self.recent_embeddings < 1:
            raise ValueError("max_size_change must be >= 1 and recent_embeddings >= 1")


@dataclass(frozen=True, slots=True)
class Detected:
    """One detection of this frame, as the tracker needs it."""

    box: Box
    score: float  # detector confidence in [0, 1]
    appearance: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which track a detection (by its index in ``update``'s input) belongs to."""

    index: int
    track_id: int
    needs_embedding: bool
    verify: bool = False  # suspect: embed before anything else (see the module docstring)


@dataclass(frozen=True, slots=True)
class TrackState:
    """What a track reports for the current frame.

    ``person_id``/``person_name`` are None for unknown (or not yet voted). While not
    ``confirmed`` they are the leading vote so far; once confirmed, the confirmed identity.
    ``score`` is the mean match score of the recent votes for it; ``votes`` their weight.
    """

    track_id: int
    box: Box
    person_id: int | None
    person_name: str | None
    score: float
    confirmed: bool
    votes: float
    # in the current frame: detected, or carried forward on an undetected frame (``carry``);
    # False while coasting through misses
    seen: bool


@dataclass(slots=True)
class _Vote:
    person_id: int | None
    name: str | None
    weight: float
    score: float


@dataclass(slots=True)
class _Track:
    track_id: int
    box: Box
    quality: float
    velocity: tuple[float, float] = (0.0, 0.0)
    missed: int = 0  # detected frames in a row without this face
    carried: int = 0  # frames carried forward without detection since it was last seen
    last_embedded: int | None = None  # frame number
    embedded_quality: float = 0.0
    votes: deque[_Vote] = field(default_factory=deque)
    confirmed: tuple[int | None, str | None] | None = None  # (person_id, name)
    appearance: np.ndarray | None = None  # the last frame's face descriptor
    # Unit-length recent embeddings, in memory only: never logged, gone with the track.
    embeddings: deque[np.ndarray] = field(default_factory=deque)
    suspect: bool = False  # may be another face now: unconfirmed until embedded

    def moved(self, steps: int) -> Box:
        """The last detected box moved ``steps`` frames along the recent velocity."""
        dx, dy = self.velocity
        return Box(self.box.x + dx * steps, self.box.y + dy * steps, self.box.w, self.box.h)

    def predicted(self) -> Box:
        """Where the face should be in the frame after the last one handled."""
        return self.moved(self.missed + self.carried + 1)


def face_quality(box: Box, score: float, full_vote_px: float) -> float:
    """A face's worth as a vote, in [0, 1]: its size (up to ``full_vote_px``) x confidence.

    Size and detector confidence are known right after detection, before any embedding, so
    they can decide whether embedding is worth it at all.
    """
    size = math.sqrt(box.area)
    return min(1.0, size / full_vote_px) * min(max(score, 0.0), 1.0)


def _jumped(track: _Track, box: Box, params: TrackerParams) -> bool:
    """Whether a linked detection moved or resized beyond a face's normal motion."""
    old, new = math.sqrt(max(track.box.area, 1e-9)), math.sqrt(max(box.area, 1e-9))
    if max(old, new) / min(old, new) > params.max_size_change:
        return True
    (px, py), (x, y) = track.predicted().center, box.center
    return math.hypot(px - x, py - y) / old > params.max_jump


def _affinity(track_box: Box, box: Box, params: TrackerParams) -> float | None:
    """How well a detection continues a track (higher is better), or None if it cannot."""
    iou = track_box.iou(box)
    if iou >= params.min_iou:
        return 1.0 + iou  # overlap always beats mere proximity
    (tx, ty), (x, y) = track_box.center, box.center
    size = math.sqrt(max(track_box.area, 1e-9))
    shift = math.hypot(tx - x, ty - y) / size
    if shift <= params.max_center_shift:
        return 1.0 - shift
    return None


def _unlike(previous: np.ndarray | None, current: np.ndarray | None, params: TrackerParams) -> bool:
    """Whether two face descriptors (appearance.py) correlate too little to be one face."""
    if previous is None or current is None:
        return False
    return float(previous @ current) < params.min_appearance


class Tracker:
    """The tracks of one stream. Not thread-safe: one stream's frames are handled in order."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1
        self._frame = 0
        self._detections = 0  # ``update`` calls since the last reset
        self.resets = 0  # ``reset`` calls (scene cuts, camera restarts)
        self.splits = 0  # tracks split because another face took their place
        self.suspects = 0  # times a track became suspect (box jump, appearance change)

    def reset(self) -> None:
        """End every track; the next detections start new ones, with ids never used before."""
        self._tracks.clear()
        self._detections = 0
        self.resets += 1

    def update(self, detections: Sequence[Detected]) -> list[Assignment]:
        """Link this frame's detections to tracks; say which of them to embed.

        Greedy association: candidate pairs best-first, each track and detection used once.
        Unlinked detections start new tracks; unlinked tracks count a miss and expire once
        ``max_missed`` frames have passed since they were last seen (``_expired``).
        """
        self._frame += 1
        self._detections += 1
        p = self.params
        pairs: list[tuple[float, int, int]] = []
        for track in self._tracks.values():
            predicted = track.predicted()
            for i, det in enumerate(detections):
                affinity = _affinity(predicted, det.box, p)
                if affinity is not None:
                    pairs.append((affinity, track.track_id, i))
        pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
        linked: dict[int, int] = {}  # detection index -> track id
        used: set[int] = set()
        for _, track_id, i in pairs:
            if i not in linked and track_id not in used:
                linked[i] = track_id
                used.add(track_id)

        for track_id in [t for t in self._tracks if t not in used]:
            track = self._tracks[track_id]
            track.missed += 1
            if self._expired(track):
                del self._tracks[track_id]

        out: list[Assignment] = []
        for i, det in enumerate(detections):
            quality = face_quality(det.box, det.score, p.full_vote_px)
            if i in linked:
                track = self._tracks[linked[i]]
                # Only a track with votes has a name to lose; one without is embedded anyway.
                if (
                    track.votes
                    and not track.suspect
                    and (_jumped(track, det.box, p) or _unlike(track.appearance, det.appearance, p))
                ):
                    track.suspect = True
                    self.suspects += 1
                steps = track.missed + track.carried + 1
                vx = (det.box.center[0] - track.box.center[0]) / steps
                vy = (det.box.center[1] - track.box.center[1]) / steps
                track.velocity = (
                    0.5 * track.velocity[0] + 0.5 * vx,
                    0.5 * track.velocity[1] + 0.5 * vy,
                )
                track.box, track.quality, track.missed, track.carried = det.box, quality, 0, 0
            else:
                track = self._new_track(det.box, quality)
            track.appearance = det.appearance
            needs = track.suspect or self._needs_embedding(track)
            out.append(Assignment(i, track.track_id, needs, verify=track.suspect))
        return out

    def settled(self) -> bool:
        """Whether the next frame may go undetected (``carry``): at least two detections since
        the last reset, and every face seen in the last one is confirmed and not suspect. A
        new, unconfirmed or suspect face always gets the detector (and so its embeddings) on
        the very next frame; except a face too small or doubtful to ever confirm at its
        present quality (``_can_confirm``): it is embedded only at the slow cadence anyway, is
        never reported confirmed, and a better view of it is looked for on detected frames.

        Faces the last detection missed (tracks coasting until ``max_missed`` frames) do not
        hold the detector back: they are not reported while missed, and if one comes back
        the next detection finds it, as it finds a newcomer: ``detect_every - 1`` frames
        later at most, or ``still_detect_every - 1`` if it returns without moving anything
        outside the other faces (pipeline.py). (Until session 5 any missed track, and any
        change in the face count, kept every frame detected: a face leaving the picture did
        so for ``max_missed`` detections, and on the Hamilton clip that was a third of all
        frames.)
        """
        if self._detections < 2:
            return False  # fewer than two detections since the last reset
        return all(
            not t.suspect and (t.confirmed is not None or not self._can_confirm(t))
            for t in self._tracks.values()
            if t.missed == 0
        )

    def carried_boxes(self) -> dict[int, Box]:
        """Each seen track's box in the next frame if it is not detected (``carry``): the last
        detected box moved along the track's velocity (the same box when it stands still)."""
        return {t.track_id: t.moved(t.carried + 1) for t in self._tracks.values() if t.missed == 0}

    def carry(self, appearances: Mapping[int, np.ndarray | None]) -> bool:
        """Carry every track one frame forward without a detection, if that is safe.

        ``appearances``: the face descriptor (appearance.py) of each seen track's carried box
        in the new frame. A track whose descriptor no longer resembles its last detected face
        may be somebody else, so nothing moves and False is returned: the caller must detect
        this frame instead. A carried frame never embeds, votes, confirms, names or splits:
        identities change only on detected frames. The frame still counts for the
        re-embedding cadence (an embedding due now waits for the next detected frame), and
        missed tracks coast on (their predicted box moves; they are still not reported).
        """
        if not self.settled():
            return False
        p = self.params
        for track in self._tracks.values():
            if track.missed:
                continue
            now = appearances.get(track.track_id)
            # a face that cannot be compared (box off the picture, flat) is not carried
            if track.appearance is None or now is None or _unlike(track.appearance, now, p):
                return False
        self._frame += 1
        for track in list(self._tracks.values()):
            track.carried += 1
            if self._expired(track):  # a missed face coasting through carried frames
                del self._tracks[track.track_id]
        return True

    def _expired(self, track: _Track) -> bool:
        """Whether a missed track has gone unseen for ``max_missed`` frames, the carried
        ones included: counted in detections only, a face that left a settled (or still)
        scene would coast for up to ``max_missed x still_detect_every`` frames, past the
        door watchers' ``GONE_AFTER_FRAMES``, and come back under its old id and name."""
        return track.missed > 0 and track.missed + track.carried >= self.params.max_missed

    def _new_track(self, box: Box, quality: float) -> _Track:
        track = _Track(self._next_id, box, quality)
        self._tracks[track.track_id] = track
        self._next_id += 1
        return track

    def _can_confirm(self, track: _Track) -> bool:
        """Whether the face's votes are heavy enough to ever reach ``confirm_votes`` within
        the vote window (a tiny or doubtful face's are not, at its current quality)."""
        return track.quality * self.params.vote_window >= self.params.confirm_votes

    def _needs_embedding(self, track: _Track) -> bool:
        """Embed a track never embedded, one due by cadence, or one seen clearly better."""
        if track.last_embedded is None:
            return True
        p = self.params
        # The fast cadence helps only a face that can still confirm: one whose votes are too
        # light to ever reach ``confirm_votes`` within the window (a tiny or doubtful face)
        # gets the normal cadence, or a better view (``quality_gain``) to earn another look.
        fast = track.confirmed is None and self._can_confirm(track)
        every = p.reembed_every_unconfirmed if fast else p.reembed_every
        if self._frame - track.last_embedded >= every:
            return True
        return track.quality > track.embedded_quality * p.quality_gain

    def observe(
        self,
        track_id: int,
        person_id: int | None,
        person_name: str | None,
        score: float,
        embedding: np.ndarray | None = None,
    ) -> int:
        """Record the match for a track's embedding this frame (person None: unknown).

        With the ``embedding``, first check that it is still the track's face: if not, the
        face continues as a new track (no votes, new id) and that id is returned; otherwise
        ``track_id``. The vote weighs the track's current face quality. Unknown track ids
        (expired in the meantime) are ignored.
        """
        track = self._tracks.get(track_id)
        if track is None:
            return track_id
        p = self.params
        if embedding is not None:
            vector = np.asarray(embedding, dtype=np.float32).ravel()
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
            if self._another_face(track, vector, person_id):
                track = self._split(track)
            track.embeddings.append(vector)
            while len(track.embeddings) > p.recent_embeddings:
                track.embeddings.popleft()
        track.suspect = False
        track.last_embedded = self._frame
        track.embedded_quality = track.quality
        track.votes.append(_Vote(person_id, person_name, track.quality, score))
        while len(track.votes) > p.vote_window:
            track.votes.popleft()
        leader, weight = self._tally(track)
        if weight >= p.confirm_votes:  # leader None here means "confirmed unknown"
            track.confirmed = (leader, self._name(track, leader))
        return track.track_id

    def _another_face(self, track: _Track, vector: np.ndarray, person_id: int | None) -> bool:
        """Whether an embedding belongs to another face than the track's recent ones."""
        if not track.embeddings:
            return False
        p = self.params
        similarity = max(float(vector @ known) for known in track.embeddings)
        if similarity < p.split_similarity:
            return True
        if track.confirmed is not None:
            identity = track.confirmed[0]
        elif track.votes:
            identity = self._tally(track)[0]
        else:
            return False
        return person_id != identity and similarity < p.disagree_similarity

    def _split(self, track: _Track) -> _Track:
        """The face continues as a new track: same box and motion, no votes or identity."""
        del self._tracks[track.track_id]
        new = self._new_track(track.box, track.quality)
        new.velocity, new.appearance = track.velocity, track.appearance
        self.splits += 1
        return new

    @staticmethod
    def _tally(track: _Track) -> tuple[int | None, float]:
        """The identity with the most vote weight in the window (ties: the most recent)."""
        weights: dict[int | None, float] = {}
        for vote in track.votes:
            weights[vote.person_id] = weights.get(vote.person_id, 0.0) + vote.weight
        if not weights:
            return None, 0.0
        order = {vote.person_id: n for n, vote in enumerate(track.votes)}
        best = max(weights, key=lambda key: (weights[key], order[key]))
        return best, weights[best]

    @staticmethod
    def _name(track: _Track, person_id: int | None) -> str | None:
        for vote in reversed(track.votes):
            if vote.person_id == person_id:
                return vote.name
        return None

    def states(self, *, include_missed: bool = False) -> list[TrackState]:
        """Every track seen in the current frame (and coasting ones if asked), by id."""
        out: list[TrackState] = []
        for track in sorted(self._tracks.values(), key=lambda t: t.track_id):
            if track.missed and not include_missed:
                continue
            if track.suspect:  # maybe another face: no name until its embedding says
                person_id, name = None, None
            elif track.confirmed is not None:
                person_id, name = track.confirmed
            else:
                person_id, _ = self._tally(track)
                name = self._name(track, person_id)
            box = track.box if track.missed else track.moved(track.carried)
            mine = [] if track.suspect else [v for v in track.votes if v.person_id == person_id]
            out.append(
                TrackState(
                    track_id=track.track_id,
                    box=box,
                    person_id=person_id,
                    person_name=name,
                    score=sum(v.score for v in mine) / len(mine) if mine else 0.0,
                    confirmed=track.confirmed is not None and not track.suspect,
                    votes=sum(v.weight for v in mine),
                    seen=track.missed == 0,
                )
            )
        return out

    def __len__(self) -> int:
        return len(self._tracks)
