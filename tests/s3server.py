"""An S3-compatible server for the tests: moto's threaded server on a free loopback port.

``s3_server`` (session) starts it once; ``s3`` (per test) points the standard AWS environment
(``AWS_ENDPOINT_URL``, dummy keys, region) at it, so s3fs, and the CLI in a subprocess, reach it
the way they reach any S3 store, and gives an empty bucket of the test's own. conftest.py
registers both fixtures for every test module.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

_COUNTER = itertools.count()


@dataclass(frozen=True)
class S3:
    """The running server and this test's bucket."""

    endpoint: str
    bucket: str

    def url(self, *parts: str) -> str:
        """``s3://<bucket>/<parts...>``."""
        rel = "/".join(p.strip("/") for p in parts if p)
        return f"s3://{self.bucket}/{rel}" if rel else f"s3://{self.bucket}"

    def env(self) -> dict[str, str]:
        """The environment a subprocess needs to reach the server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, a free port; yields its endpoint URL."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """The standard AWS environment pointed at the server, and a new empty bucket."""
    import fsspec

    found = S3(s3_server, f"nk-test-{next(_COUNTER)}")
    for key, value in found.env().items():
        monkeypatch.setenv(key, value)
    fsspec.AbstractFileSystem.clear_instance_cache()
    fs = fsspec.filesystem("s3")
    fs.mkdir(found.bucket)
    yield found
    fsspec.AbstractFileSystem.clear_instance_cache()
