"""Small pure parts of the API: language choice, key hashing, drawing CJK names."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facegate.api.keys import KEY_PREFIX, KeyStore, hash_key
from facegate.api.web.i18n import choose, parse_accept_language
from facegate.config import Settings
from facegate.engine.draw import Label, draw_labels, find_font
from facegate.engine.types import Box
from facegate.gallery import open_store
from tests.pg import create_database, drop_database


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-TW;q=0.5, en;q=0.4", "zh"),
        ("en;q=0.2, zh;q=0.9", "zh"),
        ("", "en"),
        ("de-DE", "en"),
        ("zh;q=garbage, en", "en"),
    ],
)
def test_accept_language(header, lang):
    assert parse_accept_language(header) == lang


def test_cookie_beats_header_and_unknown_cookie_is_ignored():
    assert choose("en", "zh-CN") == "en"
    assert choose("xx", "zh-CN") == "zh"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    url = None
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, "api_units_keys")
    store = open_store(Settings(data_dir=tmp_path, database_url=url))
    try:
        yield KeyStore(store.db)
    finally:
        store.close()
        if url is not None:
            drop_database(request.getfixturevalue("pg_admin_url"), "api_units_keys")


def test_keys_are_hashed_not_stored(key_store: KeyStore):
    """What lands in the table is the SHA-256 of the secret and a short shown prefix, never
    the secret; the stored digest alone authenticates the secret."""
    key, secret = key_store.create("recognize", "units")
    with key_store.db.read() as tx:
        rows = tx.execute("SELECT * FROM api_keys WHERE id = ?", (key.id,))
    assert len(rows) == 1
    cells = [str(c) for c in rows[0]]
    random_part = secret[len(KEY_PREFIX) :]
    assert not any(random_part in c or random_part[:16] in c for c in cells), cells
    assert hashlib.sha256(secret.encode()).hexdigest() in cells
    assert hash_key(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert key_store.authenticate(secret) == key
    assert key_store.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


def test_draw_renders_chinese_names_with_distinct_glyphs():
    """With a CJK font, two different Chinese names draw different pixels (a font without
    the glyphs draws the same empty boxes for both)."""
    if find_font() is None:
        pytest.skip("no CJK font installed (make fonts installs fonts-noto-cjk)")
    image = np.full((200, 300, 3), 127, np.uint8)
    box = Box(100, 80, 80, 90)
    a = draw_labels(image, [Label(box, "张伟", True)])
    b = draw_labels(image, [Label(box, "李娜", True)])
    assert not np.array_equal(a, b)
    # green box for a known person, red for a stranger; the input is left untouched
    assert tuple(a[120, 100]) == (67, 160, 46)  # BGR
    unknown = draw_labels(image, [Label(box, "?", False)])
    assert tuple(unknown[120, 100]) == (40, 40, 214)
    assert (image == 127).all()
