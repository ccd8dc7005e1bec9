"""``facegate serve --workers 3`` as a real process: whichever worker answers, an identify
after an enrolment sees the person (the workers share the gallery through SQLite)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import create_key, free_port, fresh, serving

# (name, two enrolment photos, probe) from the dev set
PEOPLE = [
    ("Barack_Obama", ["fr_obama.jpg", "fr_obama1.jpg"], "fr_obama2.jpg"),
    ("Kit_Harington", ["fr_john1.jpeg", "fr_john2.jpeg"], "fr_johnsnow_test1.jpg"),
    ("Andre_Agassi", ["Andre_Agassi_0001.jpg", "Andre_Agassi_0002.jpg"], "Andre_Agassi_0003.jpg"),
    (
        "Anna_Kournikova",
        ["Anna_Kournikova_0001.jpg", "Anna_Kournikova_0002.jpg"],
        "Anna_Kournikova_0003.jpg",
    ),
    ("Adrien_Brody", ["Adrien_Brody_0001.jpg", "Adrien_Brody_0002.jpg"], "Adrien_Brody_0003.jpg"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("workers")
    key = create_key(data, "admin")
    # 3 workers on a small machine: one inference thread each
    env = {"FACEGATE_INFERENCE_THREADS": "1"}
    with serving(data, free_port(), "--workers", "3", env=env) as base:
        yield base, key


def test_every_identify_after_an_enrol_sees_the_person(server, faces_dir: Path):
    base, key = server
    headers = {"X-API-Key": key}
    pids = set()
    with fresh(base) as c:
        for _ in range(30):
            pids.add(c.get("/healthz").json()["pid"])
        for name, enrol, probe in PEOPLE:
            folder = faces_dir / "people" / name
            person = c.post("/api/v1/people", json={"name": name}, headers=headers).json()
            files = [("images", (f, (folder / f).read_bytes(), "image/jpeg")) for f in enrol]
            enrolled = c.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=headers)
            assert enrolled.json()["accepted"] >= 1, enrolled.text
            for _ in range(3):
                r = c.post(
                    "/api/v1/identify",
                    files={"image": (probe, (folder / probe).read_bytes(), "image/jpeg")},
                    headers=headers,
                )
                assert r.status_code == 200, r.text
                got = [f["person"]["id"] if f["person"] else None for f in r.json()["faces"]]
                assert person["id"] in got, (name, r.json())
            pids.add(c.get("/healthz").json()["pid"])
        metrics = c.get("/metrics").text
    assert len(pids) >= 2, "requests never reached more than one worker"
    # multiprocess metrics: the count is the sum over workers, whichever one answers
    pattern = r'requests_total\{method="POST",route="/api/v1/identify",status="200"\} (\S+)'
    identify = re.search(pattern, metrics)
    assert identify is not None and float(identify.group(1)) == 3 * len(PEOPLE)
