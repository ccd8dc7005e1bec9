"""docs/protocol.md checked against the code's message definitions, both ways.

The doc is normative and written for client authors in other languages, so it must say
exactly what ``facegate.stream.protocol`` implements. This test parses the doc's tables (the
version in the title and fixed header, the message table with directions and payloads, one
field table per message, the nested objects named in RESULT and WELCOME, and the error-code
table with its fatal column) and compares each with the code: a message, field or error code
added to one side only fails here, naming what to add where.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import get_args

import pytest

from facegate.stream import protocol as p

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
TEXT = DOC.read_text(encoding="utf-8")
TICKED = re.compile(r"`([a-z_][a-z0-9_]*)`")

# Message type -> its dataclass (every member of ``Message``).
CLASSES: dict[p.MessageType, type] = {cls.TYPE: cls for cls in get_args(p.Message)}
# Backticked words in a nested object's row that are prose, not fields of the object.
PROSE = {("RESULT", "timings_ms"): {"annotate"}}


def sections(level: str) -> dict[str, str]:
    """Heading text -> the text up to the next heading of the same or a higher level."""
    parts = re.split(rf"^({level} .*)$", TEXT, flags=re.M)
    out: dict[str, str] = {}
    for head, body in zip(parts[1::2], parts[2::2], strict=True):
        out[head.lstrip("# ").strip()] = re.split(rf"^#{{1,{len(level)}}} ", body, flags=re.M)[0]
    return out


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in ``text`` as rows of {header: cell}."""
    found: list[list[dict[str, str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if (
            lines[i].startswith("|")
            and i + 1 < len(lines)
            and re.match(r"\|[-:| ]+\|$", lines[i + 1])
        ):
            head = [c.strip().lower() for c in lines[i].strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip().strip("|"))]
                rows.append(dict(zip(head, cells, strict=False)))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


def field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls) if f.name != "jpeg"}  # the payload is not JSON


def message_section(name: str) -> str:
    """The doc section of message ``name`` (a ``### NAME (n)`` heading, maybe shared)."""
    for head, body in sections("###").items():
        if re.search(rf"\b{name}\b \({p.MessageType[name].value}\)", head):
            return body
    raise AssertionError(f"{DOC.name} has no '### {name} (n)' section")


def message_fields(name: str) -> dict[str, dict[str, str]]:
    """Field -> its row, from the section's table that belongs to ``name``."""
    body = message_section(name)
    if name in ("CHALLENGE", "CHALLENGE_STEP", "CHALLENGE_RESULT"):
        # One section for the three: each table follows a paragraph starting with its name.
        chunks = re.split(r"^(?=CHALLENGE(?:_STEP|_RESULT)?, )", body, flags=re.M)
        body = next(c for c in chunks if c.startswith(f"{name}, "))
    elif name in ("PING", "PONG"):
        body = body.split("PONG:")[0 if name == "PING" else 1]
    rows = tables(body)
    assert rows, f"the {name} section of {DOC.name} has no field table"
    out = {}
    for row in rows[0]:
        for fname in TICKED.findall(row["field"]):
            out[fname] = row
    return out


def test_version() -> None:
    title = re.search(r"^# .*version (\d+)\.(\d+)$", TEXT, flags=re.M)
    assert title, "the title must end with 'version MAJOR.MINOR'"
    assert (int(title[1]), int(title[2])) == p.VERSION
    header = {
        r["field"]: r["value"]
        for r in tables(
            sections("###")["Fixed header (16 bytes, network byte order = big-endian)"]
        )[0]
    }
    assert re.match(rf"protocol major version, `{p.VERSION[0]}`", header["`major`"])
    assert re.match(rf"protocol minor version, `{p.VERSION[1]}`", header["`minor`"])


def test_message_table() -> None:
    rows = tables(sections("##")["Messages"])[0]
    doc = {int(r["type"]): r for r in rows}
    code = {t.value: t for t in p.MessageType}
    assert set(doc) == set(code), (
        f"types only in {DOC.name}: {sorted(set(doc) - set(code))}; "
        f"only in MessageType: {sorted(set(code) - set(doc))}"
    )
    for value, mtype in code.items():
        row = doc[value]
        assert row["name"] == mtype.name, f"type {value}"
        direction = row["direction"]
        from_client = direction.startswith(("client", "either"))
        from_server = direction.startswith(("server", "either"))
        assert from_client == (mtype in p.CLIENT_SENDS), f"{mtype.name}: {direction}"
        assert from_server == (mtype in p.SERVER_SENDS), f"{mtype.name}: {direction}"
        assert (row["payload"] == "JPEG") == (mtype in p.WITH_PAYLOAD), mtype.name
        if "(1.1)" in direction:
            assert mtype in p.PROMPT_TYPES and p.PROMPTS_SINCE_MINOR == 1


