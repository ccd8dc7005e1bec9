"""Tracking and identity confirmation on synthetic boxes (no models needed)."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.engine.types import Box
from facegate.stream.tracker import Detected, Tracker, TrackerParams, face_quality

BIG = 100.0  # px: a face this size with score 1 casts a full vote


def face(x: float, y: float, size: float = BIG, score: float = 1.0) -> Detected:
    return Detected(Box(x, y, size, size), score)


def ids(tracker: Tracker, detections: list[Detected]) -> list[int]:
    return [a.track_id for a in tracker.update(detections)]


def vote(tracker: Tracker, detections: list[Detected], person: int | None, score: float = 0.6):
    """One frame where every detection that needs it is embedded and matched to ``person``."""
    for a in tracker.update(detections):
        if a.needs_embedding:
            tracker.observe(a.track_id, person, None if person is None else f"p{person}", score)
    return tracker.states()


def test_a_face_moving_smoothly_keeps_one_track():
    tracker = Tracker()
    seen = {ids(tracker, [face(10 + 8 * t, 50 + 3 * t)])[0] for t in range(60)}
    assert seen == {1}
    assert len(tracker) == 1


def test_a_jump_far_away_starts_a_new_track():
    tracker = Tracker()
    first = ids(tracker, [face(0, 0)])
    assert ids(tracker, [face(500, 400)]) != first


def test_two_faces_crossing_keep_their_ids():
    # Two faces walking towards each other along the same line and passing through each
    # other: at the crossing the *other* face overlaps a track's last box more than its own
    # does, so only the tracks' motion keeps them apart.
    tracker = Tracker()
    id_of_left: set[int] = set()
    id_of_right: set[int] = set()
    for t in range(40):
        left, right = face(10 * t, 100), face(395 - 10 * t, 100)
        assignments = tracker.update([right, left])
        id_of_right.add(assignments[0].track_id)
        id_of_left.add(assignments[1].track_id)
    assert id_of_right == {1} and id_of_left == {2}
    assert len(tracker) == 2


def test_faces_passing_apart_in_order_given_reversed_keep_ids():
    tracker = Tracker()
    a0, b0 = ids(tracker, [face(0, 0), face(300, 0)])
    for t in range(1, 10):  # detections arrive in a different order each frame
        dets = [face(300 + 5 * t, 0), face(5 * t, 0)]
        assert ids(tracker, dets) == [b0, a0]


def test_a_track_expires_after_the_configured_misses():
    tracker = Tracker(TrackerParams(max_missed=3))
    (first,) = ids(tracker, [face(50, 50)])
    for _ in range(2):
        tracker.update([])
    assert len(tracker) == 1
    assert tracker.states() == []  # not seen this frame
    assert [s.seen for s in tracker.states(include_missed=True)] == [False]
    assert ids(tracker, [face(52, 50)]) == [first]  # back within the limit: same track
    for _ in range(3):
        tracker.update([])
    assert len(tracker) == 0
    assert ids(tracker, [face(52, 50)]) != [first]


def test_reembedding_cadence():
    tracker = Tracker(TrackerParams(reembed_every=4, reembed_every_unconfirmed=2))
    pattern = []
    for t in range(12):
        (a,) = tracker.update([face(10 + t, 10)])
        pattern.append(a.needs_embedding)
        if a.needs_embedding:
            tracker.observe(a.track_id, 7, "p7", 0.7)
    # unconfirmed: frames 0, 2, 4 embedded; confirmed by the third full vote (>= 2.5), then
    # every 4th frame.
    unconfirmed = [True, False, True, False, True]
    assert pattern == [*unconfirmed, False, False, False, True, False, False, False]


def test_a_skipped_embedding_is_asked_for_again():
    tracker = Tracker(TrackerParams(reembed_every_unconfirmed=3))
    (a,) = tracker.update([face(0, 0)])
    assert a.needs_embedding  # ... but the pipeline could not embed it this time
    (a,) = tracker.update([face(1, 0)])
    assert a.needs_embedding


def test_better_quality_triggers_reembedding():
    tracker = Tracker(TrackerParams(reembed_every=50, reembed_every_unconfirmed=50))
    (a,) = tracker.update([face(0, 0, size=40)])
    tracker.observe(a.track_id, 1, "p1", 0.5)
    (a,) = tracker.update([face(0, 0, size=42)])
    assert not a.needs_embedding  # a little bigger is not worth an embedding
    (a,) = tracker.update([face(0, 0, size=48)])
    assert not a.needs_embedding
    (a,) = tracker.update([face(0, 0, size=56)])
    assert a.needs_embedding and not a.verify  # coming closer is (steadily: no jump)
    (a,) = tracker.update([face(0, 0, size=56, score=0.5)])
    assert not a.needs_embedding


def test_confirmation_needs_k_agreeing_frames():
    tracker = Tracker(TrackerParams(confirm_votes=3.0))
    for n in range(1, 3):
        (state,) = vote(tracker, [face(0, 0)], 5)
        assert (state.person_id, state.person_name, state.confirmed) == (5, "p5", False)
        assert state.votes == pytest.approx(n)
    (state,) = vote(tracker, [face(0, 0)], 5)
    assert state.confirmed and state.person_id == 5 and state.score == pytest.approx(0.6)


def test_small_faces_weigh_less_and_need_more_frames():
    tracker = Tracker(TrackerParams(confirm_votes=3.0))
    half = BIG * 0.8 / 2  # sqrt(area) 40 px of the default 80: weight 0.5
    for _ in range(5):
        (state,) = vote(tracker, [face(0, 0, size=half)], 5)
        assert not state.confirmed
    (state,) = vote(tracker, [face(0, 0, size=half)], 5)
    assert state.confirmed
    assert face_quality(Box(0, 0, half, half), 1.0, 80.0) == pytest.approx(0.5)


def test_one_contrary_frame_does_not_flip_a_confirmed_identity():
    tracker = Tracker(TrackerParams(reembed_every=1))
    for _ in range(4):
        vote(tracker, [face(0, 0)], 5)
    (state,) = vote(tracker, [face(0, 0)], 9)
    assert (state.person_id, state.confirmed) == (5, True)
    (state,) = vote(tracker, [face(0, 0)], None)
    assert (state.person_id, state.confirmed) == (5, True)


def test_a_sustained_change_does_flip_it():
    # A tracker can swap people behind a box (one walks in front of the other): enough
    # agreeing recent votes must win.
    tracker = Tracker(TrackerParams(vote_window=6, reembed_every=1))
    for _ in range(3):
        vote(tracker, [face(0, 0)], 5)
    states = [vote(tracker, [face(0, 0)], 9)[0] for _ in range(5)]
    assert [s.person_id for s in states[:2]] == [5, 5]
    assert (states[-1].person_id, states[-1].confirmed) == (9, True)


def test_one_early_contrary_vote_only_delays_confirmation():
    tracker = Tracker(TrackerParams(confirm_votes=3.0))
    vote(tracker, [face(0, 0)], 9)
    states = [vote(tracker, [face(0, 0)], 5)[0] for _ in range(3)]
    assert [s.confirmed for s in states] == [False, False, True]
    assert states[-1].person_id == 5


def test_unknown_faces_are_unknown_then_confirmed_unknown():
    tracker = Tracker(TrackerParams(confirm_votes=3.0, reembed_every=1))
    for _ in range(2):
        (state,) = vote(tracker, [face(0, 0)], None, score=0.2)
        assert (state.person_id, state.person_name, state.confirmed) == (None, None, False)
    (state,) = vote(tracker, [face(0, 0)], None, score=0.2)
    assert (state.person_id, state.confirmed) == (None, True)
    assert state.votes == pytest.approx(3.0)
    (state,) = vote(tracker, [face(0, 0)], 4)  # one lucky match does not name a stranger
    assert (state.person_id, state.confirmed) == (None, True)


def test_an_unvoted_track_reports_unknown_unconfirmed():
    tracker = Tracker()
    tracker.update([face(0, 0)])
    (state,) = tracker.states()
    assert (state.person_id, state.confirmed, state.votes, state.score) == (None, False, 0.0, 0.0)


def test_observing_an_expired_track_is_ignored():
    tracker = Tracker(TrackerParams(max_missed=1))
    (a,) = tracker.update([face(0, 0)])
    tracker.update([])
    tracker.observe(a.track_id, 1, "p1", 0.9)
    assert len(tracker) == 0


def test_params_refuse_a_single_frame_confirmation():
    with pytest.raises(ValueError):
        TrackerParams(confirm_votes=1.0)
    with pytest.raises(ValueError):
        TrackerParams(confirm_votes=5.0, vote_window=4)


def test_a_face_too_poor_to_ever_confirm_is_not_embedded_every_frame():
    # quality 20/80 = 0.25 per vote; 8 votes weigh 2.0 < 2.5: it can never confirm, so the
    # unconfirmed every-frame cadence would only burn embeddings on it.
    tracker = Tracker(TrackerParams(reembed_every=5, reembed_every_unconfirmed=1))
    pattern = []
    for t in range(10):
        (a,) = tracker.update([face(10 + t, 10, size=20)])
        pattern.append(a.needs_embedding)
        if a.needs_embedding:
            tracker.observe(a.track_id, None, None, 0.1)
    assert pattern == [True, False, False, False, False, True, False, False, False, False]
    (state,) = tracker.states()
    assert not state.confirmed


# -- one face per track: suspect tracks, splits, resets ---------------------------------------


def unit(*values: float) -> np.ndarray:
    """An embedding: ``values`` padded to 8 dimensions (normalised by the tracker)."""
    vector = np.zeros(8, np.float32)
    vector[: len(values)] = values
    return vector


SAME, CLOSE, OTHER = unit(1.0), unit(1.0, 0.3), unit(0.0, 1.0)  # cos(SAME, CLOSE) = 0.96


def confirm(tracker: Tracker, x: float = 0.0, person: int | None = 1) -> int:
    """Confirm a face at ``x`` as ``person`` with embedding ``SAME``; returns its track id."""
    for _ in range(3):
        (a,) = tracker.update([face(x, 0)])
        tracker.observe(a.track_id, person, None if person is None else f"p{person}", 0.6, SAME)
    (state,) = tracker.states()
    assert state.confirmed and state.person_id == person
    return state.track_id


def test_a_box_jump_makes_a_confirmed_track_suspect_until_verified():
    tracker = Tracker()
    track = confirm(tracker)
    (a,) = tracker.update([face(0, 0, size=140)])  # 1.4x the size in one frame
    assert a.track_id == track and a.needs_embedding and a.verify
    (state,) = tracker.states()
    assert not state.confirmed and state.person_name is None  # no name while in doubt
    assert tracker.observe(a.track_id, 1, "p1", 0.6, CLOSE) == track  # still the same face
    (state,) = tracker.states()
    assert state.confirmed and state.person_name == "p1" and state.track_id == track


def test_a_different_embedding_splits_the_track_with_a_new_id_and_no_votes():
    tracker = Tracker()
    track = confirm(tracker)
    (a,) = tracker.update([face(1, 0)])
    assert tracker.observe(a.track_id, 2, "p2", 0.6, OTHER) != track
    (state,) = tracker.states()
    assert state.track_id > track and not state.confirmed and state.person_id == 2
    assert state.votes == pytest.approx(1.0)  # only the new face's own vote
    assert tracker.splits == 1


@pytest.mark.parametrize(
    ("similarity", "person", "splits"),
    [
        (0.3, 2, True),  # another person named, and not close to the track's face
        (0.3, None, True),  # unknown, not close: a stranger took the place
        (0.3, 1, False),  # the same person named: a poor view, not another face
        (0.5, 2, False),  # close to the track's face: one odd match is left to the votes
    ],
)
def test_a_disagreeing_match_splits_only_when_the_face_is_not_close(similarity, person, splits):
    tracker = Tracker()
    track = confirm(tracker)
    (a,) = tracker.update([face(1, 0)])
    probe = unit(similarity, float(np.sqrt(1 - similarity**2)))
    new = tracker.observe(a.track_id, person, None if person is None else f"p{person}", 0.6, probe)
    assert (new != track) is splits


def test_a_confirmed_stranger_does_not_keep_the_next_person_unrecognised():
    tracker = Tracker()
    confirm(tracker, person=None)
    named = []
    for _ in range(3):
        (a,) = tracker.update([face(1, 0)])
        tracker.observe(a.track_id, 7, "p7", 0.6, OTHER)
        (state,) = tracker.states()
        named.append(state.confirmed and state.person_id == 7)
    assert named == [False, False, True]  # confirmed as fast as a fresh face


def test_an_appearance_change_makes_the_track_suspect():
    tracker = Tracker()
    look, other_look = unit(1.0), unit(0.0, 1.0)
    for _ in range(3):
        (a,) = tracker.update([Detected(Box(0, 0, BIG, BIG), 1.0, look)])
        tracker.observe(a.track_id, 1, "p1", 0.6, SAME)
    (a,) = tracker.update([Detected(Box(0, 0, BIG, BIG), 1.0, look)])
    assert not a.verify and not a.needs_embedding  # confirmed, same look: cadence only
    (a,) = tracker.update([Detected(Box(0, 0, BIG, BIG), 1.0, other_look)])
    assert a.verify and a.needs_embedding


def test_reset_ends_every_track_and_never_reuses_an_id():
    tracker = Tracker()
    first = confirm(tracker)
    tracker.reset()
    assert len(tracker) == 0 and tracker.states() == []
    (a,) = tracker.update([face(0, 0)])
    assert a.track_id > first and a.needs_embedding
    (state,) = tracker.states()
    assert not state.confirmed


# -- frames carried forward without detection (stream.detect_every) ---------------------------

LOOK = np.ones(256, dtype=np.float32) / 16.0  # a face descriptor (unit length)
UNLIKE = np.concatenate([LOOK[:128], -LOOK[128:]])  # one uncorrelated with LOOK


def looked(x: float, y: float, look: np.ndarray = LOOK) -> Detected:
    return Detected(Box(x, y, BIG, BIG), 1.0, look)


def settled_tracker() -> Tracker:
    """One face walking right 4 px a frame, confirmed as person 7 and seen twice since."""
    tracker = Tracker()
    for t in range(6):
        vote(tracker, [looked(100 + 4 * t, 50)], 7)
    assert tracker.settled()
    return tracker


def test_a_settled_track_is_carried_along_its_motion_and_keeps_everything_else():
    tracker = settled_tracker()
    before = tracker.states()[0]
    assert tracker.carried_boxes()[1].x == pytest.approx(before.box.x + 4, abs=0.5)
    assert tracker.carry({1: LOOK})
    after = tracker.states()[0]
    assert after.box.x == pytest.approx(before.box.x + 4, abs=0.5)  # moved on its velocity
    assert (after.track_id, after.person_id, after.confirmed, after.votes) == (
        before.track_id,
        before.person_id,
        before.confirmed,
        before.votes,
    )
    # the next detection continues the same track (prediction counts the carried frame)
    assert ids(tracker, [looked(100 + 4 * 7, 50)]) == [1]


def test_a_carried_box_that_no_longer_looks_like_its_face_is_not_carried():
    tracker = settled_tracker()
    frame = tracker._frame
    assert not tracker.carry({1: UNLIKE})
    assert not tracker.carry({})  # nothing to compare: not carried either
    assert tracker._frame == frame  # nothing moved: the caller detects this frame


def test_unconfirmed_suspect_or_new_faces_are_never_carried():
    tracker = Tracker()
    vote(tracker, [looked(100, 50)], 7)
    vote(tracker, [looked(104, 50)], 7)
    assert not tracker.settled()  # one vote weight short of a confirmation
    tracker = settled_tracker()
    tracker.update([looked(124, 50), looked(400, 300)])  # a second face came in
    assert not tracker.settled()
    tracker = settled_tracker()
    tracker.update([looked(124, 50, UNLIKE)])  # looks like somebody else: suspect
    assert not tracker.settled()
    tracker = settled_tracker()
    tracker.reset()
    tracker.update([])
    assert not tracker.settled()  # one detection since the reset proves nothing yet


def test_a_missed_face_coasts_unreported_through_carried_frames_and_is_found_again():
    """A face the last detection missed does not keep the detector on (a face leaving the
    picture used to, for ``max_missed`` detections): its track coasts, unreported, and the
    next detection links it again with its name."""
    tracker = settled_tracker()  # at x = 120, moving 4 px a frame
    tracker.update([])  # frame 7: missed
    assert tracker.settled()
    assert tracker.carried_boxes() == {}  # nothing seen to compare
    assert tracker.carry({})  # frame 8
    assert tracker.states() == []  # a missed face is not reported
    (coasting,) = tracker.states(include_missed=True)
    assert not coasting.seen
    # frame 9: found again where its motion predicts: same track, same confirmed name
    assert ids(tracker, [looked(100 + 4 * 8, 50)]) == [1]
    (state,) = tracker.states()
    assert (state.person_id, state.confirmed) == (7, True)


def test_a_missed_face_expires_after_max_missed_frames_carried_ones_included():
    """Counted in detections only, a face that left a settled scene would coast for up to
    ``max_missed x detect_every`` frames (door watchers forget a track after 12) and come
    back under its old id and name: it must expire after ``max_missed`` frames."""
    tracker = settled_tracker()  # frame 6, last seen at x = 120
    p = tracker.params
    tracker.update([])  # frame 7: missed (1 frame unseen)
    frames = 1
    while frames < p.max_missed:  # carried frames and detections without it, alternating
        assert len(tracker) == 1
        if frames % 2:
            assert tracker.carry({})
        else:
            tracker.update([])
        frames += 1
    assert len(tracker) == 0  # gone after max_missed frames, 5 of them carried
    (a,) = tracker.update([looked(100 + 4 * (tracker._frame - 1), 50)])
    assert a.track_id != 1 and a.needs_embedding  # back as a new track, no name


def test_a_seen_face_beside_a_missed_one_must_still_look_like_itself():
    tracker = Tracker()
    for t in range(6):
        vote(tracker, [looked(100 + 4 * t, 50), looked(400, 300)], 7)
    tracker.update([looked(124, 50)])  # the second face was missed
    assert set(tracker.carried_boxes()) == {1}
    assert not tracker.carry({1: UNLIKE})
    assert tracker.carry({1: LOOK})


def test_a_face_too_small_to_ever_confirm_does_not_keep_the_detector_on():
    """A tiny face's votes can never add up to a confirmation (tracker.py), so waiting for
    one would keep every frame of a crowded scene detected for nothing; a face that can
    confirm keeps it on until it has."""
    tracker = Tracker()
    tiny = 10.0  # px: a vote weight of 1/8, 8 of them make 1 < confirm_votes
    for t in range(6):
        for a in tracker.update(
            [looked(100 + 4 * t, 50), Detected(Box(400, 300, tiny, tiny), 1.0, LOOK)]
        ):
            if a.needs_embedding:
                tracker.observe(a.track_id, 7 if a.track_id == 1 else None, "p7", 0.6)
    states = {s.track_id: s for s in tracker.states()}
    assert states[1].confirmed and not states[2].confirmed
    assert tracker.settled()
    assert tracker.carry({1: LOOK, 2: LOOK})
    # the small face comes closer: now it can confirm, and the detector stays on until it has
    tracker.update([looked(100 + 4 * 7, 50), Detected(Box(400, 300, BIG, BIG), 1.0, LOOK)])
    assert not tracker.settled()


def test_an_empty_scene_may_be_carried_once_two_detections_agree():
    tracker = Tracker()
    tracker.update([])
    assert not tracker.settled()
    tracker.update([])
    assert tracker.settled() and tracker.carry({})


def test_carried_frames_never_confirm_or_change_a_name():
    """Votes come only from embeddings on detected frames: carrying a face that is still
    voting would change nothing, and a carried frame does not even allow it (unconfirmed)."""
    tracker = Tracker()
    vote(tracker, [looked(100, 50)], 7)
    assert not tracker.carry({1: LOOK})  # unconfirmed: must be detected
    tracker = settled_tracker()
    votes = tracker.states()[0].votes
    for _ in range(10):  # carried again and again (the pipeline never does; the tracker allows)
        assert tracker.carry({1: LOOK})
    assert tracker.states()[0].votes == votes and tracker.states()[0].person_id == 7


def test_reembedding_cadence_counts_carried_frames():
    tracker = settled_tracker()
    p = tracker.params
    last = max(t.last_embedded or 0 for t in tracker._tracks.values())
    while tracker._frame - last < p.reembed_every:
        assert tracker.carry({1: LOOK})
    (assignment,) = tracker.update([looked(100 + 4 * (tracker._frame - 1), 50)])
    assert assignment.needs_embedding  # due: the carried frames counted
