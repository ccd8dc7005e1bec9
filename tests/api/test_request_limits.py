"""Units of the request-side limits: strict JSON (api/jsonbody.py) and the key cache
(api/keycache.py) on a real SQLite gallery database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.api.errors import BadRequest
from facegate.api.jsonbody import MAX_DEPTH, parse_json, parse_json_async
from facegate.api.keycache import CachedKeyStore
from facegate.config import Settings
from facegate.gallery import open_store
from facegate.gallery.store import SqlStore


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b'["ok", "x\\udc00y"]', "surrogate"),
        (b'{"a": NaN}', "not JSON"),
        (b'{"a": -Infinity}', "not JSON"),
        (b'{"a": 1e400}', "out of range"),
        (b'{"a": ' + b"1" * 20 + b"}", "digits"),
        (b'{"a": 9223372036854775808}', "64-bit"),
        (b"[" * (MAX_DEPTH + 2) + b"]" * (MAX_DEPTH + 2), "nested"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_bad_json_is_a_bad_request(body: bytes, why: str):
    with pytest.raises(BadRequest, match=why):
        parse_json(body)


def test_good_json_passes_unchanged():
    body = '{"name": "张伟 😀", "n": [9223372036854775807, -9223372036854775808, 1.5]}'
    assert parse_json(body.encode()) == {
        "name": "张伟 😀",
        "n": [2**63 - 1, -(2**63), 1.5],
    }
    deep = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json(deep) is not None
    assert asyncio.run(parse_json_async(b'{"a": [1]}')) == {"a": [1]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(Settings(data_dir=tmp_path))
    try:
        yield s
    finally:
        s.close()


def test_key_cache_answers_from_memory_and_sees_other_processes_revoke(store: SqlStore):
    server = CachedKeyStore(store.db, ttl_s=0.3)
    cli = CachedKeyStore(store.db)  # another process: `facegate keys revoke`
    key, secret = cli.create("admin", "desk")
    assert server.authenticate(secret) == key
    assert secret not in repr(server._cache)  # remembered by hash, never the secret
    cli.revoke(key.id)
    assert server.authenticate(secret) == key  # cached: stale for at most ttl_s
    time.sleep(0.4)
    assert server.authenticate(secret) is None
    assert asyncio.run(server.authenticate_async(secret)) is None
    # a revocation through the same store is seen at once
    other, other_secret = server.create("recognize")
    assert asyncio.run(server.authenticate_async(other_secret)) == other
    server.revoke(other.id)
    assert server.authenticate(other_secret) is None


def test_key_cache_is_bounded(store: SqlStore):
    keys = CachedKeyStore(store.db, max_entries=16)
    for i in range(100):
        assert keys.authenticate(f"fg_random-guess-{i}") is None
    assert len(keys._cache) <= 16
