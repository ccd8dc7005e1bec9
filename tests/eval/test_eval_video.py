"""``facegate eval video``: false names per track, through the real stream pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.eval.video import TrackTally, synthetic_frames
from tests.eval.test_eval_commands import run_json

PEOPLE = ["Barack_Obama", "Joseph_Biden", "Kit_Harington", "Rose_Leslie", "Lin_Manuel_Miranda"]


def test_tally_counts_only_confirmed_names() -> None:
    tally = TrackTally()
    tally.add(1, "Ada", confirmed=False)
    tally.add(1, None, confirmed=True)
    tally.add(2, "Bob", confirmed=True)
    assert tally.names == {1: set(), 2: {"Bob"}}


def test_synthetic_clip_moves_and_grows_the_photo() -> None:
    photo = np.full((100, 80, 3), 200, np.uint8)
    frames = list(synthetic_frames(photo, 5))
    assert len(frames) == 5 and frames[0].shape == (480, 640, 3)
    bright = [np.argwhere(f.mean(axis=2) > 160) for f in frames]
    # the photo's area grows and its left edge moves right over the clip
    assert len(bright[-1]) > len(bright[0])
    assert bright[-1][:, 1].min() > bright[0][:, 1].min()


@pytest.mark.slow
def test_eval_video_reports_tracks_of_a_dev_video_and_synthetic_clips(faces_dir, tmp_path):
    people = tmp_path / "people"
    people.mkdir()
    for name in PEOPLE:
        (people / name).symlink_to(faces_dir / "people" / name, target_is_directory=True)
    videos = tmp_path / "videos.tsv"
    videos.write_text(
        f"path\tidentities\tnotes\n{faces_dir / 'videos' / 'obama.mp4'}\tBarack_Obama\tpodium\n"
    )
    report = run_json(
        "eval", "video", "--people", str(people), "--videos", str(videos),
        "--clips", "2", "--frames", "8",
    )  # fmt: skip
    dev = report["dev_videos"]
    assert dev["gallery_people"] == len(PEOPLE)
    obama = dev["videos"]["obama.mp4"]
    assert obama["names_confirmed"] == ["Barack_Obama"] and obama["false_named_tracks"] == 0
    syn = report["synthetic"]
    # sorted identities 0..4: every second (Joseph_Biden, Lin_Manuel_Miranda) is a stranger
    assert syn["gallery_people"] == 3 and syn["stranger_clips"] == 2
    assert syn["stranger_tracks"] >= 2 and syn["stranger_tracks_named"] == 0
    assert syn["known_clips"] == 2 and syn["known_clips_named_right"] == 2
    assert Path(report["people_dir"]) == people
