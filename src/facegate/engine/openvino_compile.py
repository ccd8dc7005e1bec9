"""Compiling an ONNX model with OpenVINO for this process's inference threads.

OpenVINO runs the requests of one compiled model on its *streams*; with one stream, two
threads calling ``infer`` take turns (measured: no gain from a second thread). So a model is
compiled with one stream and one thread per inference thread: each pooled infer request then
runs in parallel with the others, and nothing inside a request competes for the cores.
"""

from __future__ import annotations

from typing import Any

from facegate.engine.models import ResolvedModel, unloadable


def compile_for_cpu(model: ResolvedModel, input_shape: list[int], streams: int) -> Any:
    """The compiled model (``openvino.CompiledModel``) with ``input_shape`` (-1 = dynamic).

    A file OpenVINO cannot read or reshape raises ``ModelError`` naming the file.
    """
    import openvino as ov

    core = ov.Core()
    try:
        network = core.read_model(str(model.path))
        network.reshape({network.inputs[0]: ov.PartialShape(input_shape)})
        return core.compile_model(
            network, "CPU", {"NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams}
        )
    except Exception as exc:  # OpenVINO raises plain RuntimeErrors for bad files
        raise unloadable(model, exc) from exc