@pytest.mark.parametrize("mtype", list(p.MessageType), ids=lambda t: t.name)
def test_message_fields(mtype: p.MessageType) -> None:
    cls = CLASSES[mtype]
    doc = message_fields(mtype.name)
    code = field_names(cls)
    assert set(doc) == code, (
        f"{mtype.name}: documented but not in {cls.__name__}: {sorted(set(doc) - code)}; "
        f"in {cls.__name__} but not documented: {sorted(code - set(doc))}"
    )
    for f in fields(cls):
        row = doc.get(f.name)
        if row is None or "required" not in row:
            continue
        required = f.default is MISSING and f.default_factory is MISSING
        assert row["required"].startswith("yes") == required, f"{mtype.name}.{f.name}"


def nested_rows() -> list[tuple[str, str, type]]:
    """(message, field, dataclass) for every field whose value is an object of named fields."""
    out = []
    for mtype, cls in CLASSES.items():
        for f in fields(cls):
            kind = {"timestamps": p.Timestamps, "timings_ms": p.Timings, "drops": p.Drops,
                    "limits": p.Limits}.get(f.name)  # fmt: skip
            if kind is not None:
                out.append((mtype.name, f.name, kind))
    return out


@pytest.mark.parametrize(
    "message,name,kind", nested_rows(), ids=lambda v: getattr(v, "__name__", str(v))
)
def test_nested_objects(message: str, name: str, kind: type) -> None:
    """The keys of RESULT's timestamps, timings_ms and drops and WELCOME's limits."""
    assert is_dataclass(kind)
    row = message_fields(message)[name]
    doc = set(TICKED.findall(row["meaning"])) - PROSE.get((message, name), set())
    code = field_names(kind)
    assert doc == code, (
        f"{message}.{name}: documented but not in {kind.__name__}: {sorted(doc - code)}; "
        f"in {kind.__name__} but not documented: {sorted(code - doc)}"
    )


def test_face_and_person() -> None:
    body = message_section("RESULT").split("Each face:")[1]
    faces = {n: r for r in tables(body)[0] for n in TICKED.findall(r["field"])}
    assert set(faces) == field_names(p.FaceResult)
    person = re.findall(r'"(\w+)"', faces["person"]["meaning"])
    assert set(person) == field_names(p.PersonRef)


def test_error_codes() -> None:
    rows = tables(sections("##")["Error codes"])[0]
    doc = {TICKED.findall(r["code"])[0]: r["fatal"] == "yes" for r in rows}
    code = {str(c): c not in p.NON_FATAL for c in p.ErrorCode}
    assert set(doc) == set(code), (
        f"codes only in {DOC.name}: {sorted(set(doc) - set(code))}; "
        f"only in ErrorCode: {sorted(set(code) - set(doc))}"
    )
    assert doc == code, "the fatal column differs from NON_FATAL"


def test_limits_and_timeouts() -> None:
    """The defaults the doc states are the code's."""
    limits = p.DEFAULT_LIMITS
    for name in ("max_json_bytes", "max_payload_bytes"):
        stated = re.search(rf"`{name}` \(default ([\d,]+)", TEXT)
        assert stated, name
        assert int(stated[1].replace(",", "")) == getattr(limits, name)
    assert f"{p.MAX_HELLO_JSON_BYTES:,}" in TEXT
    rows = tables(sections("##")["Timeouts (enforced by the server, announced in WELCOME)"])[0]
    doc = {TICKED.findall(r["limit"])[0]: float(r["default"]) for r in rows}
    assert doc == {
        n: getattr(limits, n) for n in ("hello_timeout_s", "idle_timeout_s", "message_timeout_s")
    }


def test_state_rules_name_what_each_side_sends() -> None:
    """The state machine's 'A client sends only ...; a server only ...' sentence."""
    rule = re.search(r"A client sends only (.*?); a server only (.*?)\. Anything", TEXT, re.S)
    assert rule, "the state machine section must say what each side sends"

    def names(text: str) -> set[str]:
        return set(re.findall(r"\b[A-Z][A-Z_]+\b", text))

    assert names(rule[1]) == {t.name for t in p.CLIENT_SENDS}
    assert names(rule[2]) == {t.name for t in p.SERVER_SENDS}


def test_the_wire_timings_are_the_pipeline_stages_and_send() -> None:
    """One list of stage names: the pipeline's, plus ``send`` on the wire and in stats."""
    from facegate.stream.pipeline import PIPELINE_STAGES
    from facegate.stream.stats import STAGES

    assert tuple(f.name for f in fields(p.Timings)) == (*PIPELINE_STAGES, "send") == STAGES
