"""Recognisers: aligned face crops in, L2-normalised embeddings out.

Three backends share one interface and one preprocessing (``crops_to_blob``):

- ``OpenVinoRecognizer`` (default): any ArcFace-style ONNX model through OpenVINO. Measured
  on this 2-core Xeon, SFace costs 3.4 ms of CPU per face there against 16 ms in OpenCV's DNN
  module and 28 ms in onnxruntime (whose optimiser is blocked by SFace's initializers being
  graph inputs), with embeddings equal to OpenCV's (cosine >= 0.9998).
- ``SFaceRecognizer``: SFace through ``cv2.dnn`` (``FACEGATE_RECOGNIZER_BACKEND=opencv``).
- ``OnnxRecognizer``: any ArcFace-style model through onnxruntime.

Colour order and normalisation are configurable so a deployment can bring a stronger model
without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from facegate.engine.models import ResolvedModel, unloadable
from facegate.engine.openvino_compile import RUNTIME_GATE, compile_for_cpu
from facegate.engine.pool import InstancePool


class Recognizer(Protocol):
    """Anything that turns aligned BGR crops into embeddings."""

    model: ResolvedModel
    input_size: int

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, D) float32 L2-normalised embeddings for N aligned ``input_size`` crops."""
        ...


def crops_to_blob(
    crops: list[np.ndarray], size: int, *, swap_rb: bool = True, mean: float = 0.0, std: float = 1.0
) -> np.ndarray:
    """NCHW float32 ``(crop - mean) / std`` at ``size`` x ``size``, RGB when ``swap_rb``.

    One ``blobFromImage`` per crop into one array: the same values as ``blobFromImages`` on
    the list, which measured here 220 us for 3 crops and 790 for 8 against 55 and 170.
    """

    channels = 1 if not crops or crops[0].ndim == 2 else crops[0].shape[2]
    blob = np.empty((len(crops), channels, size, size), dtype=np.float32)
    for i, crop in enumerate(crops):
        blob[i] = cv2.dnn.blobFromImage(
            crop, 1.0 / std, (size, size), (mean, mean, mean), swapRB=swap_rb, crop=False
        )[0]
    return blob


@dataclass(frozen=True)
class Preprocessing:
    """How an ArcFace-style model wants its aligned crops: size, colour order, normalisation."""

    input_size: int = 112
    color_order: Literal["rgb", "bgr"] = "rgb"
    mean: float = 0.0
    std: float = 1.0

    def blob(self, crops: list[np.ndarray]) -> np.ndarray:
        return crops_to_blob(
            crops,
            self.input_size,
            swap_rb=self.color_order == "rgb",
            mean=self.mean,
            std=self.std,
        )


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise unit vectors; a zero row stays zero instead of becoming NaN."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), np.float32)


class SFaceRecognizer:
    """SFace (128-D) through ``cv2.dnn``; one net per worker thread, batched forward passes."""

    input_size = 112

    def __init__(self, model: ResolvedModel, pool_size: int = 2) -> None:
        self.model = model

        def create() -> cv2.dnn.Net:
            try:
                return cv2.dnn.readNetFromONNX(str(model.path))
            except cv2.error as exc:
                raise unloadable(model, exc) from exc

        self._pool: InstancePool[cv2.dnn.Net] = InstancePool(create, pool_size)
        with self._pool.use():  # load one now: a bad file fails at start-up, not mid-request
            pass

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 128), dtype=np.float32)
        blob = crops_to_blob(crops, self.input_size)
        with self._pool.use() as net:
            net.setInput(blob)
            out = np.asarray(net.forward())
        return l2_normalise(out.reshape(len(crops), -1))


