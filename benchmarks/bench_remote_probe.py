"""Probing a dataset in an object store vs on local disk, per number of GETs in flight.

    python benchmarks/bench_remote_probe.py [--subjects 480] [--size tiny] [--repeats 3]
        [--workers N] [--concurrency 1,4,8,16,32] [--latency-ms 0]

Writes the sample (``--subjects`` x 5 photos), starts moto's S3 server in a process of its own
on loopback, uploads the sample to a bucket, then times a cold probe (no cache) of the local
folder and of its URL at each concurrency, rounds interleaved (local, then each concurrency, in
every round). Prints the median of each and its ratio to the local probe of the same rounds.
The server is local, so without ``--latency-ms`` this measures our overhead (listing, GETs, the
thread pool feeding the decode); ``--latency-ms`` puts a proxy in front of the server that holds
each request that long, as a store across a network does (its first byte comes that much later).
This is a benchmark, not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from norwoodkit import dataset, probe, sample, storage
from norwoodkit.probe import remote


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    """moto's S3 server in its own process; returns once it answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto's server did not start")


def start_proxy(target: int, latency: float) -> int:
    """A loopback TCP proxy to ``target`` that holds each request ``latency`` seconds; its port."""
    loop = asyncio.new_event_loop()

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
        try:
            while data := await src.read(1 << 16):
                if delay:
                    await asyncio.sleep(delay)
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(client_r, server_w, latency), pipe(server_r, client_w, 0))

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = int(server.sockets[0].getsockname()[1])
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return port


def timed(root: Path | storage.Location, workers: int | None) -> float:
    """Seconds for load + cold probe (no cache) of ``root``."""
    t0 = time.perf_counter()
    probe.run(dataset.load(root), use_cache=False, workers=workers)
    return time.perf_counter() - t0


def main() -> None:
    """Run the rounds and print the medians and ratios."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--subjects", type=int, default=480)
    ap.add_argument("--size", default="tiny", help="sample image size (tiny/small/medium/WxH)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="probe processes (default: cores)")
    ap.add_argument("--concurrency", default="1,4,8,16,32")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="added to each request")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nk-bench-remote")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    root = args.work / f"sample-{args.subjects}-{args.size}"
    if not (root / "annotation.json").is_file():
        sample.write(root, sample.SampleOptions(subjects=args.subjects, size=args.size, seed=1))
    port = free_port()
    server = start_server(port)
    if args.latency_ms:
        port = start_proxy(port, args.latency_ms / 1000)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        where = storage.locate("s3://nk-bench/sample", parameter="root")
        where.fs.mkdir("nk-bench")
        where.fs.put(f"{root}/", f"{where.path}/", recursive=True)
        local: list[float] = []
        store: dict[int, list[float]] = {c: [] for c in levels}
        for _ in range(args.repeats):
            local.append(timed(root, args.workers))
            for c in levels:
                remote.CONCURRENCY = c
                where.fs.invalidate_cache()  # each run lists the prefix again
                store[c].append(timed(where, args.workers))
    finally:
        server.terminate()
        server.wait()
    images = args.subjects * 5
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {images} images")
    print(f"added latency per request: {args.latency_ms:g} ms")
    print(f"command: {' '.join(sys.argv)}")
    base = statistics.median(local)
    print(f"local disk: {base:.2f} s (median of {args.repeats}), {images / base:.0f} images/s")
    print("GETs in flight | median s | images/s | ratio to local disk")
    for c in levels:
        m = statistics.median(store[c])
        print(f"{c:>14} | {m:8.2f} | {images / m:8.0f} | {m / base:.2f}x")


if __name__ == "__main__":
    main()
