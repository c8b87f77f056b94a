"""Which engine runs the expensive passes: this machine's processes, or a Ray cluster.

``local`` (the default) runs the probe, pack's re-encodes and the Hamming search in this
machine's worker processes (``parallel.py``). ``ray`` hands the same pure functions to Ray Data
or Ray tasks on a cluster (``--ray-address``, else ``RAY_ADDRESS``, else a local instance); the
output is byte-identical. Ray is the ``ray`` extra, imported only here and only when asked for.
"""

from __future__ import annotations

import enum
import os
import socket
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


#: Seconds to wait for a Ray cluster's address to answer before giving up.
CONNECT_TIMEOUT_S = 5


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
    if address is not None and address not in ("auto", "local"):
        _answers(address)
        # Ray's own defaults retry a silent address for minutes (20 tries of 30 s each);
        # a user who set these keeps theirs.
        os.environ.setdefault("RAY_py_gcs_connect_timeout_s", str(CONNECT_TIMEOUT_S))
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "2")
    try:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise _unreachable(address, exc) from exc
    return ray


def _unreachable(address: str | None, exc: BaseException) -> RayUnreachableError:
    """The error for a cluster that did not answer, with Ray's own first line (never long)."""
    where = address or "a local instance"
    said = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return RayUnreachableError(
        f"ray: could not reach the Ray cluster at {where} ({said}); check --ray-address or "
        "RAY_ADDRESS (ray://host:10001 or host:6379), or leave both unset to start a local "
        "instance",
        code="ray-unreachable",
    )


def _answers(address: str) -> None:
    """Fail within seconds when nothing listens at ``address`` (Ray itself waits minutes).

    Raises:
        RayUnreachableError: the host does not resolve or its port refuses or ignores us.
    """
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # a form Ray knows and we do not parse: Ray judges it
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as exc:
        raise _unreachable(address, exc) from exc
