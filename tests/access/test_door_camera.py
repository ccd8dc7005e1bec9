"""A server camera at a door decides with nobody watching: the dev video of Barack Obama
(enrolled, allowed) plays as the ``podium`` camera of a real app (live hook, stream server,
access hook); the camera is not always-on and no MJPEG viewer connects, yet once it is a door
camera the access hook keeps it running and a ``granted`` event is recorded; when the camera
leaves the door it is let go again."""

from __future__ import annotations

import time

from facegate.access.store import AccessStore, DoorCamera
from tests.live.conftest import CAMERA, LiveServer, live_server  # noqa: F401 (fixture)

DOOR = "unwatched-door"


def test_a_door_camera_runs_and_decides_without_viewers(live_server: LiveServer):  # noqa: F811
    app = live_server.app
    cameras = live_server.hook.cameras
    assert cameras is not None, "the live hook has not started its cameras"
    camera = cameras.camera(CAMERA)
    assert camera is not None and camera.state == "idle" and camera.consumers == 0
    access = AccessStore(app.state.services.gallery.store.db)
    access.add_door(DOOR, [DoorCamera(CAMERA, "in")])
    access.add_group("unwatched")
    access.add_member("unwatched", live_server.person_id)
    access.add_rule(DOOR, "unwatched")
    service = app.state.access_hook.access
    deadline = time.monotonic() + 90
    page = service.events.events(door=DOOR)
    while page.total == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        page = service.events.events(door=DOOR)
    assert camera.consumers == 1  # the access hook's demand, no viewer
    event = page.items[-1]
    assert (event.decision, event.reason, event.person_id) == (
        "granted",
        "rule",
        live_server.person_id,
    )
    assert event.camera == CAMERA and event.has_snapshot

    access.update_door(DOOR, cameras=[])
    deadline = time.monotonic() + 30
    while camera.consumers and time.monotonic() < deadline:
        time.sleep(0.2)
    assert camera.consumers == 0
    access.remove_door(DOOR)
