"""``FaceEngine``: the one object the rest of facegate asks about faces.

It owns the detector and recogniser (loaded once, never per request), decodes untrusted input,
and returns typed ``Face`` values. It is safe to call from many threads: each model sits in an
instance pool sized to the inference thread count.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facegate.config import Settings
from facegate.engine.align import TEMPLATE_112, align_face, similarity_transform
from facegate.engine.decode import ImageInput, decode_image, decode_reduced
from facegate.engine.detect import YuNetDetector
from facegate.engine.embed import (
    OnnxRecognizer,
    OpenVinoRecognizer,
    Preprocessing,
    Recognizer,
    SFaceRecognizer,
    l2_normalise,
)
from facegate.engine.models import SFACE, YUNET, resolve
from facegate.engine.quality import QualityRules, assess
from facegate.engine.types import Box, Detection, Face
from facegate.errors import NoFace, SeveralFaces


def prominence(detection: Detection, width: int, height: int) -> float:
    """How likely a face is to be *the* subject of a photo: large and near the centre.

    Used when one face must be chosen (verification, enrolment). The detector score alone is
    a poor guide: on loosely cropped photos a sharp background face can outscore the subject.
    """
    cx, cy = detection.box.center
    off_centre = math.hypot((cx - width / 2) / width, (cy - height / 2) / height)
    return math.sqrt(detection.box.area) * max(0.0, 1.0 - 1.5 * off_centre)


class FaceEngine:
    """Detect, align, assess and embed faces. Thread-safe; build once per process."""

    def __init__(self, settings: Settings | None = None, *, pool_size: int | None = None) -> None:
        # OpenCV 5 warns on every net it builds that it ignores the (default) target; the
        # message is not actionable and would fill every log.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        self.settings = settings or Settings()
        s = self.settings
        pool_size = pool_size or s.inference.threads
        self.detector = YuNetDetector(
            resolve(YUNET, s.engine.detector_model),
            nms_threshold=s.engine.det_nms_threshold,
            max_side=s.engine.det_max_side,
            min_face_size=s.engine.min_face_size,
            score_floor=min(s.engine.det_score_threshold, 0.3),
            pool_size=pool_size,
            backend=s.engine.detector_backend,
        )
        recognizer_model = resolve(SFACE, s.engine.recognizer_model)
        self.recognizer: Recognizer
        preprocessing = Preprocessing(
            s.engine.recognizer_input_size,
            s.engine.recognizer_color_order,
            s.engine.recognizer_mean,
            s.engine.recognizer_std,
        )
        self.recognizer_preprocessing = preprocessing
        if s.engine.recognizer_backend == "opencv":
            self.recognizer = SFaceRecognizer(recognizer_model, pool_size=pool_size)
        elif s.engine.recognizer_backend == "openvino":
            self.recognizer = OpenVinoRecognizer(recognizer_model, preprocessing, pool_size)
        else:
            self.recognizer = OnnxRecognizer(recognizer_model, preprocessing)
        self.rules = QualityRules(
            min_face_px=s.quality.min_face_px,
            min_sharpness=s.quality.min_sharpness,
            max_yaw_deg=s.quality.max_yaw_deg,
            max_pitch_deg=s.quality.max_pitch_deg,
            min_det_score=s.quality.min_det_score,
        )

    @property
    def model_id(self) -> str:
        """Identifies the embedding space: galleries are pinned to it."""
        return self.recognizer.model.model_id

    @property
    def model_sha256(self) -> str:
        return self.recognizer.model.sha256

    def load(self, source: ImageInput) -> np.ndarray:
        """Decode untrusted input into a BGR image (typed errors on bad input)."""
        s = self.settings
        return decode_image(
            source,
            max_pixels=s.limits.max_image_pixels,
            max_side=s.limits.max_decode_side,
            max_bytes=s.limits.max_decoded_bytes,
        )

    def analyze_source(self, source: ImageInput) -> list[Face]:
        """``analyze(load(source))`` for callers that need only the faces, not the pixels.

        A large JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 scale, as long as its longest
        side stays at least ``det_max_side`` (the detector never sees more): a 12-megapixel
        photo costs a fraction of the full decode. Boxes and landmarks are returned in the
        coordinates of ``load(source)``, as ``analyze`` gives them. The faces are aligned
        from the reduced image when it holds every face at the recogniser's resolution or
        more (the aligned crop is then a reduction either way); otherwise the JPEG is decoded
        again at the finer scale the smallest face needs (full size at worst) and every face
        is aligned from that.
        """
        s = self.settings
        image, factor = decode_reduced(
            source,
            s.engine.det_max_side,
            s.limits.max_image_pixels,
            max_side=s.limits.max_decode_side,
            max_bytes=s.limits.max_decoded_bytes,
        )
        if factor == 1.0:
            return self.analyze(image)
        found = self.detect(image)
        enlarge = max(
            (_enlargement(d.landmarks, self.recognizer.input_size) for d in found), default=1
        )
        if enlarge > 1.0:
            # The smallest face needs more pixels: decode again at the scale that gives them
            # (the full image at worst) and align every face from that one.
            needed = math.ceil(max(image.shape[:2]) * enlarge)
            image, finer = decode_reduced(
                source,
                needed,
                s.limits.max_image_pixels,
                max_side=s.limits.max_decode_side,
                max_bytes=s.limits.max_decoded_bytes,
            )
            return self.describe(image, [_scaled(d, factor) for d in found], crop_scale=1 / finer)
        return self.describe(image, [_scaled(d, factor) for d in found], crop_scale=1 / factor)

    def detect(self, image: np.ndarray, score_threshold: float | None = None) -> list[Detection]:
        """Every face in a decoded image, best score first."""
        threshold = (
            self.settings.engine.det_score_threshold if score_threshold is None else score_threshold
        )
        found = self.detector.detect(image, threshold)
        cap = self.settings.limits.max_faces_per_image
        if len(found) <= cap:
            return found
        # A crowd (or a crafted image of 400 faces) costs one embedding per face: keep the
        # largest, which are the ones that can be recognised, in their score order.
        kept = set(map(id, sorted(found, key=lambda d: d.box.area, reverse=True)[:cap]))
        return [d for d in found if id(d) in kept]

    def analyze(self, image: np.ndarray) -> list[Face]:
        """Every face in the image, each aligned, quality-checked and embedded (one batch)."""
        return self.describe(image, self.detect(image))

    def main_face(self, image: np.ndarray, *, dominance: float | None = None) -> Face:
        """The subject of a photo: the most prominent face, for enrolment and verification.

        If nothing passes the normal detector threshold the detector's floor is tried, since
        the photo is known to show a face; the low score then shows in ``quality``. With
        ``dominance``, a photo of several people is refused (``SeveralFaces``) unless the
        subject is at least that many times as prominent as the next face.
        """
        detections = self.detect(image) or self.detect(image, self.detector.score_floor)
        if not detections:
            raise NoFace("no face found in the image")
        height, width = image.shape[:2]
        ranked = sorted(detections, key=lambda d: prominence(d, width, height), reverse=True)
        if dominance is not None and len(ranked) > 1:
            first, second = (prominence(d, width, height) for d in ranked[:2])
            if first < dominance * second:
                raise SeveralFaces(
                    f"{len(ranked)} faces and none clearly the subject; crop the photo to one"
                )
        return self.describe(image, [ranked[0]])[0]

    def describe(
        self, image: np.ndarray, detections: list[Detection], *, crop_scale: float = 1.0
    ) -> list[Face]:
        """Align, assess and embed the given detections of ``image``; with ``crop_scale``
        the detections are in coordinates that many times ``image``'s (a reduced decode)."""
        if not detections:
            return []
        size = self.recognizer.input_size
        crops = [align_face(image, d.landmarks * crop_scale, size) for d in detections]
        embeddings = self.embed_crops(crops)
        return [
            Face(
                box=d.box,
                landmarks=d.landmarks,
                score=d.score,
                quality=assess(d.box, d.landmarks, d.score, crop, self.rules),
                embedding=embedding,
            )
            for d, crop, embedding in zip(detections, crops, embeddings, strict=True)
        ]

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """Embeddings of aligned crops; with ``flip_average`` the mirror image is averaged in.

        Averaging a face with its mirror cancels part of the pose and lighting asymmetry the
        recogniser is sensitive to; it costs one more forward pass per face (batched).
        """
        if not self.settings.engine.flip_average:
            return self.recognizer.embed(crops)
        both = self.recognizer.embed(
            crops + [np.ascontiguousarray(crop[:, ::-1]) for crop in crops]
        )
        n = len(crops)
        return l2_normalise(both[:n] + both[n:])


def _enlargement(landmarks: np.ndarray, size: int) -> float:
    """How much aligning these landmarks to a ``size`` crop enlarges the image (above 1: the
    crop would ask for resolution the image does not have)."""
    matrix = similarity_transform(landmarks, TEMPLATE_112 * (size / 112.0))
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def _scaled(detection: Detection, factor: float) -> Detection:
    """The detection with its box and landmarks multiplied by ``factor``."""
    box = detection.box
    return Detection(
        Box(box.x * factor, box.y * factor, box.w * factor, box.h * factor),
        (detection.landmarks * factor).astype(np.float32),
        detection.score,
    )
