"""The one rule for matching against a gallery: only with the model that built it.

A gallery is pinned to the recogniser of its first template (``gallery_meta``); embeddings of
another model live in another space, so matching them would answer with confident nonsense.
Every path that matches (the HTTP routes through ``RecognitionService``, the seed-002
compatibility route, each TCP stream's pipeline) asks a ``ModelGuard`` first.

Until the gallery is pinned the guard asks the database every time: another process may pin
it to a different model at any moment. Once it is pinned to our model the pin cannot change,
so the check is skipped on the hot path from then on.
"""

from __future__ import annotations

from typing import Protocol

from facegate.gallery.types import ModelPin


class PinnedStore(Protocol):
    def check_model(self, model_id: str, model_sha256: str) -> None: ...

    def model_pin(self) -> ModelPin: ...


class ModelGuard:
    """``check()`` raises ``ModelMismatch`` when the gallery is pinned to another model."""

    def __init__(self, store: PinnedStore, model_id: str, model_sha256: str) -> None:
        self.store = store
        self.model_id, self.model_sha256 = model_id, model_sha256
        self._pinned_to_us = False

    @property
    def confirmed(self) -> bool:
        """Whether the gallery is known to be pinned to this model (no more checks)."""
        return self._pinned_to_us

    def check(self) -> None:
        if self._pinned_to_us:
            return
        self.store.check_model(self.model_id, self.model_sha256)
        # check_model passed: the pin is ours or there is none yet (then keep checking).
        self._pinned_to_us = self.store.model_pin().model_id is not None
