"""PyTorch, imported in one place: without it, ``TorchMissingError`` names the ``torch`` extra.

Every loader module that needs torch takes it from here, so a missing install fails the same
way whichever loader name is imported first. Torch-free modules (``partition``, ``shards``,
``state``, ``options``, ``badimage``) never import this one.
"""

from __future__ import annotations

from norwoodkit.errors import NorwoodkitError

__all__ = [
    "IterableDataset",
    "TorchDataset",
    "TorchMissingError",
    "default_collate",
    "get_worker_info",
    "torch",
]


class TorchMissingError(NorwoodkitError, ImportError):
    """PyTorch is not installed (``norwoodkit.loader`` needs the ``torch`` extra)."""


try:
    import torch
    from torch.utils.data import Dataset as TorchDataset
    from torch.utils.data import IterableDataset, default_collate, get_worker_info
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise TorchMissingError(
        f"norwoodkit.loader needs PyTorch ({_exc}); install it with: "
        "pip install 'norwoodkit[torch]'",
        code="torch-missing",
    ) from _exc
