"""Does a margin-aware or cohort-normalised score name fewer strangers at equal TPIR?

Measures, on the dev set, TPIR at FPIR 1 % and 0.1 % for the gallery's score (``blend``) and
for second-best-aware and cohort-normalised variants of it, plus how a threshold set on LFW
carries over to the East-Asian CASIA5 identities. The gallery's own aggregation
(``facegate.gallery.matcher.person_scores``) scores every probe against every enrolled
person, so the variants see the same candidates the product does. Prints JSON.

    PYTHONPATH=src python bench/openset_score_variants.py ../shared/data/faces/people

Protocols: LFW dev = ``facegate eval identify --people people --enrol 2`` (identities with
more than 2 photos enrolled with their first 2, the others strangers); CASIA5 halves = even
identities enrolled, odd ones strangers, and the other way round, pooled; the same with the
1,294 other dev identities enrolled as distractors. The results are in docs/gallery.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.engine.decode import image_files
from facegate.eval.metrics import threshold_at_far
from facegate.eval.pairs import embed_main_faces
from facegate.gallery.matcher import MatcherParams, person_scores

COHORT = 50


def scores_against(
    probes: list[np.ndarray], gallery: list[list[np.ndarray]], params: MatcherParams
) -> np.ndarray:
    owners = np.repeat(np.arange(len(gallery)), [len(g) for g in gallery])
    vectors = np.stack([v for g in gallery for v in g]).astype(np.float32)
    return person_scores(np.stack(probes), owners, vectors, params)[1].astype(np.float64)


def variants(scores: np.ndarray) -> dict[str, np.ndarray]:
    ordered = -np.sort(-scores, axis=1)
    best, second = ordered[:, 0], ordered[:, 1]
    cohort = ordered[:, 1 : 1 + COHORT]
    mean, sd = cohort.mean(axis=1), cohort.std(axis=1) + 1e-6
    out = {"score (blend, the product)": best}
    for w in (0.25, 0.5, 1.0):
        out[f"score - {w} x second best"] = best - w * second
    for w in (0.25, 0.5):
        out[f"score - {w} x mean of top-{COHORT} others"] = best - w * mean
    out[f"z-norm over top-{COHORT} others"] = (best - mean) / sd
    out["score + 0.03 x z-norm"] = best + 0.03 * (best - mean) / sd
    return out


def protocol(
    emb: dict[Path, np.ndarray | None],
    enrolled: list[Path],
    strangers: list[Path],
    distractors: list[Path],
    params: MatcherParams,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    faces = {
        f: [e for p in image_files(f) if (e := emb.get(p)) is not None]
        for f in dict.fromkeys(enrolled + strangers + distractors)
    }
    enrolled = [f for f in enrolled if faces[f]]
    gallery = [faces[f][:2] for f in enrolled + distractors if faces[f]]
    known, own = [], []
    for i, f in enumerate(enrolled):
        for e in faces[f][2:]:
            known.append(e)
            own.append(i)
    unknown = [e for f in strangers for e in faces[f]]
    sk = scores_against(known, gallery, params)
    su = scores_against(unknown, gallery, params)
    correct = sk.argmax(axis=1) == np.asarray(own)
    return variants(sk), correct, variants(su)


def tpir_table(
    vk: dict[str, np.ndarray], correct: np.ndarray, vu: dict[str, np.ndarray]
) -> dict[str, Any]:
    out = {}
    for name in vk:
        row = {}
        for fpir in (0.01, 0.001):
            t = threshold_at_far(vu[name], fpir)
            row[f"tpir_at_fpir_{fpir}"] = round(float(np.mean(correct & (vk[name] >= t))), 4)
        out[name] = row
    return out


def main(people: Path) -> dict[str, Any]:
    engine = FaceEngine(Settings())
    params = MatcherParams(0.0, aggregation="blend", blend_alpha=0.3)
    folders = sorted(p for p in people.iterdir() if p.is_dir())
    emb = embed_main_faces(engine, [f for d in folders for f in image_files(d)]).embeddings
    casia = [f for f in folders if f.name.startswith("CASIA5_")]
    others = [f for f in folders if not f.name.startswith("CASIA5_")]
    counts = {f: len(image_files(f)) for f in folders}
    report: dict[str, Any] = {}

    lfw = protocol(
        emb, [f for f in folders if counts[f] > 2], [f for f in folders if counts[f] <= 2], [],
        params,
    )  # fmt: skip
    report["lfw_dev_enrol2"] = tpir_table(*lfw)
    for label, extra in (("casia5_halves", []), ("casia5_halves_with_1294_distractors", others)):
        a = protocol(emb, casia[0::2], casia[1::2], extra, params)
        b = protocol(emb, casia[1::2], casia[0::2], extra, params)
        pooled = (
            {k: np.r_[a[0][k], b[0][k]] for k in a[0]},
            np.r_[a[1], b[1]],
            {k: np.r_[a[2][k], b[2][k]] for k in a[2]},
        )
        report[label] = tpir_table(*pooled)
    # carry-over: a threshold set on LFW strangers (FPIR 1 %), used on the East-Asian halves
    # with the LFW gallery enrolled too
    _, _, lfw_unknown = lfw
    enrolled_lfw = [f for f in others if counts[f] > 2]
    a = protocol(emb, casia[0::2], casia[1::2], enrolled_lfw, params)
    b = protocol(emb, casia[1::2], casia[0::2], enrolled_lfw, params)
    carry = {}
    for name in lfw_unknown:
        t = threshold_at_far(lfw_unknown[name], 0.01)
        unknown = np.r_[a[2][name], b[2][name]]
        known = np.r_[a[0][name], b[0][name]]
        correct = np.r_[a[1], b[1]]
        carry[name] = {
            "east_asian_fpir": round(float(np.mean(unknown >= t)), 4),
            "east_asian_tpir": round(float(np.mean(correct & (known >= t))), 4),
            "east_asian_strangers": len(unknown),
        }
    report["lfw_threshold_on_east_asian"] = carry
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), indent=1))
