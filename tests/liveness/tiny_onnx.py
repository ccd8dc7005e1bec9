"""A tiny ONNX classifier written byte by byte (the ``onnx`` package is not installed, and
nothing may be downloaded): GlobalAveragePool -> Flatten -> Gemm, two outputs
(spoof, live) whose live logit is ``gain * (mean first channel - mean third channel)``.
With RGB input that is "reddish means live", enough to test preprocessing, colour order,
the live index, softmax and the threshold."""

from __future__ import annotations

import struct
from pathlib import Path


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _tensor(name: str, dims: list[int], values: list[float]) -> bytes:
    body = b"".join(_int(1, d) for d in dims) + _int(2, 1)  # FLOAT
    body += _str(8, name) + _bytes(9, struct.pack(f"<{len(values)}f", *values))
    return body


def _value_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d)) for d in dims)
    tensor_type = _int(1, 1) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def _node(op: str, inputs: list[str], outputs: list[str], attrs: bytes = b"") -> bytes:
    body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
    return body + _str(4, op) + attrs


def write_tiny_classifier(path: Path, size: int = 32, gain: float = 20.0) -> Path:
    weights = [0.0, gain, 0.0, 0.0, 0.0, -gain]  # (3 channels) x (spoof, live)
    axis = _bytes(5, _str(1, "axis") + _int(3, 1) + _int(20, 2))  # AttributeProto INT
    graph = b"".join(
        [
            _bytes(1, _node("GlobalAveragePool", ["input"], ["pooled"])),
            _bytes(1, _node("Flatten", ["pooled"], ["flat"], axis)),
            _bytes(1, _node("Gemm", ["flat", "W", "B"], ["logits"])),
            _str(2, "tiny_liveness"),
            _bytes(5, _tensor("W", [3, 2], weights)),
            _bytes(5, _tensor("B", [2], [0.0, 0.0])),
            _bytes(11, _value_info("input", [1, 3, size, size])),
            _bytes(12, _value_info("logits", [1, 2])),
        ]
    )
    model = _int(1, 7) + _str(2, "facegate-tests") + _bytes(7, graph)
    model += _bytes(8, _str(1, "") + _int(2, 13))  # opset_import: default domain, opset 13
    path.write_bytes(model)
    return path
