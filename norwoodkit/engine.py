"""Which engine runs the expensive passes: this machine's processes, or a Ray cluster.

``local`` (the default) runs the probe, pack's re-encodes and the Hamming search in this
machine's worker processes (``parallel.py``). ``ray`` hands the same pure functions to Ray Data
or Ray tasks on a cluster (``--ray-address``, else ``RAY_ADDRESS``, else a local instance); the
output is byte-identical. Ray is the ``ray`` extra, imported only here and only when asked for.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from types import ModuleType

from norwoodkit.errors import NorwoodkitError, ParameterError

__all__ = ["Engine", "EngineChoice", "RayMissingError", "RayUnreachableError", "connect"]


class Engine(enum.StrEnum):
    """Where the expensive passes run."""

    local = "local"
    ray = "ray"


@dataclass(frozen=True)
class EngineChoice:
    """An engine and, for Ray, the cluster address (None: ``RAY_ADDRESS``, else a local one)."""

    engine: Engine = Engine.local
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.ray_address is not None and self.engine is not Engine.ray:
            raise ParameterError("ray_address", "is used only with engine ray (--engine ray)")


class RayMissingError(ParameterError):
    """``--engine ray`` without Ray installed."""

    def __init__(self) -> None:
        super().__init__(
            "engine",
            "ray needs the ray extra; install it with: pip install 'norwoodkit[ray]'",
        )


class RayUnreachableError(NorwoodkitError):
    """The Ray cluster at the address given cannot be reached (exit 2)."""


def connect(choice: EngineChoice) -> ModuleType:
    """The ``ray`` module, connected to ``choice``'s cluster (or a local one); idempotent.

    Raises:
        RayMissingError: Ray is not installed.
        RayUnreachableError: the address names no cluster that answers.
    """
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError() from exc
    if ray.is_initialized():
        return ray
    address = choice.ray_address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = address or "a local instance"
        raise RayUnreachableError(
            f"ray: could not reach the Ray cluster at {where} ({type(exc).__name__}); check "
            "--ray-address or RAY_ADDRESS (ray://host:10001 or host:6379), or leave both unset "
            "to start a local instance",
            code="ray-unreachable",
        ) from exc
    return ray
