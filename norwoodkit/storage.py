"""Where a file or folder lives: a local path, or a URL read and written through fsspec.

A local path (or ``file://`` URL) stays a :class:`pathlib.Path` and takes every local safety
rule unchanged (``paths.guard_output``, the guarded reads). Anything with another scheme
(``s3://``, ``gs://``, ``az://``, ``memory://``...) becomes a :class:`Location`: the URL, the
fsspec filesystem that serves it and the path within that filesystem. Credentials are the
store's own business: fsspec's backends read the standard environment and config files of each
store (``AWS_*``/``~/.aws`` for S3, ``GOOGLE_APPLICATION_CREDENTIALS`` for GCS); norwoodkit never
takes a secret as an option and never prints one.

This module is the one place that turns text into a place, names the package a missing backend
needs, and turns a store's exception into a message naming the URL and the permission it lacks
(:func:`storage_error`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from norwoodkit.errors import InputError, NorwoodkitError, OutputError, ParameterError

if TYPE_CHECKING:  # fsspec is imported only when a URL is used
    from fsspec import AbstractFileSystem

__all__ = [
    "BACKEND_PACKAGES",
    "Action",
    "BackendMissingError",
    "Location",
    "StorageError",
    "is_url",
    "locate",
    "place",
    "storage_error",
]

#: The package that serves each URL scheme, named in the message when it is missing.
BACKEND_PACKAGES: dict[str, str] = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "adl": "adlfs",
    "http": "aiohttp",
    "https": "aiohttp",
    "hf": "huggingface_hub",
}

#: What a command was doing with a place, for the permission a refusal names.
Action = Literal["read", "list", "write", "delete"]

#: The permission each action needs, per store family (named in refusals; S3's IAM names).
_PERMISSIONS: dict[str, dict[Action, str]] = {
    "s3": {
        "read": "s3:GetObject",
        "list": "s3:ListBucket",
        "write": "s3:PutObject",
        "delete": "s3:DeleteObject",
    },
    "gs": {
        "read": "storage.objects.get",
        "list": "storage.objects.list",
        "write": "storage.objects.create",
        "delete": "storage.objects.delete",
    },
}
_FAMILY = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs"}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


class StorageError(NorwoodkitError):
    """A store refused or could not serve a URL (exit 2); the message never holds a secret."""


class BackendMissingError(StorageError, ParameterError):
    """A URL whose scheme needs an fsspec backend that is not installed."""

    def __init__(self, parameter: str, url: str, package: str) -> None:
        ParameterError.__init__(
            self,
            parameter,
            f"{url}: reading or writing {_scheme(url)}:// URLs needs the package {package!r}; "
            f"install it with: pip install {package}",
        )


def _scheme(text: str) -> str:
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else ""


def is_url(text: str | os.PathLike[str]) -> bool:
    """True for ``scheme://...`` text other than ``file://`` (a Path is never a URL)."""
    if isinstance(text, os.PathLike):
        return False
    scheme = _scheme(text)
    return bool(scheme) and scheme not in ("file", "local")


@dataclass(frozen=True)
class Location:
    """A file or folder in an object store or other fsspec filesystem.

    Attributes:
        url: the URL as the user wrote it, without a trailing ``/``; what messages show.
        protocol: the scheme (``s3``, ``gs``, ``memory``...).
        path: the filesystem's own path (``bucket/key`` for S3), without a trailing ``/``.
        fs: the fsspec filesystem (not compared: two Locations are equal by URL).
    """

    url: str
    protocol: str
    path: str
    fs: AbstractFileSystem = field(compare=False, repr=False)

    def join(self, *parts: str) -> Location:
        """The place ``parts`` (POSIX, relative) below this one."""
        rel = "/".join(p.strip("/") for p in parts if p.strip("/"))
        if not rel:
            return self
        return Location(f"{self.url}/{rel}", self.protocol, f"{self.path}/{rel}", self.fs)

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        """The last part's extension with its dot (``.json``), or "" (as ``Path.suffix``)."""
        stem, dot, ext = self.name.rpartition(".")
        return f".{ext}" if dot and stem else ""

    def permission(self, action: Action) -> str:
        """The store's name for the permission ``action`` needs (``s3:GetObject``...)."""
        family = _FAMILY.get(self.protocol, "")
        return _PERMISSIONS.get(family, {}).get(action, f"{action} access")

    def under(self, other: Location) -> bool:
        """True when this place is ``other`` or lies below it, on the same store."""
        if self.protocol != other.protocol:
            return False
        return self.path == other.path or self.path.startswith(other.path.rstrip("/") + "/")

    def __str__(self) -> str:
        return self.url


