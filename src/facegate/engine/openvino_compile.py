"""Compiling an ONNX model with OpenVINO for this process's inference threads.

OpenVINO runs the requests of one compiled model on its *streams*; with one stream, two
threads calling ``infer`` take turns (measured: no gain from a second thread). So a model is
compiled with one stream and one thread per inference thread: each pooled infer request then
runs in parallel with the others, and nothing inside a request competes for the cores.

Shapes are always **static**. With a dynamic input, two threads inferring new shapes at once
hung for good here (both requests stuck re-specialising the model inside the CPU plugin), a
failure mode also reported upstream. Callers therefore compile one model per input shape
(``ShapeCache``) or feed a fixed shape.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from facegate.engine.models import ResolvedModel, unloadable


def compile_for_cpu(model: ResolvedModel, input_shape: list[int], streams: int) -> Any:
    """The compiled model (``openvino.CompiledModel``) for a static ``input_shape``.

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


class ShapeCache:
    """Compiled models of one file, one per input shape, the least recently used evicted.

    Video streams and photo batches repeat a handful of sizes, so compiling (tens of
    milliseconds for YuNet) happens once per size; creation is serialised by a lock.
    """

    def __init__(self, model: ResolvedModel, streams: int, capacity: int = 16) -> None:
        self.model = model
        self.streams = streams
        self.capacity = capacity
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, shape: tuple[int, ...]) -> Any:
        with self._lock:
            compiled = self._compiled.get(shape)
            if compiled is None:
                compiled = compile_for_cpu(self.model, list(shape), self.streams)
                self._compiled[shape] = compiled
                while len(self._compiled) > self.capacity:
                    self._compiled.popitem(last=False)
            else:
                self._compiled.move_to_end(shape)
            return compiled

    def __len__(self) -> int:
        with self._lock:
            return len(self._compiled)
