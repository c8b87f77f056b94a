"""probe/quality.py: the quality measures, pure and through the probe's one decode and its cache."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from conftest import MakeDataset, jpeg_bytes, photo, png_bytes
from norwoodkit import dataset, probe
from norwoodkit.labels import View
from norwoodkit.probe import decode, quality

MEASURES = ("sharpness", "brightness", "dark_fraction", "bright_fraction", "entropy")


def rgb(levels: Any) -> np.ndarray:
    """An (h, w, 3) uint8 grey image from a 2-D array of levels."""
    grey = np.asarray(levels, dtype=np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def measured(pixels: np.ndarray, mode: str | None = None) -> dict[str, Any]:
    """``quality.measure`` of an RGB array: its luma, and all of it as the colour sample."""
    return quality.measure(quality.luma(pixels), pixels, mode)


def probed(tmp_path: Path, name: str, data: bytes) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    return probe.probe_file(str(path))


def encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


# --------------------------------------------------------------------------- pure measures


@given(
    width=st.integers(1, 700),
    height=st.integers(1, 700),
    step=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_colour_sample_is_every_nth_pixel(
    width: int, height: int, step: int, seed: int
) -> None:
    """The probe's colour sample, taken by Pillow, is exactly numpy's ``[::step, ::step]``."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    want = pixels[::step, ::step]
    got = decode.every_nth(image, step)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_checkerboard_sharpness_is_the_laplacian_variance() -> None:
    board = (np.indices((8, 8)).sum(axis=0) % 2) * 255
    value, note = quality.sharpness(quality.luma(rgb(board)))
    # Every interior Laplacian is +-4 * 255 with mean 0.
    assert value == pytest.approx((4 * 255) ** 2)
    assert "under the 256 px measuring side" in note


def test_blur_lowers_sharpness() -> None:
    sharp = photo(1, (256, 192))
    values = [
        measured(np.asarray(sharp.filter(ImageFilter.GaussianBlur(r))))["sharpness"]
        for r in (0, 1, 2, 4)
    ]
    assert values == sorted(values, reverse=True)
    assert values[-1] < values[0] / 10


def test_uniform_image_has_no_sharpness_and_says_so() -> None:
    m = measured(rgb(np.full((40, 300), 90)))
    assert math.isnan(m["sharpness"])
    assert m["quality_note"] == "uniform image: sharpness undefined"
    assert m["entropy"] == 0.0 and not math.copysign(1, m["entropy"]) < 0
    assert m["brightness"] == pytest.approx(90 / 255)
    assert m["grayscale"] is True


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (2, 300), (300, 1)])
def test_smaller_than_the_kernel_is_not_measured(shape: tuple[int, int]) -> None:
    m = measured(rgb(np.arange(shape[0] * shape[1]).reshape(shape) % 256))
    assert math.isnan(m["sharpness"])
    h, w = shape
    kernel = f"reduced decode {w}x{h} px is smaller than the 3x3 Laplacian kernel"
    assert m["quality_note"] == kernel
    assert 0 <= m["brightness"] <= 1 and 0 <= m["entropy"] <= 8


def test_clipping_levels_are_inclusive() -> None:
    levels = np.array([[0, 7, 8, 128, 247, 248, 255, 255]])
    dark, bright = quality.clipped_fractions(quality.histogram(levels))
    assert (dark, bright) == (2 / 8, 3 / 8)
    m = measured(rgb(levels))
    assert (m["dark_fraction"], m["bright_fraction"]) == (2 / 8, 3 / 8)


@pytest.mark.parametrize(
    ("levels", "bits"),
    [
        (np.zeros((4, 4), int), 0.0),
        (np.array([[0, 255], [0, 255]]), 1.0),
        (np.arange(256).reshape(16, 16), 8.0),
    ],
)
def test_entropy_in_bits(levels: np.ndarray, bits: float) -> None:
    assert quality.entropy(quality.histogram(levels)) == pytest.approx(bits)


def test_brightness_is_mean_luma_on_unit_scale() -> None:
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    # 0.299 * 255, rounded to a level as Pillow's "L" conversion rounds it
    assert quality.brightness(quality.histogram(quality.luma(red))) == pytest.approx(76 / 255)
    img = photo(3, (64, 48))  # the probe measures Pillow's "L": luma is the same within a level
    diff = quality.luma(np.asarray(img)).astype(int) - np.asarray(img.convert("L"))
    assert np.abs(diff).max() <= 1
    assert measured(rgb(np.full((4, 4), 255)))["brightness"] == pytest.approx(1.0)


