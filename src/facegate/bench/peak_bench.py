"""``facegate bench peak``: the physical floor next to what the models reach.

For each stage the arithmetic is counted from the model graph itself (multiply-accumulates
of every Convolution, GroupConvolution and MatMul at the shape the engine compiles), and
this CPU's peak is measured with one large MatMul compiled by the same OpenVINO plugin, one
thread, in f32, bf16 (AMX-BF16 here) and int8 (NNCF-quantised, AMX-INT8). Dividing the
stage's MACs by the measured peak gives the time the arithmetic alone needs; the stage's
measured CPU time next to it shows how far facegate is from that floor.

CPU time (``time.process_time``) is used throughout, so other work on a shared machine
stretches the wall clock but hardly the numbers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from facegate.engine.embed import BATCH_SIZES
from facegate.engine.models import SFACE, YUNET, resolve
from facegate.engine.yunet_runtimes import detector_canvases

MATMUL = 2048  # M = K = N: large enough for the AMX tiles, small enough for the caches


def count_macs(model: Any) -> int:
    """Multiply-accumulates of the convolutions and matrix products of a reshaped model."""
    total = 0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        out = [int(d) for d in op.get_output_partial_shape(0).to_shape()]
        weights = [int(d) for d in op.input(1).get_partial_shape().to_shape()]
        if kind == "Convolution":  # weights: Cout, Cin, kh, kw
            per_output = int(np.prod(weights[1:]))
        elif kind == "GroupConvolution":  # weights: G, Cout/G, Cin/G, kh, kw
            per_output = int(np.prod(weights[2:]))
        else:  # MatMul: the contracted dimension
            a = [int(d) for d in op.input(0).get_partial_shape().to_shape()]
            per_output = a[-1] if not op.get_transpose_a() else a[-2]
        total += int(np.prod(out)) * per_output
    return total


def _cpu_ms(call: Callable[[], object], repeats: int) -> float:
    """Best of three: CPU milliseconds per call."""
    for _ in range(3):
        call()
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(repeats):
            call()
        best = min(best, (time.process_time() - start) * 1000.0 / repeats)
    return best


def _compile(model: Any, precision: str) -> Any:
    import openvino as ov

    config = {"NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": precision}
    return ov.Core().compile_model(model, "CPU", config)


def matmul_peak(size: int = MATMUL) -> dict[str, float]:
    """GMAC/s of one ``size``-cubed MatMul on one thread: f32, bf16 and int8."""
    import nncf
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    weights = rng.standard_normal((size, size)).astype(np.float32)
    x = ops.parameter([size, size], np.float32)
    model = ov.Model([ops.matmul(x, ops.constant(weights), False, False)], [x])
    data = rng.standard_normal((size, size)).astype(np.float32)
    macs = size**3
    out: dict[str, float] = {}
    for precision in ("f32", "bf16"):
        request = _compile(model, precision).create_infer_request()

        def call(r: Any = request) -> object:
            return r.infer({0: data})

        ms = _cpu_ms(call, 3)
        out[f"{precision}_gmac_per_s"] = round(macs / ms / 1e6, 1)
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bar would break the JSON
        quantized = nncf.quantize(model, nncf.Dataset([data]), subset_size=1)
    request = _compile(quantized, "bf16").create_infer_request()
    ms = _cpu_ms(lambda: request.infer({0: data}), 3)
    out["int8_gmac_per_s"] = round(macs / ms / 1e6, 1)
    return out


def model_rows(recognizer: str | None = None) -> list[dict[str, Any]]:
    """MACs and measured CPU of YuNet at every canvas (and batched at 640x480) and SFace at
    every batch size (bf16, the plugin's default here), one thread."""
    import openvino as ov

    core = ov.Core()
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(0)
    jobs: list[tuple[str, str, list[int]]] = [
        ("yunet", str(resolve(YUNET).path), [1, 3, h, w]) for w, h in detector_canvases(640)
    ]
    # Would batching frames or photos of different requests help the detector? YuNet on the
    # 640x480 canvas at batch 2 and 4 against batch 1 (cpu_ms_per_item).
    jobs += [("yunet", str(resolve(YUNET).path), [b, 3, 480, 640]) for b in (2, 4)]
    sface = recognizer or str(resolve(SFACE).path)
    jobs += [("sface", sface, [b, 3, 112, 112]) for b in sorted(BATCH_SIZES)]
    for name, path, shape in jobs:
        model = core.read_model(path)
        model.reshape({model.inputs[0]: ov.PartialShape(shape)})
        macs = count_macs(model)
        request = _compile(model, "bf16").create_infer_request()
        blob = (rng.random(shape) * 255).astype(np.float32)

        def run(r: Any = request, b: np.ndarray = blob) -> object:
            return r.infer({0: b})

        ms = _cpu_ms(run, 20)
        per_item = shape[0]
        rows.append(
            {
                "model": name,
                "input": "x".join(map(str, shape)),
                "gmac": round(macs / 1e9, 3),
                "gmac_per_item": round(macs / 1e9 / per_item, 3),
                "cpu_ms": round(ms, 2),
                "cpu_ms_per_item": round(ms / per_item, 2),
                "gmac_per_s": round(macs / ms / 1e6, 1),
            }
        )
    return rows


def run_peak_bench(recognizer: str | None = None) -> dict[str, Any]:
    peak = matmul_peak()
    rows = model_rows(recognizer)
    for row in rows:
        row["floor_ms_bf16"] = round(row["gmac"] * 1000.0 / peak["bf16_gmac_per_s"], 3)
        row["floor_ms_int8"] = round(row["gmac"] * 1000.0 / peak["int8_gmac_per_s"], 3)
        row["times_the_bf16_floor"] = round(row["cpu_ms"] / row["floor_ms_bf16"], 1)
    return {
        "peak_one_thread": {"matmul": f"{MATMUL}x{MATMUL}x{MATMUL}", **peak},
        "models": rows,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "timing": "process CPU ms per call, best of 3 repeats, one OpenVINO thread/stream",
    }
