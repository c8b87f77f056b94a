"""How to make a sample: ``SampleOptions``, checked when made, and the photo sizes it accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from norwoodkit.errors import ParameterError

#: Named sizes (landscape width, height) for ``size``; any ``WxH`` works too.
SIZES: dict[str, tuple[int, int]] = {
    "tiny": (320, 240),
    "small": (640, 480),
    "medium": (1600, 1200),
    "large": (4000, 3000),
    "12mp": (4000, 3000),
}
#: The largest seed (it goes into numpy seed lists of unsigned machine integers).
MAX_SEED = 2**32 - 1

#: The most people a sample may have.
MAX_SUBJECTS = 1_000_000

#: Planting every defect takes this many subjects (one subject per planted defect).
MIN_SUBJECTS_WITH_DEFECTS = 50


def parse_size(size: str) -> tuple[int, int]:
    """``small`` / ``large`` / ``1024x768`` -> (width, height); raises ParameterError otherwise."""
    if size.lower() in SIZES:
        return SIZES[size.lower()]
    m = re.fullmatch(r"(\d+)[xX](\d+)", size.strip())
    if m and 32 <= int(m.group(1)) <= 20000 and 32 <= int(m.group(2)) <= 20000:
        return int(m.group(1)), int(m.group(2))
    raise ParameterError(
        "size",
        f"{size!r} is not a size; use one of {', '.join(SIZES)} or WIDTHxHEIGHT with "
        "sides from 32 to 20000, e.g. 1024x768",
    )


@dataclass(frozen=True)
class SampleOptions:
    """How to make a sample.

    Attributes:
        subjects: number of people (five photos each).
        seed: same seed and options, byte-identical output; 0 or more.
        size: a name from ``SIZES`` or ``WxH``; each subject's photos vary by up to 12 % around it.
        quality: JPEG quality, 1..100.
        defects: plant every defect ``validate`` checks for and write ``defects.json`` (needs
            ``MIN_SUBJECTS_WITH_DEFECTS`` subjects or more).
        workers: processes rendering images; None: one per CPU core.

    Raises:
        ParameterError: a value ``write`` cannot use, named by its attribute.
    """

    subjects: int = 480
    seed: int = 0
    size: str = "small"
    quality: int = 90
    defects: bool = False
    workers: int | None = None

    def __post_init__(self) -> None:
        parse_size(self.size)
        if self.subjects < 1:
            raise ParameterError("subjects", f"{self.subjects} is too few; use 1 or more")
        if self.subjects > MAX_SUBJECTS:
            # Who is in the sample is planned up front: an absurd count would fill memory first.
            raise ParameterError(
                "subjects", f"{self.subjects} is too many; use at most {MAX_SUBJECTS:,}"
            )
        if self.defects and self.subjects < MIN_SUBJECTS_WITH_DEFECTS:
            raise ParameterError(
                "subjects",
                f"{self.subjects} is too few to plant the defects: that takes "
                f"{MIN_SUBJECTS_WITH_DEFECTS} or more (one subject per planted defect)",
            )
        if not 1 <= self.quality <= 100:
            raise ParameterError("quality", f"{self.quality} is outside 1..100; use e.g. 90")
        if self.seed < 0:
            # numpy seeds its generators from non-negative integers only.
            raise ParameterError("seed", f"{self.seed} is negative; use 0 or more")
        if self.seed > MAX_SEED:
            # The generators are seeded with lists such as [seed, index], which numpy reads as
            # an array of unsigned machine integers: a huge seed does not fit.
            raise ParameterError("seed", f"{self.seed} is too large; use 0 to {MAX_SEED}")
