"""Rendezvous placement: one owner per camera, few moves when a node joins or leaves, pins."""

from __future__ import annotations

import pytest

from facegate.cluster.placement import place, placement

pytestmark = pytest.mark.cluster

CAMERAS = [(f"cam-{i}", None) for i in range(300)]
NODES = ["host-a", "host-b", "host-c"]


def test_every_camera_has_one_node_and_the_load_is_spread():
    placed = placement(CAMERAS, NODES)
    assert set(placed.values()) == set(NODES)
    counts = {n: list(placed.values()).count(n) for n in NODES}
    assert all(60 <= c <= 140 for c in counts.values()), counts  # ~100 each


def test_the_answer_does_not_depend_on_the_order_of_the_nodes():
    assert placement(CAMERAS, NODES) == placement(CAMERAS, list(reversed(NODES)))


def test_a_joining_node_takes_only_cameras_and_only_from_others():
    before = placement(CAMERAS, NODES)
    after = placement(CAMERAS, [*NODES, "host-d"])
    moved = [c for c in before if before[c] != after[c]]
    assert moved and all(after[c] == "host-d" for c in moved)
    assert len(moved) < len(CAMERAS) / 2  # about a quarter, never a reshuffle


def test_a_leaving_node_moves_only_its_own_cameras():
    before = placement(CAMERAS, NODES)
    after = placement(CAMERAS, ["host-a", "host-c"])
    for camera, node in before.items():
        if node != "host-b":
            assert after[camera] == node
        else:
            assert after[camera] in ("host-a", "host-c")


def test_a_pin_wins_and_a_pinned_camera_waits_for_its_node():
    assert place("usb", NODES, "host-c") == "host-c"
    assert place("usb", ["host-a", "host-b"], "host-c") is None
    assert place("anything", []) is None