def test_grayscale_tolerates_jpeg_chroma_noise_but_not_colour() -> None:
    rng = np.random.default_rng(0)
    grey = rgb(rng.integers(0, 256, (50, 50)))
    noisy = np.clip(grey.astype(int) + rng.integers(-4, 5, grey.shape), 0, 255).astype(np.uint8)
    assert quality.is_grayscale(noisy)
    tinted = noisy.copy()
    tinted[:10, :10, 0] = 255  # 4 % of the pixels are clearly red
    assert not quality.is_grayscale(tinted)
    assert quality.is_grayscale(tinted, "L")  # a grey mode has no colour whatever
    assert not quality.is_grayscale(np.asarray(photo(2)))


def test_not_measured_is_nan_with_the_reason() -> None:
    m = quality.not_measured("the image was not decoded (truncated)")
    assert set(m) == set(quality.QUALITY_COLUMNS)
    assert all(math.isnan(m[c]) for c in MEASURES) and m["grayscale"] is None
    assert m["quality_note"] == "not measured: the image was not decoded (truncated)"


@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
    st.sampled_from([None, "RGB", "L", "I;16", "CMYK"]),
)
def test_any_small_image_gives_values_in_range_or_a_reason(
    h: int, w: int, seed: int, mode: str | None
) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)
    m = measured(pixels, mode)
    assert 0 <= m["brightness"] <= 1
    assert 0 <= m["dark_fraction"] <= 1 and 0 <= m["bright_fraction"] <= 1
    assert 0 <= m["entropy"] <= 8
    assert isinstance(m["grayscale"], bool)
    if math.isnan(m["sharpness"]):
        assert "sharpness undefined" in m["quality_note"] or "kernel" in m["quality_note"]
    else:
        assert m["sharpness"] >= 0


# --------------------------------------------------------------------------- through the probe


def test_ok_photo_gets_every_measure(tmp_path: Path) -> None:
    r = probed(tmp_path, "a.jpg", jpeg_bytes(photo(1, (640, 480))))
    assert r["status"] == "ok" and r["quality_note"] == ""
    assert all(math.isfinite(r[c]) for c in MEASURES)
    assert r["grayscale"] is False
    assert 0.3 < r["brightness"] < 0.7 and r["entropy"] > 5


def test_same_photo_at_640_and_4000_px_has_comparable_sharpness(tmp_path: Path) -> None:
    """The measure sees both at 256 px: the stored resolution barely moves it."""
    big = photo(7, (500, 375)).resize((4000, 3000), Image.Resampling.BICUBIC)
    small = big.resize((640, 480), Image.Resampling.LANCZOS)
    a = probed(tmp_path, "big.jpg", jpeg_bytes(big))["sharpness"]
    b = probed(tmp_path, "small.jpg", jpeg_bytes(small))["sharpness"]
    assert 0.75 < a / b < 1.33, (a, b)
    blurred = small.filter(ImageFilter.GaussianBlur(4))
    assert probed(tmp_path, "blur.jpg", jpeg_bytes(blurred))["sharpness"] < b / 3


def test_uniform_jpeg(tmp_path: Path) -> None:
    r = probed(tmp_path, "u.jpg", jpeg_bytes(Image.new("RGB", (640, 480), (200, 200, 200))))
    assert r["status"] == "ok" and math.isnan(r["sharpness"])
    assert r["quality_note"] == "uniform image: sharpness undefined"
    assert r["entropy"] == 0.0 and r["grayscale"] is True


def test_one_pixel_png(tmp_path: Path) -> None:
    r = probed(tmp_path, "dot.png", png_bytes(Image.new("RGB", (1, 1), (250, 10, 10))))
    assert r["status"] == "ok" and math.isnan(r["sharpness"])
    assert r["quality_note"] == "reduced decode 1x1 px is smaller than the 3x3 Laplacian kernel"
    assert r["brightness"] == pytest.approx(round(0.299 * 250 + 0.587 * 10 + 0.114 * 10) / 255)
    assert r["grayscale"] is False


