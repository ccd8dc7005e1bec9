"""The open-set operating point: impostor tails, thresholds by gallery size, re-derivation.

The arithmetic is checked on hand-worked numbers; then a real ``Gallery`` on both backends
re-derives its threshold as people are enrolled and deleted, with the shipped calibration of
the default recogniser (SFace).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from facegate.config import Settings
from facegate.eval.open_set import exact_fpir, populations
from facegate.gallery import Gallery, NewTemplate
from facegate.gallery.operating_point import (
    FALLBACK_THRESHOLD,
    SHIPPED_TABLE,
    Calibration,
    ImpostorTail,
    OperatingPoint,
    read_table,
    share_per_person,
    write_table,
)
from tests.gallery.conftest import unit_vectors

SFACE_ID = "sface-2021dec"
SFACE_SHA = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
Z = NormalDist().inv_cdf


def _tail(name: str, knots: list[tuple[float, float]], slope: float = 0.1) -> ImpostorTail:
    return ImpostorTail(name, tuple(knots), slope)


def _calibration(*tails: ImpostorTail) -> Calibration:
    return Calibration("m", "ff" * 32, "blend", 0.3, 2, tails)


def test_share_per_person_is_the_independent_chances_formula() -> None:
    assert share_per_person(0.01, 1) == pytest.approx(0.01)
    # 1 - (1 - q)^100 = 0.01  =>  q = 1 - 0.99^(1/100)
    assert share_per_person(0.01, 100) == pytest.approx(1 - 0.99 ** (1 / 100))
    assert share_per_person(0.01, 0) == share_per_person(0.01, 1)  # an empty gallery is N = 1
    with pytest.raises(ValueError):
        share_per_person(1.5, 10)


def test_tail_interpolates_knots_and_continues_as_a_gaussian() -> None:
    tail = _tail("a", [(0.5, 0.1), (0.6, 0.01)], slope=0.1)
    assert tail.threshold_at_share(0.1) == pytest.approx(0.5)
    assert tail.threshold_at_share(0.01) == pytest.approx(0.6)
    # half-way in log share between the knots: sqrt(0.1 * 0.01)
    assert tail.threshold_at_share(math.sqrt(0.001)) == pytest.approx(0.55)
    # beyond the last knot: 0.6 + 0.1 * (z(0.001) - z(0.01)) = 0.6 + 0.1 * (3.0902 - 2.3263)
    assert tail.threshold_at_share(0.001) == pytest.approx(0.67639, abs=1e-4)
    # share_at inverts it, on both sides of the last knot
    for t in (0.55, 0.6, 0.7):
        assert tail.threshold_at_share(tail.share_at(t)) == pytest.approx(t, abs=1e-9)
    with pytest.raises(ValueError):
        _tail("bad", [(0.5, 0.01), (0.6, 0.1)])


def test_measured_tail_has_the_empirical_shares() -> None:
    # 1,000 scores 0.000 .. 0.999: the share of scores >= 0.95 is 50 / 1000
    scores = np.arange(1000) / 1000
    tail = ImpostorTail.measure("u", scores)
    assert tail.scores == 1000
    assert tail.share_at(0.950) == pytest.approx(0.05, rel=0.05)
    assert tail.knots[-1][1] == pytest.approx(20 / 1000)  # trusted down to 20 exceedances
    # a uniform tail is lighter than a Gaussian's: the fitted slope stays positive and small
    assert 0 < tail.slope < 0.1
    with pytest.raises(ValueError):
        ImpostorTail.measure("few", np.arange(50) / 50)


def test_threshold_grows_with_gallery_size_and_strictest_population_wins() -> None:
    lenient = _tail("lenient", [(0.3, 0.1), (0.4, 0.001)], slope=0.05)
    strict = _tail("strict", [(0.35, 0.1), (0.45, 0.001)], slope=0.05)
    cal = _calibration(lenient, strict)
    sizes = [1, 10, 100, 1000, 100_000]
    thresholds = [cal.identify_threshold(0.01, n) for n in sizes]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == len(sizes)
    for n in sizes:
        assert cal.identify_threshold(0.01, n) == pytest.approx(
            strict.threshold_at_share(share_per_person(0.01, n))
        )
        # at that threshold the strict population's modelled FPIR is the target, the other's less
        rates = cal.fpir_at(cal.identify_threshold(0.01, n), n)
        assert rates["strict"] == pytest.approx(0.01, rel=1e-6)
        assert rates["lenient"] < 0.01
    # N = 1: the 1:1 rule; verify at FAR 1 % equals identify with one person
    assert cal.verify_threshold(0.01) == pytest.approx(cal.identify_threshold(0.01, 1))


def test_exact_fpir_of_random_galleries_by_hand() -> None:
    nan = float("nan")
    # probe A beats the threshold with one of its 3 people, probe B with none; the probe's
    # own identity (nan) is never drawn
    scores = np.array([[0.9, 0.1, 0.2, nan], [0.1, 0.1, 0.1, nan]])
    # N = 1: A is named when its one high person is drawn (1/3), B never -> (1/3 + 0) / 2
    assert exact_fpir(scores, 0.5, 1) == pytest.approx(1 / 6)
    # N = 2: A avoids it only by drawing the two others, C(2,2)/C(3,2) = 1/3 -> (2/3) / 2
    assert exact_fpir(scores, 0.5, 2) == pytest.approx(1 / 3)
    assert exact_fpir(scores, 0.5, 3) == pytest.approx(1 / 2)
    assert exact_fpir(scores, 0.5, 4) is None  # more people than were measured


def test_populations_split_by_group_pattern(tmp_path: Path) -> None:
    for name in ("Alice", "Bob", "CASIA5_000", "CASIA5_001"):
        (tmp_path / "people" / name).mkdir(parents=True)
    pops = {p.name: [f.name for f in p.folders] for p in populations([tmp_path / "people"], [])}
    assert pops == {"people": ["Alice", "Bob", "CASIA5_000", "CASIA5_001"]}
    pops = {
        p.name: [f.name for f in p.folders]
        for p in populations([tmp_path / "people"], ["ea=CASIA5_*", "rest=*"])
    }
    assert pops == {"rest": ["Alice", "Bob"], "ea": ["CASIA5_000", "CASIA5_001"]}


def test_table_round_trips_and_keeps_other_models(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    a = _calibration(_tail("x", [(0.3, 0.1), (0.4, 0.001)]))
    b = Calibration("other", "ee" * 32, "max", 0.3, 1, a.tails)
    write_table(path, a)
    write_table(path, b)
    table = read_table(path)
    assert set(table) == {a.model_sha256, b.model_sha256}
    assert table[a.model_sha256].identify_threshold(0.01, 50) == pytest.approx(
        a.identify_threshold(0.01, 50), abs=1e-6
    )
    path.write_text(json.dumps({"format": 99, "models": {}}))
    with pytest.raises(ValueError):
        read_table(path)


def test_shipped_table_covers_the_default_recogniser_and_both_dev_populations() -> None:
    table = read_table(SHIPPED_TABLE)
    cal = table[SFACE_SHA]
    assert cal.model_id == SFACE_ID and cal.aggregation == "blend"
    assert {t.population for t in cal.tails} == {"lfw-and-others", "east-asian"}
    point = OperatingPoint(Settings(), SFACE_ID, SFACE_SHA)
    assert point.source == "calibrated"
    # the old constant (calibrated 1:1) is too low for an open set of a few hundred people
    assert point.identify_threshold(344) > 0.4136
    assert point.identify_threshold(1) < point.identify_threshold(344)
    assert point.identify_threshold(344) < point.identify_threshold(10_000)
    stricter = OperatingPoint(Settings(match_target_fpir=0.001), SFACE_ID, SFACE_SHA)
    assert stricter.identify_threshold(344) > point.identify_threshold(344)


def test_override_and_fallback(caplog: pytest.LogCaptureFixture) -> None:
    override = OperatingPoint(Settings(match_threshold=0.45), SFACE_ID, SFACE_SHA)
    assert override.source == "override"
    assert override.identify_threshold(10_000) == 0.45 and override.verify_threshold() == 0.45
    with caplog.at_level(logging.WARNING, logger="facegate.gallery.operating_point"):
        unknown = OperatingPoint(Settings(), "my-arcface", "cd" * 32)
    assert unknown.source == "fallback"
    assert unknown.identify_threshold(5) == FALLBACK_THRESHOLD
    assert "no threshold calibration" in caplog.text and "my-arcface" in caplog.text
    assert unknown.status(5)["source"] == "fallback"


def _sface_template(vector: np.ndarray, source: str) -> NewTemplate:
    return NewTemplate(vector, SFACE_ID, SFACE_SHA, source_sha256=source)


def test_gallery_rederives_the_threshold_as_people_come_and_go(settings: Settings) -> None:
    vectors = unit_vectors(60, seed=5)
    with Gallery(settings, background=False) as gallery:
        gallery.expect_model(SFACE_ID, SFACE_SHA)
        empty = gallery.status()
        assert empty["people"] == 0 and empty["source"] == "calibrated"
        point = OperatingPoint(settings, SFACE_ID, SFACE_SHA)
        ids = []
        for i, v in enumerate(vectors):
            person = gallery.create_person(f"p{i}")
            gallery.add_templates(person.id, [_sface_template(v, f"s{i}")])
            ids.append(person.id)
        full = gallery.status()
        assert full["people"] == 60
        empty_threshold = empty["threshold"]
        assert isinstance(empty_threshold, float)
        assert full["threshold"] == point.identify_threshold(60) > empty_threshold
        assert full["target_fpir"] == 0.01 and full["model"] == SFACE_ID
        # the decision uses (and reports) the threshold for the current size
        match = gallery.identify(vectors[3])
        assert match.person is not None and match.threshold == full["threshold"]
        for pid in ids[10:]:
            gallery.delete_person(pid)
        assert gallery.status()["people"] == 10
        assert gallery.identify(vectors[3]).threshold == point.identify_threshold(10)
        assert point.identify_threshold(10) < full["threshold"]