def locate(text: str, *, parameter: str) -> Location:
    """``text`` (a URL, see :func:`is_url`) as a :class:`Location`.

    Raises:
        BackendMissingError: the scheme's fsspec backend is not installed (names the package).
        ParameterError: fsspec does not know the scheme, or the URL has no path.
    """
    import fsspec
    from fsspec.registry import known_implementations

    url = text.rstrip("/")
    scheme = _scheme(url)
    if scheme not in known_implementations and scheme not in fsspec.registry:
        raise ParameterError(
            parameter,
            f"{text}: no filesystem serves {scheme}:// URLs; use a local path or one of "
            "s3://, gs://, az:// (with its fsspec package installed)",
        )
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        package = BACKEND_PACKAGES.get(scheme) or _package_from(exc) or f"the {scheme} backend"
        raise BackendMissingError(parameter, text, package) from exc
    except (ValueError, TypeError) as exc:
        raise ParameterError(parameter, f"{text}: not a usable URL ({exc})") from exc
    path = str(path).rstrip("/")
    if not path:
        raise ParameterError(
            parameter, f"{text}: name a bucket and a folder, e.g. s3://bucket/data"
        )
    return Location(url, scheme, path, fs)


def _package_from(exc: ImportError) -> str | None:
    return exc.name.split(".")[0] if exc.name else None


def place(text: str | os.PathLike[str], *, parameter: str) -> Path | Location:
    """A local :class:`Path` (``file://`` URLs included), or a :class:`Location` for a URL."""
    if isinstance(text, os.PathLike):
        return Path(text)
    if is_url(text):
        return locate(text, parameter=parameter)
    if _scheme(text) in ("file", "local"):
        return Path(text.split("://", 1)[1])
    return Path(text)


#: Exception texts (botocore error codes, HTTP statuses) meaning the credentials were refused.
_DENIED = (
    "AccessDenied",
    "Forbidden",
    "403",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
    "Unauthorized",
    "401",
    "NoCredentialsError",
    "Unable to locate credentials",
)
_MISSING_BUCKET = ("NoSuchBucket", "bucket does not exist")


def storage_error(exc: BaseException, where: Location, action: Action) -> NorwoodkitError:
    """The store's ``exc`` while doing ``action`` at ``where``, as an error naming the URL.

    A refusal names the permission the action needs; a missing bucket or object says so. The
    store's own text is not repeated (it can hold a request signature), only its error code.
    """
    text = f"{type(exc).__name__} {exc}"
    kind = OutputError if action in ("write", "delete") else InputError
    if any(word in text for word in _DENIED) or isinstance(exc, PermissionError):
        return StorageError(
            f"{where.url}: the store refused to {action} it; the credentials in use need the "
            f"{where.permission(action)} permission on it (set them the store's standard way, "
            "e.g. AWS_PROFILE or AWS_ACCESS_KEY_ID for S3; norwoodkit takes no secret)",
            code="storage-denied",
        )
    if any(word in text for word in _MISSING_BUCKET):
        bucket = where.path.split("/", 1)[0]
        return kind(
            f"{where.url}: the bucket {bucket!r} does not exist or is not visible to these "
            "credentials; check the URL's bucket name",
            code="storage-missing",
        )
    if isinstance(exc, FileNotFoundError):
        return kind(f"{where.url}: no such object or folder; check the URL", code="storage-missing")
    return StorageError(
        f"{where.url}: could not {action} it ({type(exc).__name__}); check the URL and that the "
        "store is reachable",
        code="storage-failed",
    )
