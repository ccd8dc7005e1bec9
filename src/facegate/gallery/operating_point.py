"""The operating point: a target error rate turned into the similarity threshold in use.

Users choose *how often a stranger may be named* (``match_target_fpir``, default 1 %) and, for
1:1 checks, the false-accept rate (``verify_target_far``), not a raw cosine. A stranger
compared with N enrolled people gets N chances of a false match, so the threshold that keeps
the false-positive identification rate (FPIR) at the target grows with N:

    FPIR(N, t) = 1 - (1 - q(t))^N   =>   t(N) = q^-1(1 - (1 - fpir)^(1/N))

where ``q(t)`` is the share of (stranger, enrolled person) scores at or above ``t`` — the
impostor tail, measured on dev data per population (``facegate calibrate --people``) and
shipped in ``operating_points.json`` keyed by the recogniser's sha256. The independence
assumption was checked on the dev data: the exact FPIR of random galleries drawn from the
pool (hypergeometric, every N up to the pool size) is 0.0097-0.0101 at the LFW thresholds
the formula sets for 1 % (docs/gallery.md). Where the measured tail runs out (fewer than
``MIN_EXCEEDANCES`` scores above a point) it continues as a Gaussian tail with the slope
fitted on the measured upper tail. Every population gets its own threshold; the strictest
wins, so no population pays more than the target.

Without a table for the recogniser in use, ``match_threshold`` (an explicit override) or a
conservative constant is used, with a warning. ``match_threshold``, when set, overrides the
derivation altogether (identify and verify), as it always did.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from facegate.config import Settings

log = logging.getLogger(__name__)

SHIPPED_TABLE = Path(__file__).with_name("operating_points.json")
# Used only for a recogniser without a calibration table and no match_threshold: high enough
# for SFace to keep FPIR at 1 % up to about five thousand people (docs/gallery.md); for another
# model it is a guess, hence the warning.
FALLBACK_THRESHOLD = 0.55
# The measured tail is trusted down to this many impostor scores above a knot.
MIN_EXCEEDANCES = 20
TABLE_FORMAT = 1

Source = Literal["calibrated", "override", "fallback"]
_NORMAL = NormalDist()
_WARNED: set[str] = set()  # recognisers already warned about (once per process)


@dataclass(frozen=True)
class ImpostorTail:
    """One population's impostor score tail: ``q(t)``, the share of scores >= ``t``.

    ``knots`` are ``(score, share)`` points of the measured tail, shares decreasing; below the
    last share the tail continues as a Gaussian of standard deviation ``slope`` anchored at the
    last knot.
    """

    population: str
    knots: tuple[tuple[float, float], ...]
    slope: float
    scores: int = 0
    identities: int = 0
    gallery_people: int = 0
    probes: int = 0

    def __post_init__(self) -> None:
        if not self.knots:
            raise ValueError(f"population {self.population!r}: empty impostor tail")
        shares = [q for _, q in self.knots]
        if any(b >= a for a, b in itertools.pairwise(shares)):
            raise ValueError(f"population {self.population!r}: knot shares must decrease")

    @classmethod
    def measure(
        cls,
        population: str,
        impostor_scores: np.ndarray,
        *,
        identities: int = 0,
        gallery_people: int = 0,
        probes: int = 0,
        points: int = 60,
    ) -> ImpostorTail:
        """The tail of measured impostor scores: log-spaced knots from a share of 10 % down
        to ``MIN_EXCEEDANCES`` scores, and the Gaussian slope fitted on the knots <= 5 %."""
        scores = np.sort(np.asarray(impostor_scores, np.float64).reshape(-1))[::-1]
        n = len(scores)
        if n < 10 * MIN_EXCEEDANCES:
            raise ValueError(f"population {population!r}: too few impostor scores ({n})")
        low = MIN_EXCEEDANCES / n
        shares = np.unique(np.geomspace(0.1, low, points))[::-1]
        knots = []
        for q in shares.tolist():
            k = max(1, round(q * n))
            knots.append((float(scores[k - 1]), k / n))  # k scores are >= this one
        knots = _decreasing(knots)
        fit = [(t, q) for t, q in knots if q <= 0.05] or knots
        slope = _gaussian_slope(fit)
        return cls(population, tuple(knots), slope, n, identities, gallery_people, probes)

    def threshold_at_share(self, share: float) -> float:
        """The lowest score ``t`` with ``q(t) <= share`` under the model."""
        if not 0 < share < 1:
            raise ValueError("share must be in (0, 1)")
        ts = [t for t, _ in self.knots]
        qs = [q for _, q in self.knots]
        if share >= qs[0]:
            return ts[0]  # the body: looser than any table point, never used at FPIR <= 10 %
        if share >= qs[-1]:
            logq = np.log(qs[::-1])
            return float(np.interp(math.log(share), logq, ts[::-1]))
        return ts[-1] + self.slope * (_z(share) - _z(qs[-1]))

    def share_at(self, threshold: float) -> float:
        """``q(threshold)`` under the model (the inverse of ``threshold_at_share``)."""
        ts = [t for t, _ in self.knots]
        qs = [q for _, q in self.knots]
        if threshold <= ts[0]:
            return qs[0]
        if threshold <= ts[-1]:
            return float(np.exp(np.interp(threshold, ts, np.log(qs))))
        z = _z(qs[-1]) + (threshold - ts[-1]) / self.slope
        return 1.0 - _NORMAL.cdf(z)

    def as_dict(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "identities": self.identities,
            "gallery_people": self.gallery_people,
            "probes": self.probes,
            "scores": self.scores,
            "slope": round(self.slope, 6),
            "knots": [[round(t, 6), q] for t, q in self.knots],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImpostorTail:
        return cls(
            str(data["population"]),
            tuple((float(t), float(q)) for t, q in data["knots"]),
            float(data["slope"]),
            int(data.get("scores", 0)),
            int(data.get("identities", 0)),
            int(data.get("gallery_people", 0)),
            int(data.get("probes", 0)),
        )


def _z(share: float) -> float:
    return _NORMAL.inv_cdf(1.0 - share)


def _decreasing(knots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop knots whose share repeats (ties or rounding) so shares strictly decrease."""
    out: list[tuple[float, float]] = []
    for t, q in knots:
        if not out or q < out[-1][1]:
            out.append((t, q))
    return out


