"""Load test: ``flash serve`` under 64 concurrent clients sending good and bad images mixed.

A real ``flash serve`` (uvicorn) runs a tiny image classifier in a subprocess; clients are asyncio tasks with one
httpx connection pool, one PNG per request, and every ``--bad-every``-th request bad (a file that is not an image,
or an empty one: 415 / 422). Three phases:

1. **capacity**: ``--clients`` clients send back to back (a closed loop): requests/s at saturation.
2. **half capacity**: arrivals at ``--load`` x capacity (Poisson, or evenly spaced with ``--arrivals uniform``),
   at most ``--clients`` outstanding; latency from each request's scheduled arrival to its answer: p50, p99 and
   p99/p50 of the good (200) answers (goal: <= 2).
3. **overload**: a second server with a small ``--max-queue`` under the closed loop: the requests that do not fit
   are answered 503 with ``Retry-After`` at once, and none times out.

Every phase counts answers by status: sent == answered (no request lost), and a request without an answer is
counted as ``timeout`` or ``error:<type>``. ``--baseline`` runs phases 1-2 against the hand-written FastAPI
endpoint of ``serve_throughput.py`` too (a model call per request, no queue).

    python benchmarks/serve_load.py                 # 64 clients, 1500 requests a phase
    python benchmarks/serve_load.py --baseline      # and the hand-written endpoint beside it
    python benchmarks/serve_load.py --quick         # 16 clients, few requests: checks the counts, not the speed
    python benchmarks/serve_load.py --json out.json # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_json_argument, write_json  # noqa: E402 - beside this script
from serve_throughput import REPO, _free_port, _make_checkpoint  # noqa: E402 - a script beside this one


class Server:
    """A server in a subprocess, its output in a file (a pipe nobody reads would fill and stall it)."""

    def __init__(self, command: list[str], folder: Path, name: str, *, threads: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / f"{name}.log", "w+")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "OMP_NUM_THREADS": str(threads),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, *command, str(self.port)], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait(self) -> Server:
        import httpx

        for _ in range(3000):  # up to ~10 minutes on a very busy machine
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def cpu_seconds(self) -> float | None:
        """The server process's CPU time so far (user + system; Linux's /proc), None where unknown."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def health(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/health", timeout=30).json()

    def stop(self) -> list[str]:
        """Stop it; the warnings and errors it logged (uvicorn's, and tracebacks)."""
        self.process.terminate()
        self.process.wait(timeout=300)
        self.log.seek(0)
        lines = [line.rstrip() for line in self.log if line.startswith(("WARNING", "ERROR", "Traceback"))]
        self.log.close()
        return lines


def flash_server(checkpoint: str, folder: Path, name: str, *flags: str, threads: int) -> Server:
    return Server(["-m", "flash", "serve", "--checkpoint", checkpoint, *flags, "--port"], folder, name,
                  threads=threads)


