"""Who is in a sample: each person's stage, age, ethnicity, photo size and rotated views, drawn
from the seed, and the annotation record the vendor would write for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from norwoodkit.labels import VENDOR_FILENAMES, VIEWS
from norwoodkit.sample.options import SampleOptions, parse_size

#: Stage shares: imbalanced like clinical collections (early and middle stages most common).
STAGE_SHARES = (0.13, 0.20, 0.22, 0.17, 0.12, 0.09, 0.07)
ETHNICITIES = (
    ("Caucasians", 0.46),
    ("Asians", 0.22),
    ("Africans", 0.14),
    ("Hispanics", 0.12),
    ("Middle Eastern", 0.06),
)
#: Share of images stored rotated with an EXIF orientation tag, as phones do.
ROTATED_SHARE = 0.06


@dataclass(frozen=True)
class Subject:
    """One person of the sample."""

    sid: str
    stage: int
    age: int
    ethnicity: str
    size: tuple[int, int]
    rotations: tuple[int, ...]  # EXIF orientation per view (1 = upright)


def plan(opts: SampleOptions) -> list[Subject]:
    """Everyone in the sample, in subject order (the same for the same seed and size)."""
    rng = np.random.default_rng([opts.seed, 0xC0FFEE])
    base_w, base_h = parse_size(opts.size)
    names = [e for e, _ in ETHNICITIES]
    shares = np.array([s for _, s in ETHNICITIES])
    out = []
    for i in range(1, opts.subjects + 1):
        stage = int(rng.choice(7, p=STAGE_SHARES)) + 1
        # Older men reach higher stages; the mean age over all stages lands near the card's 45.
        age = int(np.clip(round(rng.normal(33 + 3.5 * stage, 11)), 18, 80))
        eth = names[int(rng.choice(len(names), p=shares / shares.sum()))]
        scale = float(rng.uniform(0.88, 1.12))
        w, h = max(32, round(base_w * scale)), max(32, round(base_h * scale))
        if rng.random() < 0.3:
            w, h = h, w  # a portrait phone
        rotations = tuple(6 if rng.random() < ROTATED_SHARE else 1 for _ in VIEWS)
        out.append(Subject(str(i), stage, age, eth, (w, h), rotations))
    return out


def record(s: Subject) -> dict[str, Any]:
    """The person's annotation record, shaped like the vendor's CSV rows (every value a string)."""
    rec: dict[str, Any] = {
        "id": s.sid,
        "gender": "male",
        "age": str(s.age),
        "ethnicity": s.ethnicity,
        "label": f"Stage {s.stage}",
    }
    for view in VIEWS:
        rec[VENDOR_FILENAMES[view].removesuffix(".jpg")] = f"/{s.sid}/{VENDOR_FILENAMES[view]}"
    return rec