def _gaussian_slope(knots: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of score against the normal quantile of the share: the standard
    deviation of the Gaussian that best follows the measured upper tail."""
    if len(knots) < 2:
        return 0.05
    z = np.array([_z(q) for _, q in knots])
    t = np.array([t for t, _ in knots])
    slope = float(np.polyfit(z, t, 1)[0])
    return max(slope, 1e-3)


def share_per_person(fpir: float, people: int) -> float:
    """The per-person impostor share ``q`` at which N independent chances give ``fpir``."""
    if not 0 < fpir < 1:
        raise ValueError("target FPIR must be in (0, 1)")
    return -math.expm1(math.log1p(-fpir) / max(1, people))


@dataclass(frozen=True)
class Calibration:
    """The impostor tails of every population measured for one recogniser."""

    model_id: str
    model_sha256: str
    aggregation: str
    blend_alpha: float
    enrol: int
    tails: tuple[ImpostorTail, ...]
    command: str = ""

    def identify_threshold(self, fpir: float, people: int) -> float:
        """The strictest over populations of the threshold giving ``fpir`` with N people."""
        share = share_per_person(fpir, people)
        return max(t.threshold_at_share(share) for t in self.tails)

    def verify_threshold(self, far: float) -> float:
        """1:1: the strictest threshold whose impostor share is ``far`` (N = 1)."""
        return max(t.threshold_at_share(far) for t in self.tails)

    def fpir_at(self, threshold: float, people: int) -> dict[str, float]:
        """Each population's modelled FPIR at ``threshold`` with N people."""
        return {
            t.population: -math.expm1(max(1, people) * math.log1p(-t.share_at(threshold)))
            for t in self.tails
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model_sha256": self.model_sha256,
            "aggregation": self.aggregation,
            "blend_alpha": self.blend_alpha,
            "enrol": self.enrol,
            "command": self.command,
            "populations": [t.as_dict() for t in self.tails],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            str(data["model_id"]),
            str(data["model_sha256"]),
            str(data["aggregation"]),
            float(data["blend_alpha"]),
            int(data["enrol"]),
            tuple(ImpostorTail.from_dict(t) for t in data["populations"]),
            str(data.get("command", "")),
        )


def read_table(path: Path) -> dict[str, Calibration]:
    """Calibrations by model sha256 from a table file (``facegate calibrate --write``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != TABLE_FORMAT:
        raise ValueError(f"{path}: unknown calibration table format {data.get('format')!r}")
    return {sha: Calibration.from_dict(c) for sha, c in data["models"].items()}


def write_table(path: Path, calibration: Calibration) -> None:
    """Add or replace ``calibration`` in the table file (other models' entries are kept)."""
    models: dict[str, Any] = {}
    if path.exists():
        models = {sha: c.as_dict() for sha, c in read_table(path).items()}
    models[calibration.model_sha256] = calibration.as_dict()
    body = {"format": TABLE_FORMAT, "models": dict(sorted(models.items()))}
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


@lru_cache(maxsize=8)
def _cached_table(path: Path, mtime: float) -> dict[str, Calibration]:
    return read_table(path)


def load_calibration(settings: Settings, model_sha256: str | None) -> Calibration | None:
    """The calibration for this recogniser from ``match_calibration_file`` or the shipped
    table; None when there is none."""
    if model_sha256 is None:
        return None
    path = settings.match.calibration_file or SHIPPED_TABLE
    if not path.exists():
        return None
    return _cached_table(path, path.stat().st_mtime).get(model_sha256)


@dataclass
class OperatingPoint:
    """The thresholds one process uses, re-derived cheaply as the gallery size changes."""

    settings: Settings
    model_id: str | None
    model_sha256: str | None
    calibration: Calibration | None = field(init=False)
    source: Source = field(init=False)
    _cache: dict[int, float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.calibration = load_calibration(self.settings, self.model_sha256)
        if self.settings.match.threshold is not None:
            self.source = "override"
        elif self.calibration is not None:
            self.source = "calibrated"
            if self.calibration.aggregation != self.settings.gallery.aggregation:
                log.warning(
                    "the threshold calibration was measured with the %s aggregation, the "
                    "gallery uses %s: recalibrate (facegate calibrate --people) for exact rates",
                    self.calibration.aggregation,
                    self.settings.gallery.aggregation,
                )
        else:
            self.source = "fallback"
            if self.model_sha256 is not None and self.model_sha256 not in _WARNED:
                _WARNED.add(self.model_sha256)
                log.warning(
                    "no threshold calibration for recogniser %s (sha256 %s): using the "
                    "conservative constant %.3f; run `facegate calibrate --people DIR --write "
                    "FILE` and set FACEGATE_MATCH_CALIBRATION_FILE, or set "
                    "FACEGATE_MATCH_THRESHOLD",
                    self.model_id,
                    self.model_sha256[:12],
                    FALLBACK_THRESHOLD,
                )

    def identify_threshold(self, people: int) -> float:
        """The open-set threshold for a gallery of ``people`` enrolled people."""
        if self.settings.match.threshold is not None:
            return self.settings.match.threshold
        if self.calibration is None:
            return FALLBACK_THRESHOLD
        n = max(1, people)
        cached = self._cache.get(n)
        if cached is None:
            cached = round(
                self.calibration.identify_threshold(self.settings.match.target_fpir, n), 4
            )
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[n] = cached
        return cached

    def verify_threshold(self) -> float:
        """The 1:1 threshold for ``verify_target_far``."""
        if self.settings.match.threshold is not None:
            return self.settings.match.threshold
        if self.calibration is None:
            return FALLBACK_THRESHOLD
        return round(self.calibration.verify_threshold(self.settings.match.verify_target_far), 4)

    def status(self, people: int) -> dict[str, Any]:
        """What ``GET /api/v1/gallery/status`` and ``facegate people stats`` show."""
        return {
            "people": people,
            "threshold": self.identify_threshold(people),
            "target_fpir": self.settings.match.target_fpir,
            "verify_threshold": self.verify_threshold(),
            "verify_target_far": self.settings.match.verify_target_far,
            "source": self.source,
            "model": self.model_id,
            "populations": []
            if self.calibration is None
            else [t.population for t in self.calibration.tails],
        }