def payload(i: int, images: list[bytes], bad_every: int) -> tuple[str, bytes, str]:
    """The ``i``-th request's file: a good PNG, or every ``bad_every``-th one bad (not an image, or empty)."""
    if bad_every and i % bad_every == bad_every - 1:
        return ("notes.png", b"not an image at all", "bad") if (i // bad_every) % 2 == 0 else ("empty.png", b"", "bad")
    return f"{i % len(images)}.png", images[i % len(images)], str(i % len(images))


async def _one(client, url: str, i: int, images: list[bytes], bad_every: int, start: float) -> dict:
    import httpx

    name, data, kind = payload(i, images, bad_every)
    try:
        response = await client.post(url, files={"files": (name, data, "image/png")})
    except httpx.TimeoutException:
        return {"status": "timeout", "kind": kind, "seconds": time.perf_counter() - start}
    except httpx.HTTPError as err:
        return {"status": f"error:{type(err).__name__}", "kind": kind, "seconds": time.perf_counter() - start}
    row = {"status": str(response.status_code), "kind": kind, "seconds": time.perf_counter() - start,
           "retry_after": response.headers.get("retry-after")}
    if response.status_code == 200:
        row["prediction"] = json.dumps(response.json()[0]["prediction"])
    return row


def _client(clients: int, timeout: float):
    import httpx

    # idle connections closed by the client before the server does (uvicorn: after 5 s): otherwise a request sent
    # on a connection the server is closing fails with ReadError, a client-side race, not a request the server lost
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    return httpx.AsyncClient(limits=limits, timeout=timeout)


async def closed_loop(url: str, images: list[bytes], *, clients: int, requests: int, bad_every: int,
                      timeout: float) -> tuple[list[dict], float]:
    """``clients`` tasks sending back to back until ``requests`` are sent; (one row per request, seconds)."""
    counter = iter(range(requests))
    rows: list[dict] = []

    async def client_task(client) -> None:
        for i in counter:
            rows.append(await _one(client, url, i, images, bad_every, time.perf_counter()))

    async with _client(clients, timeout) as client:
        start = time.perf_counter()
        await asyncio.gather(*(client_task(client) for _ in range(clients)))
        return rows, time.perf_counter() - start


async def open_loop(url: str, images: list[bytes], *, clients: int, requests: int, rate: float, bad_every: int,
                    timeout: float, arrivals: str, seed: int = 0) -> tuple[list[dict], float]:
    """Requests arriving at ``rate`` per second (at most ``clients`` outstanding); latency from the scheduled
    arrival, so a request that waited for a free client counts that wait too."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / rate, requests) if arrivals == "poisson" else np.full(requests, 1 / rate)
    schedule = np.cumsum(gaps) - gaps[0]
    free = asyncio.Semaphore(clients)

    async def arrival(client, i: int, at: float) -> dict:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        async with free:
            return await _one(client, url, i, images, bad_every, at)

    async with _client(clients, timeout) as client:
        start = time.perf_counter()
        rows = await asyncio.gather(*(arrival(client, i, start + t) for i, t in enumerate(schedule)))
        return list(rows), time.perf_counter() - start


def summary(rows: list[dict], seconds: float, *, sent: int) -> dict:
    """Counts by status, requests/s, and latency percentiles (ms) of the good answers and of all answers."""
    good = np.array([r["seconds"] for r in rows if r["status"] == "200"]) * 1000
    every = np.array([r["seconds"] for r in rows]) * 1000
    predictions: dict[str, set] = {}
    for row in rows:
        if "prediction" in row:
            predictions.setdefault(row["kind"], set()).add(row["prediction"])

    def pct(values: np.ndarray, q: float) -> float | None:
        return float(np.percentile(values, q)) if len(values) else None

    p50, p99 = pct(good, 50), pct(good, 99)
    return {
        "sent": sent, "answered": sum(1 for r in rows if r["status"].isdigit()),
        "status": dict(sorted(Counter(r["status"] for r in rows).items())),
        "bad_inputs_answered_4xx": all(r["status"][0] == "4" for r in rows if r["kind"] == "bad"),
        "rps": len(rows) / seconds, "seconds": seconds,
        "p50_ms": p50, "p99_ms": p99, "p99_over_p50": p99 / p50 if p50 and p99 else None,
        "all_p50_ms": pct(every, 50), "all_p99_ms": pct(every, 99),
        "answers_consistent": all(len(v) == 1 for v in predictions.values()),
        "retry_after": sorted({r["retry_after"] for r in rows if r["status"] == "503"}),
        "p50_503_ms": pct(np.array([r["seconds"] for r in rows if r["status"] == "503"]) * 1000, 50),
    }


def measured(server: Server, phase) -> tuple[list[dict], float, dict]:
    """Run ``phase()`` (a coroutine's factory); its rows and seconds, and the CPU milliseconds per request the
    server and this client spent (a busy machine stretches latencies, hardly the CPU a request costs)."""
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    rows, seconds = asyncio.run(phase())
    after = server.cpu_seconds()
    cpu = {"server_cpu_ms_per_request": None if after is None or server_cpu is None else
           1000 * (after - server_cpu) / len(rows),
           "client_cpu_ms_per_request": 1000 * (time.process_time() - client_cpu) / len(rows)}
    return rows, seconds, cpu


def load_phases(server: Server, images: list[bytes], args: argparse.Namespace) -> dict:
    """Capacity (closed loop), then ``args.load`` x that capacity (open loop)."""
    url, common = f"{server.url}/predict", {"clients": args.clients, "bad_every": args.bad_every,
                                            "timeout": args.timeout, "requests": args.requests}
    rows, seconds, cpu = measured(server, lambda: closed_loop(url, images, **common))
    capacity = {**summary(rows, seconds, sent=args.requests), **cpu}
    rate = args.load * capacity["rps"]
    rows, seconds, cpu = measured(server, lambda: open_loop(url, images, rate=rate, arrivals=args.arrivals, **common))
    return {"capacity": capacity, "half": {"rate": rate, "arrivals": args.arrivals,
                                           **summary(rows, seconds, sent=args.requests), **cpu}}


def run(args: argparse.Namespace) -> dict:
    """Start the servers, run the phases; the numbers as a dict (also printed)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint, images = _make_checkpoint(folder, backbone=args.backbone, image_size=args.image_size)
        overload_flags = ["--max-queue", str(args.overload_max_queue), *args.overload_flags]
        servers = {"flash serve": flash_server(checkpoint, folder, "flash", threads=args.threads),
                   "overload": flash_server(checkpoint, folder, "overload", *overload_flags, threads=args.threads)}
        if args.baseline:
            servers["hand-written"] = Server([str(REPO / "benchmarks" / "serve_throughput.py"), "--baseline-server",
                                              checkpoint], folder, "hand", threads=args.threads)
        result: dict = {"model": f"ImageClassifier({args.backbone!r}) at {args.image_size} px",
                        "clients": args.clients, "requests": args.requests, "bad_every": args.bad_every,
                        "threads": args.threads}
        try:
            for server in servers.values():
                server.wait()
            result["flash serve"] = load_phases(servers["flash serve"], images, args)
            rows, seconds, cpu = measured(servers["overload"], lambda: closed_loop(
                f"{servers['overload'].url}/predict", images, clients=args.clients, requests=args.requests,
                bad_every=args.bad_every, timeout=args.timeout))
            result["overload"] = {"flags": overload_flags, **summary(rows, seconds, sent=args.requests), **cpu,
                                  "health": {k: v for k, v in servers["overload"].health().items()
                                             if k in ("queue_depth", "max_queue", "rejected", "batches")}}
            if args.baseline:
                result["hand-written"] = load_phases(servers["hand-written"], images, args)
        finally:
            result["server_warnings"] = {name: server.stop()[-20:] for name, server in servers.items()}
    return result


def report(result: dict) -> None:
    print(f"model: {result['model']}; {result['clients']} clients, {result['requests']} requests a phase, "
          f"every {result['bad_every']}th bad; {result['threads']} torch thread(s) in each server; cpu ms: the "
          "server's CPU time per request")
    print(f"{'server':>13} {'phase':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99/p50':>7} {'cpu ms':>6} "
          "sent/answered statuses")
    for name in ("flash serve", "hand-written"):
        for phase in ("capacity", "half"):
            if name in result:
                row = result[name][phase]
                ratio = f"{row['p99_over_p50']:.2f}" if row["p99_over_p50"] else "-"
                print(f"{name:>13} {phase:>9} {row['rps']:>7.1f} {row['p50_ms'] or 0:>8.1f} {row['p99_ms'] or 0:>8.1f} "
                      f"{ratio:>7} {row['server_cpu_ms_per_request'] or 0:>6.1f} {row['sent']}/{row['answered']} "
                      f"{row['status']}")
    row = result["overload"]
    print(f"{'overload':>13} {' '.join(row['flags'])}: {row['rps']:.1f} req/s, {row['sent']}/{row['answered']} "
          f"{row['status']}; 503s answered in {row['p50_503_ms'] or 0:.1f} ms (p50), Retry-After {row['retry_after']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="16 clients, 96 requests a phase: checks the counts")
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (default 64; quick 16)")
    parser.add_argument("--requests", type=int, default=None, help="requests a phase (default 1500; quick 96)")
    parser.add_argument("--load", type=float, default=0.5, help="the open loop's rate as a fraction of capacity")
    parser.add_argument("--arrivals", choices=("poisson", "uniform"), default="poisson")
    parser.add_argument("--bad-every", type=int, default=8, help="every Nth request is a bad file (0: none)")
    parser.add_argument("--overload-max-queue", type=int, default=None, help="the overload server's --max-queue "
                        "(default 16; quick 4)")
    parser.add_argument("--backbone", default="test_resnet")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each server")
    parser.add_argument("--timeout", type=float, default=60.0, help="a client's timeout per request (s)")
    parser.add_argument("--baseline", action="store_true", help="also load the hand-written FastAPI endpoint")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    args.clients = args.clients or (16 if args.quick else 64)
    args.requests = args.requests or (96 if args.quick else 1500)
    args.overload_max_queue = args.overload_max_queue or (4 if args.quick else 16)
    # quick: a batch waits 200 ms for company, so the small queue is surely full while the clients send
    args.overload_flags = ["--max-batch-size", "8", "--max-wait-ms", "200"] if args.quick else []
    result = run(args)
    report(result)
    write_json(args.json, result)
    phases = [result["flash serve"]["capacity"], result["flash serve"]["half"], result["overload"]]
    return 0 if all(p["sent"] == p["answered"] for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
