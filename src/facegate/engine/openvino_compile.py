"""Compiling an ONNX model with OpenVINO for this process's inference threads.

OpenVINO runs the requests of one compiled model on its *streams*; with one stream, two
threads calling ``infer`` take turns (measured: no gain from a second thread). So a model is
compiled with one stream and one thread per inference thread: each pooled infer request then
runs in parallel with the others, and nothing inside a request competes for the cores.

Shapes are always **static**. With a dynamic input, two threads inferring new shapes at once
hung for good here (both requests stuck re-specialising the model inside the CPU plugin), a
failure mode also reported upstream. Callers therefore compile one model per input shape
(``ShapeCache``) or feed a fixed shape.

Compiling never overlaps inference. With static shapes too, a model compiled on one thread
while two others ran ``infer`` on another model hung all three for good here (py-spy: both
infer calls and the compile idle). ``RUNTIME_GATE`` makes compiling exclusive and inference
shared: an ``infer`` waits for at most the one compile in progress (a few hundred ms, at
start-up), and a compile waits for the inferences in flight. It is process-wide because the
hazard belongs to the OpenVINO runtime of the process, not to one model.

The first inference of the process runs on the compiling thread, alone. Two threads making
their first ``infer`` at the same time deadlocked here (openvino 2026.4, py-spy --native: one
thread inside pybind11's once-only numpy setup waiting for the GIL, the other holding the GIL
and waiting for that setup), so ``compile_for_cpu`` primes that setup once, under the gate.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from facegate.engine.models import ResolvedModel, unloadable


class CompileGate:
    """A shared/exclusive lock: many inferences at once, or one compile alone.

    Waiting compiles go first, so a steady stream of inferences cannot starve start-up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inferring = 0
        self._compiling = False
        self._waiting = 0
        self.primed = False  # the process's first inference has run (see the module doc)

    @contextmanager
    def inferring(self) -> Iterator[None]:
        with self._cond:
            while self._compiling or self._waiting:
                self._cond.wait()
            self._inferring += 1
        try:
            yield
        finally:
            with self._cond:
                self._inferring -= 1
                if not self._inferring:
                    self._cond.notify_all()

    @contextmanager
    def compiling(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._compiling or self._inferring:
                self._cond.wait()
            self._waiting -= 1
            self._compiling = True
        try:
            yield
        finally:
            with self._cond:
                self._compiling = False
                self._cond.notify_all()


RUNTIME_GATE = CompileGate()


def compile_for_cpu(model: ResolvedModel, input_shape: list[int], streams: int) -> Any:
    """The compiled model (``openvino.CompiledModel``) for a static ``input_shape``.

    A file OpenVINO cannot read or reshape raises ``ModelError`` naming the file. Never call
    it while holding ``RUNTIME_GATE.inferring()`` (it would wait for itself).
    """
    import openvino as ov

    with RUNTIME_GATE.compiling():
        core = ov.Core()
        try:
            network = core.read_model(str(model.path))
            network.reshape({network.inputs[0]: ov.PartialShape(input_shape)})
            compiled = core.compile_model(
                network, "CPU", {"NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams}
            )
            if not RUNTIME_GATE.primed:
                compiled.create_infer_request().infer({0: np.zeros(input_shape, np.float32)})
                RUNTIME_GATE.primed = True
            return compiled
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
