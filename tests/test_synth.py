"""Tests for the synthetic head-photo renderer (norwoodkit.sample.render)."""

from __future__ import annotations

import io
from itertools import combinations

import imagehash
import numpy as np
import pytest
from PIL import Image

from norwoodkit.dedupe import hamming
from norwoodkit.sample.render import VIEWS, SubjectTraits, random_traits, render_view


def _traits(seed: int) -> SubjectTraits:
    return random_traits(np.random.default_rng([seed, 0]))


def _render(seed: int, stage: int, view: str, size: tuple[int, int]) -> Image.Image:
    return render_view(
        np.random.default_rng([seed, 1]), stage, view, size, subject_traits=_traits(seed)
    )


def _phash(im: Image.Image) -> str:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    buf.seek(0)
    with Image.open(buf) as jpeg:
        jpeg.draft("L", (256, 256))
        gray = jpeg.convert("L")
    return str(imagehash.phash(gray, hash_size=8))


def test_same_seed_gives_identical_pixels() -> None:
    a = _render(3, 4, "top", (320, 240))
    b = _render(3, 4, "top", (320, 240))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    c = _render(4, 4, "top", (320, 240))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (97, 61)])
def test_output_size_and_mode(size: tuple[int, int]) -> None:
    im = _render(1, 2, "front", size)
    assert im.size == size
    assert im.mode == "RGB"


def test_every_view_and_stage_renders() -> None:
    for stage in range(1, 8):
        for view in VIEWS:
            im = _render(stage, stage, view, (96, 72))
            arr = np.asarray(im)
            assert arr.shape == (72, 96, 3)
            assert arr.std() > 5.0  # a picture, not a flat fill


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="view"):
        _render(1, 1, "side", (64, 48))
    with pytest.raises(ValueError, match="stage"):
        _render(1, 8, "top", (64, 48))
    with pytest.raises(ValueError, match="size"):
        _render(1, 1, "top", (0, 48))


def test_higher_stage_shows_less_hair_from_the_top() -> None:
    # Same person and same rng stream: only the hair coverage differs between the two stages.
    for seed in range(4):
        traits = SubjectTraits(
            skin_rgb=(224, 176, 140),
            hair_rgb=(34, 26, 20),
            hair_density=0.9,
            head_aspect=1.25,
            shirt_rgb=(200, 200, 205),
            ear_scale=1.0,
            beard=0.0,
            pattern_offset=17 * seed,
        )
        counts = []
        for stage in (1, 4, 7):
            im = render_view(
                np.random.default_rng([seed, 9]), stage, "top", (320, 240), subject_traits=traits
            )
            dist = np.abs(np.asarray(im, dtype=np.int16) - np.array(traits.hair_rgb)).max(axis=2)
            counts.append(int((dist < 40).sum()))
        full, crown, horseshoe = counts
        # Dark backgrounds count too, but they are identical across stages, so compare losses.
        assert full > crown > horseshoe, (seed, counts)
        assert full - horseshoe > 0.05 * 320 * 240, (seed, counts)


def test_distinct_images_are_not_phash_near_duplicates() -> None:
    hashes = []
    for subject in range(20):
        traits = random_traits(np.random.default_rng([2024, subject]))
        rng = np.random.default_rng([2024, subject, 1])
        for view in VIEWS:
            im = render_view(rng, 1 + subject % 7, view, (320, 240), subject_traits=traits)
            hashes.append(_phash(im))
    distances = [hamming(a, b) for a, b in combinations(hashes, 2)]
    assert min(distances) > 10
