"""A realistic synthetic dataset in the vendor's layout, optionally with every defect planted.

Layout (as the vendor delivers): ``OUT/annotation.json`` and ``OUT/<id>/{Front,Top-Down,Back,
Left,Right}.jpg``. The annotation is a list of records shaped like the vendor's CSV rows (every
value a string, view paths starting with '/'). ``defects=True`` plants one instance of every
problem ``validate`` checks for and lists them in ``OUT/defects.json``; ``OUT/sample.json``
records how the sample was made. Same options and seed, same bytes.

Modules: ``options`` (``SampleOptions``, sizes), ``people`` (who is in the sample), ``photos``
(the clean photos, kept apart by phash), ``defects`` (the planted defects), ``folder``
(``write``), and the renderer: ``render`` (heads), ``hair`` (coverage by stage), ``scene``
(wall, composition, developing) and ``fields`` (textures and random fields).
"""

from __future__ import annotations

from norwoodkit.sample.defects import SAME_TIER_BITS
from norwoodkit.sample.folder import SampleResult, write
from norwoodkit.sample.options import MIN_SUBJECTS_WITH_DEFECTS, SIZES, SampleOptions, parse_size
from norwoodkit.sample.people import ETHNICITIES, ROTATED_SHARE, STAGE_SHARES
from norwoodkit.sample.photos import MAX_ATTEMPTS, MIN_PHASH_DISTANCE, Rendered

__all__ = [
    "ETHNICITIES",
    "MAX_ATTEMPTS",
    "MIN_PHASH_DISTANCE",
    "MIN_SUBJECTS_WITH_DEFECTS",
    "ROTATED_SHARE",
    "SAME_TIER_BITS",
    "SIZES",
    "STAGE_SHARES",
    "Rendered",
    "SampleOptions",
    "SampleResult",
    "parse_size",
    "write",
]
