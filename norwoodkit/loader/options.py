"""The loader's options: their types and defaults, and the checks that name a bad value.

Torch-free, so the pure parts of the loader (``partition``) can share the vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

from norwoodkit.errors import ParameterError

__all__ = [
    "DEFAULT_SIZE",
    "BadImage",
    "Decode",
    "Sample",
    "Uneven",
    "check_choice",
    "check_options",
    "check_output",
    "parse_size",
]

DEFAULT_SIZE = (224, 224)

Sample = tuple[Any, int, dict[str, Any]]
Uneven = Literal["pad", "drop"]
BadImage = Literal["raise", "skip"]
Decode = Literal["cpu", "cuda"]

# the Literal each option's value must be one of, read from the types above
_CHOICES: dict[str, tuple[str, ...]] = {
    "uneven": get_args(Uneven),
    "decode": get_args(Decode),
    "on_bad_image": get_args(BadImage),
}


def check_choice(parameter: str, value: str) -> None:
    """Refuse a value that is not one of the option's choices, naming the parameter."""
    allowed = _CHOICES[parameter]
    if value not in allowed:
        raise ParameterError(
            parameter, f"{value!r} is not a choice; use one of {', '.join(map(repr, allowed))}"
        )


def check_options(*, uneven: str, decode: str, on_bad_image: str, seed: int, buffer: int) -> None:
    """Check ``ShardDataset``'s scalar options before any file is opened."""
    check_choice("uneven", uneven)
    check_choice("decode", decode)
    check_choice("on_bad_image", on_bad_image)
    if seed < 0:
        raise ParameterError("seed", f"{seed} is negative; use a seed >= 0")
    if buffer < 0:
        raise ParameterError("shuffle_buffer", f"{buffer} is negative; use 0 or more samples")


def parse_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``size`` as ``(height, width)``: one int is a square; None keeps the full image."""
    if size is None:
        return None
    hw = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(hw) != 2 or min(hw) < 1:
        raise ParameterError(
            "size", f"{size!r} is not a size; give (height, width) in pixels, or one int"
        )
    return (hw[0], hw[1])


def check_output(
    size: tuple[int, int] | None, *, transform: bool, decode: Decode, layout: str
) -> None:
    """Refuse an output size and transform that cannot make the samples asked for."""
    if decode == "cuda" and size is None:
        raise ParameterError(
            "size", "None does not work with decode='cuda': the batch is resized on the GPU"
        )
    if decode == "cuda" and transform:
        raise ParameterError(
            "transform", "decode='cuda' takes no transform: apply it to the GPU batch"
        )
    if layout == "subject" and size is None and not transform:
        raise ParameterError(
            "size", "subject-layout shards stack five views: give size=(H, W) or a transform"
        )