def test_reduced_decode_smaller_than_the_kernel(tmp_path: Path) -> None:
    """A 4000x10 strip reaches the measures as 256x1: no Laplacian fits, and the note says so."""
    strip = Image.fromarray(np.random.default_rng(3).integers(0, 256, (10, 4000, 3), np.uint8))
    r = probed(tmp_path, "strip.png", png_bytes(strip))
    assert r["status"] == "ok" and math.isnan(r["sharpness"])
    assert r["quality_note"] == "reduced decode 256x1 px is smaller than the 3x3 Laplacian kernel"
    r = probed(tmp_path, "tiny.jpg", jpeg_bytes(photo(3, (2, 2))))
    assert "reduced decode 2x2 px is smaller than the 3x3 Laplacian kernel" in r["quality_note"]


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 300 * 200).reshape(200, 300).astype(np.uint16)
    r = probed(tmp_path, "deep.png", encoded(Image.fromarray(ramp), "PNG"))
    assert r["status"] == "ok" and str(r["mode"]).startswith("I")
    assert r["quality_note"] == "16-bit image measured after scaling to 8 bits"
    # Clipping at 255 would make almost everything white; scaled, the ramp stays mid-grey.
    assert r["brightness"] == pytest.approx(0.5, abs=0.02)
    assert r["bright_fraction"] < 0.05 and r["entropy"] > 7
    assert r["grayscale"] is True and math.isfinite(r["sharpness"])


def test_cmyk_jpeg_is_converted_and_says_so(tmp_path: Path) -> None:
    img = photo(4, (400, 300))
    r = probed(tmp_path, "c.jpg", jpeg_bytes(img.convert("CMYK")))
    assert (r["status"], r["mode"]) == ("ok", "CMYK")
    assert r["quality_note"] == "CMYK converted to RGB before measuring"
    assert all(math.isfinite(r[c]) for c in MEASURES) and r["grayscale"] is False


def test_grey_jpeg_stored_as_rgb_is_grayscale(tmp_path: Path) -> None:
    r = probed(tmp_path, "g.jpg", jpeg_bytes(photo(5, (400, 300)).convert("L").convert("RGB")))
    assert (r["mode"], r["grayscale"]) == ("RGB", True)
    r = probed(tmp_path, "l.jpg", jpeg_bytes(photo(5, (400, 300)).convert("L")))
    assert (r["mode"], r["grayscale"]) == ("L", True)


@pytest.mark.parametrize("cut", ["truncated", "empty", "noise"])
def test_undecoded_image_is_not_measured_and_says_why(tmp_path: Path, cut: str) -> None:
    data = jpeg_bytes(photo(5, (400, 300)))
    content = {"truncated": data[: len(data) // 2], "empty": b"", "noise": b"\xff\xd8\xff" * 9}
    r = probed(tmp_path, "t.jpg", content[cut])
    assert r["status"] != "ok"
    assert all(math.isnan(r[c]) for c in MEASURES) and r["grayscale"] is None
    assert r["quality_note"] == f"not measured: the image was not decoded ({r['status']})"
    if cut == "truncated":
        assert r["status"] == "truncated"


def test_missing_file_is_not_measured(tmp_path: Path) -> None:
    r = probe.probe_file(str(tmp_path / "nothing.jpg"))
    assert r["status"] == "missing"
    assert r["quality_note"] == "not measured: the image was not decoded"


def test_measures_survive_the_cache(make_dataset: MakeDataset, tmp_path: Path) -> None:
    flat = jpeg_bytes(Image.new("RGB", (300, 200), (20, 20, 20)))
    root = make_dataset(2, corrupt={("1", View.TOP): flat, ("2", View.BACK): b"\xff\xd8\xff"})
    cache = tmp_path / "c"
    first = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    second = probe.run(dataset.load(root), cache_dir=cache, workers=1).table
    cols = ["path", *MEASURES, "grayscale", "quality_note"]
    assert first[cols].equals(second[cols])
    assert str(first["sharpness"].dtype) == "float64"
    assert str(first["grayscale"].dtype) == "boolean"
    notes = dict(zip(first["path"], first["quality_note"], strict=True))
    sharp = dict(zip(first["path"], first["sharpness"], strict=True))
    assert notes["1/Top-Down.jpg"] == "uniform image: sharpness undefined"
    assert str(notes["2/Back.jpg"]).startswith("not measured")
    # The fixture's photos are 96x72: measured, and marked as below the measuring side.
    assert "under the 256 px measuring side" in str(notes["1/Front.jpg"])
    assert math.isfinite(sharp["1/Front.jpg"])