class OnnxRecognizer:
    """A generic ArcFace-style recogniser through onnxruntime.

    The session is thread-safe, so one is shared; each call uses one intra-op thread because
    parallelism comes from the shared inference pool, not from inside one call.
    """

    def __init__(self, model: ResolvedModel, preprocessing: Preprocessing) -> None:
        import onnxruntime as ort

        self.model = model
        self.input_size = preprocessing.input_size
        self._preprocessing = preprocessing
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the SFace file trips harmless initializer warnings
        options.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(model.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors share no public base class
            raise unloadable(model, exc) from exc
        first_input = self._session.get_inputs()[0]
        self._input_name = first_input.name
        batch_dim = first_input.shape[0]
        self._fixed_batch = isinstance(batch_dim, int) and batch_dim > 0

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 0), dtype=np.float32)
        blob = self._preprocessing.blob(crops)
        if self._fixed_batch:
            outputs = [
                self._session.run(None, {self._input_name: blob[i : i + 1]})[0]
                for i in range(len(crops))
            ]
            out = np.concatenate(outputs)
        else:
            out = self._session.run(None, {self._input_name: blob})[0]
        return l2_normalise(np.asarray(out).reshape(len(crops), -1))


BATCH_SIZES = (8, 4, 2, 1)  # SFace compiled at each; a frame's faces split greedily into them


def batch_plan(count: int, sizes: tuple[int, ...] = BATCH_SIZES) -> list[int]:
    """How ``count`` crops split into the compiled batch sizes, largest first, no padding:
    7 -> [4, 2, 1]; 19 -> [8, 8, 2, 1]. ``sizes`` must be descending and end with 1."""
    plan: list[int] = []
    for size in sizes:
        while count >= size:
            plan.append(size)
            count -= size
    return plan


class OpenVinoRecognizer:
    """An ArcFace-style ONNX recogniser compiled by OpenVINO for this CPU.

    One compiled model per batch size in ``BATCH_SIZES`` (static shapes: openvino_compile
    says why), shared by all threads, with one OpenVINO stream per inference thread; each
    thread borrows its own set of infer requests (requests are not thread-safe, compiled
    models are). All faces of a frame go in as few calls as the batch sizes allow: measured
    here, SFace costs 4.5 ms of CPU per face at batch 1 and 3.6-3.9 ms at batch 2-8 (per-call
    overhead and weight traffic shared by the batch; docs/performance.md).
    """

    def __init__(
        self,
        model: ResolvedModel,
        preprocessing: Preprocessing,
        pool_size: int = 2,
        batch_sizes: tuple[int, ...] = BATCH_SIZES,
    ) -> None:
        import openvino as ov

        if (
            not batch_sizes
            or batch_sizes[-1] != 1
            or list(batch_sizes) != sorted(batch_sizes, reverse=True)
        ):
            raise ValueError("batch sizes must be descending and end with 1")
        self.model = model
        self.input_size = input_size = preprocessing.input_size
        self._preprocessing = preprocessing
        self.batch_sizes = batch_sizes
        self._compiled = {
            size: compile_for_cpu(model, [size, 3, input_size, input_size], pool_size)
            for size in batch_sizes
        }
        self._outputs = {size: c.outputs[0] for size, c in self._compiled.items()}

        def requests() -> dict[int, ov.InferRequest]:
            return {size: c.create_infer_request() for size, c in self._compiled.items()}

        self._pool: InstancePool[dict[int, ov.InferRequest]] = InstancePool(requests, pool_size)

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 0), dtype=np.float32)
        blob = self._preprocessing.blob(crops)
        parts: list[np.ndarray] = []
        with self._pool.use() as requests, RUNTIME_GATE.inferring():
            start = 0
            for size in batch_plan(len(blob), self.batch_sizes):
                # Shared both ways, so OpenVINO copies neither the slice (C-contiguous
                # float32: a leading-axis slice of the blob) nor the output, which is a view
                # into the request's tensor until its next infer: copied here at once. The
                # plain dict: OVDict's lookup (a singledispatchmethod) costs ~10 us. The
                # request's input tensor then points into ``blob``, which is freed after this
                # call: these requests must never be run with ``infer()`` without inputs.
                result = requests[size].infer(
                    {0: blob[start : start + size]}, share_inputs=True, share_outputs=True
                )
                output = result.to_dict()[self._outputs[size]]
                parts.append(np.array(output).reshape(size, -1))
                start += size
        return l2_normalise(np.concatenate(parts))
