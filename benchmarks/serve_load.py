"""Latency and load against a real `mnistlab serve` process on 127.0.0.1.

    python benchmarks/serve_load.py RUN [--requests 2000] [--concurrency 16] [--bad-share 0.5]
    python benchmarks/serve_load.py RUN --hostile [--seconds 30] [--workers 1]
    python benchmarks/serve_load.py RUN --soak 20000 [--workers 1]
    python benchmarks/serve_load.py RUN --stalled 2000
    python benchmarks/serve_load.py RUN --throughput 3000 --pairs 2   # 1 worker vs 2, alternating

`--soak`: good /api/predict and /api/read requests (half each) at --concurrency; the server's memory is
sampled every 500 requests and compared after warm-up (the first 10%) with the end.
`--stalled`: that many connections send half a request header and stop, while /api/health is asked
every 50 ms; reports the health latency and how many stalled connections the server closed, when.
`--throughput`: the soak mix, a short run each with 1 and 2 workers, alternating, as requests/s.

`--hostile`: one attack after another, each by 16 clients without pause against a fresh server, while
one client asks /api/health every 50 ms and another sends a good /api/read every 250 ms: 40-Mpixel
PNGs to /api/read, a few-KB lossless WebP of 6600x6000 and a transparent 40-Mpixel PNG to
/api/predict, batches of 256 such WebPs to /api/predict/batch, connections that declare a body they
never send (held connections), random paths and methods (metric labels), 8 MB JSON bodies. Reports
per attack the health latency and failures, good reads answered, what the hostile requests got, the
server's peak memory (all its processes) and the size of /metrics after.

Prints p50/p99 single-image latency (sequential) and, under concurrency, the status counts of a mix of
good and bad requests; exits 1 if any request got a 5xx, a bad one was not 4xx, or the server died.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def request_mix(x_test: np.ndarray, n: int, bad_share: float, seed: int = 0):
    from PIL import Image

    rng = random.Random(seed)
    buf = io.BytesIO()
    Image.fromarray(255 - x_test[0]).save(buf, "PNG")
    png = buf.getvalue()
    good = [
        lambda i: ("json", {"json": {"pixels": x_test[i % len(x_test)].tolist()}}),
        lambda i: ("upload", {"files": {"file": ("d.png", png, "image/png")}}),
    ]
    bad = [
        lambda i: (
            "junk-bytes",
            {"files": {"file": ("x.png", bytes(rng.getrandbits(8) for _ in range(64)), "image/png")}},
        ),
        lambda i: ("truncated", {"files": {"file": ("x.png", png[: len(png) // 2], "image/png")}}),
        lambda i: ("empty", {"content": b""}),
        lambda i: ("bad-json", {"content": b"{oops", "headers": {"content-type": "application/json"}}),
        lambda i: ("wrong-shape", {"json": {"pixels": [[1, 2], [3, 4]]}}),
        lambda i: ("out-of-range", {"json": {"pixels": [[999] * 28] * 28}}),
        lambda i: ("oversize", {"content": b"0" * (9 * 1024 * 1024), "headers": {"content-type": "application/json"}}),
    ]
    mix = []
    for i in range(n):
        is_bad = rng.random() < bad_share
        kind, kwargs = rng.choice(bad if is_bad else good)(i)
        mix.append((is_bad, kind, kwargs))
    return mix


async def _load(url: str, mix, concurrency: int) -> dict:
    counts: dict[str, int] = {}
    problems = []
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(is_bad, kind, kwargs):
            async with sem:
                try:
                    res = await client.post("/api/predict", **kwargs)
                    status = res.status_code
                except httpx.HTTPError as exc:
                    status = f"error:{type(exc).__name__}"
            counts[str(status)] = counts.get(str(status), 0) + 1
            ok = (isinstance(status, int) and 400 <= status < 500) if is_bad else status == 200
            if not ok:
                problems.append((kind, status))

        start = time.perf_counter()
        await asyncio.gather(*(one(*m) for m in mix))
        elapsed = time.perf_counter() - start
        healthy = (await client.get("/api/health")).status_code == 200
    return {
        "requests": len(mix),
        "seconds": round(elapsed, 2),
        "status_counts": counts,
        "unexpected": len(problems),
        "examples": problems[:5],
        "healthy_after": healthy,
    }


def latency(url: str, x_test: np.ndarray, n: int = 300) -> dict:
    times = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(20):
            client.post("/api/predict", json={"pixels": x_test[i].tolist()})
        for i in range(n):
            body = {"pixels": x_test[i % len(x_test)].tolist()}
            start = time.perf_counter()
            assert client.post("/api/predict", json=body).status_code == 200
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "requests": n,
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))], 2),
    }


def run(run_path: str, requests: int, concurrency: int, bad_share: float) -> dict:
    from mnistlab.data.datasets import load_mnist
    from serving import running_server

    x_test = load_mnist(fetch=False).x_test[:500]
    with running_server(run_path) as url:
        lat = latency(url, x_test)
        load = asyncio.run(_load(url, request_mix(x_test, requests, bad_share), concurrency))
    return {"latency": lat, "load": load, "concurrency": concurrency}


def bomb_png() -> bytes:
    """A 6600x6000 picture that compresses to about 66 KB: a few marks on white."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (6600, 6000), 255)
    d = ImageDraw.Draw(img)
    for k in range(4):
        d.line([(1000 + 1200 * k, 2000), (1400 + 1200 * k, 4000)], fill=0, width=120)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def cpu_name() -> str:
    """The processor's model name (the same pairs gave different ratios on different CPUs)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _server_pids(port: int) -> list[int]:
    import subprocess

    out = subprocess.run(["pgrep", "-f", f"mnistlab.cli serve .*--port {port}"], capture_output=True, text=True)
    parents = [int(p) for p in out.stdout.split()]
    children = (
        subprocess.run(["pgrep", "-P", ",".join(map(str, parents))], capture_output=True, text=True)
        if parents
        else None
    )
    return parents + ([int(p) for p in children.stdout.split()] if children else [])


def bomb_webp() -> bytes:
    """A lossless WebP of 6600x6000 that is a few KB: one thin mark on white."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (6600, 6000), 255)
    ImageDraw.Draw(img).line([(3300, 2000), (3300, 4000)], fill=0, width=8)
    buf = io.BytesIO()
    img.save(buf, "WEBP", lossless=True, quality=100, method=6)
    return buf.getvalue()


def clear_png() -> bytes:
    """A transparent 6600x6000 PNG with one mark: flattening its alpha at full size took 10 GB."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (6600, 6000), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(3300, 2000), (3300, 4000)], fill=(0, 0, 0, 255), width=60)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _good_png() -> bytes:
    from PIL import Image

    from scenes import sheet

    buf = io.BytesIO()
    Image.fromarray(sheet(["2026"]).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


ATTACKS = (
    "read-png-bomb",
    "predict-webp-bomb",
    "predict-clear-png",
    "batch-webp-bombs",
    "held-connections",
    "label-flood",
    "big-json",
)


def _attack(name: str, files: dict):
    """One hostile client's next request, as a coroutine taking (client, url, port, rng)."""

    async def post(client, path, **kwargs):
        res = await client.post(path, **kwargs)
        return str(res.status_code)

    if name == "read-png-bomb":
        return lambda c, url, port, rng: post(c, "/api/read", files={"file": ("bomb.png", files["png"], "image/png")})
    if name == "predict-webp-bomb":
        return lambda c, url, port, rng: post(
            c, "/api/predict", files={"file": ("b.webp", files["webp"], "image/webp")}
        )
    if name == "predict-clear-png":
        return lambda c, url, port, rng: post(c, "/api/predict", files={"file": ("c.png", files["clear"], "image/png")})
    if name == "batch-webp-bombs":
        many = [("files", (f"{k}.webp", files["webp"], "image/webp")) for k in range(256)]
        return lambda c, url, port, rng: post(c, "/api/predict/batch", files=many)
    if name == "big-json":
        body = b'{"pixels": [' + b"0," * (4 * 1024 * 1024 - 64) + b"0]}"
        return lambda c, url, port, rng: post(
            c, "/api/predict", content=body, headers={"content-type": "application/json"}
        )
    if name == "label-flood":

        async def flood(c, url, port, rng):
            path = "/" + "".join(chr(int(x)) for x in rng.integers(97, 123, 16))
            res = await c.request(["GET", "POST", "BREW", "PROPFIND"][int(rng.integers(4))], path)
            return str(res.status_code)

        return flood
    if name == "held-connections":

        async def hold(c, url, port, rng):
            # Declares a body it never sends, and sends one byte after the answer.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
            await writer.drain()
            try:
                head = await asyncio.wait_for(reader.read(200), timeout=10)
                writer.write(b"x")
                await writer.drain()
                closed = await asyncio.wait_for(reader.read(), timeout=15)  # until the server closes it
                return "closed" if head.startswith(b"HTTP/1.1 200") and closed is not None else "odd"
            except asyncio.TimeoutError:
                return "still-open-after-15s"
            finally:
                writer.close()

        return hold
    raise SystemExit(f"unknown attack {name}: one of {', '.join(ATTACKS)}")


def hostile(run_path: str, seconds: float, workers: int, attacks=ATTACKS) -> dict:
    """Each attack by 16 clients for `seconds`, a fresh server each: /api/health every 50 ms and a
    good /api/read every 250 ms beside them; health latency, good reads answered, peak memory."""
    from serving import running_server

    files = {"png": bomb_png(), "webp": bomb_webp(), "clear": clear_png()}
    good = _good_png()

    async def scenario(name: str, url: str, port: int) -> dict:
        stop = time.perf_counter() + seconds
        statuses: dict[str, int] = {}
        health: list[float] = []
        health_failed = []
        reads = {"asked": 0, "answered": 0}
        peak = {"mb": 0.0}
        pids = _server_pids(port)
        one = _attack(name, files)

        async def attacker(client, k):
            rng = np.random.default_rng(k)
            while time.perf_counter() < stop:
                try:
                    key = await one(client, url, port, rng)
                except (httpx.HTTPError, OSError) as exc:
                    key = f"error:{type(exc).__name__}"
                statuses[key] = statuses.get(key, 0) + 1

        async def prober(client):
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    res = await client.get("/api/health")
                    ok = res.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    health.append(1000 * (time.perf_counter() - t))
                else:
                    health_failed.append(round(time.perf_counter() - t, 3))
                peak["mb"] = max(peak["mb"], _rss_mb(pids))
                await asyncio.sleep(0.05)

        async def reader(client):
            while time.perf_counter() < stop:
                reads["asked"] += 1
                try:
                    res = await client.post("/api/read", files={"file": ("good.png", good, "image/png")})
                    reads["answered"] += res.status_code == 200 and res.json().get("text") == "2026"
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)

        limits = httpx.Limits(max_connections=64)
        async with (
            httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as attackers,
            httpx.AsyncClient(base_url=url, timeout=120) as probe,
            httpx.AsyncClient(base_url=url, timeout=120) as good_client,
        ):
            await asyncio.gather(prober(probe), reader(good_client), *(attacker(attackers, k) for k in range(16)))
        metrics = httpx.get(f"{url}/metrics", timeout=30)
        health.sort()
        return {
            "attack": name,
            "seconds": seconds,
            "workers": workers,
            "hostile_status_counts": statuses,
            "health_requests": len(health),
            "health_failed": len(health_failed),
            "health_p50_ms": round(statistics.median(health), 1) if health else None,
            "health_p99_ms": round(health[int(0.99 * (len(health) - 1))], 1) if health else None,
            "health_max_ms": round(health[-1], 1) if health else None,
            "good_reads_asked": reads["asked"],
            "good_reads_answered": reads["answered"],
            "server_peak_mb": round(peak["mb"], 1),
            "metrics_bytes_after": len(metrics.content),
        }

    results = []
    for name in attacks:
        with running_server(run_path, args=["--workers", str(workers)]) as url:
            port = int(url.rsplit(":", 1)[1])
            res = asyncio.run(scenario(name, url, port))
        print(
            f"  {name}: health p99 {res['health_p99_ms']} ms, failed {res['health_failed']}, good reads "
            f"{res['good_reads_answered']}/{res['good_reads_asked']}, peak {res['server_peak_mb']} MB, "
            f"{res['hostile_status_counts']}",
            file=sys.stderr,
            flush=True,
        )
        results.append(res)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_name(),
        "clients": 16,
        "bytes": {k: len(v) for k, v in files.items()},
        "attacks": results,
    }


def _mix_requests(x_test: np.ndarray, n: int, seed: int = 0):
    """(endpoint, kwargs) for n good requests: a 28x28 digit to /api/predict, a number to /api/read."""
    from PIL import Image

    rng = random.Random(seed)
    pngs = []
    for k in range(20):
        row = np.concatenate([x_test[(4 * k + j) % len(x_test)] for j in range(4)], axis=1)
        buf = io.BytesIO()
        Image.fromarray(255 - row.astype(np.uint8)).save(buf, "PNG")
        pngs.append(buf.getvalue())
    out = []
    for i in range(n):
        if rng.random() < 0.5:
            out.append(("/api/predict", {"json": {"pixels": x_test[i % len(x_test)].tolist()}}))
        else:
            out.append(("/api/read", {"files": {"file": ("n.png", pngs[i % len(pngs)], "image/png")}}))
    return out


async def _drive(url: str, mix, concurrency: int, port: int, sample_every: int = 500) -> dict:
    counts: dict[str, int] = {}
    memory: list[tuple[int, float]] = []
    pids = _server_pids(port)
    done = {"n": 0}
    queue = list(enumerate(mix))
    queue.reverse()
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def worker():
            while queue:
                _, (path, kwargs) = queue.pop()
                try:
                    res = await client.post(path, **kwargs)
                    key = str(res.status_code)
                except httpx.HTTPError as exc:
                    key = f"error:{type(exc).__name__}"
                counts[key] = counts.get(key, 0) + 1
                done["n"] += 1
                if done["n"] % sample_every == 0:
                    memory.append((done["n"], _rss_mb(pids)))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "requests": len(mix),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(mix) / elapsed, 1),
        "status_counts": counts,
        "errors": sum(v for k, v in counts.items() if k != "200"),
        "memory_mb": memory,
    }


def soak(run_path: str, n: int, concurrency: int, workers: int) -> dict:
    from mnistlab.data.datasets import load_mnist
    from serving import running_server

    x_test = load_mnist(fetch=False).x_test[:1000]
    with running_server(run_path, args=["--workers", str(workers)]) as url:
        port = int(url.rsplit(":", 1)[1])
        result = asyncio.run(_drive(url, _mix_requests(x_test, n), concurrency, port))
    mem = [m for _, m in result["memory_mb"]]
    warm = mem[max(0, len(mem) // 10 - 1)] if mem else 0.0
    result.update(
        {
            "workers": workers,
            "concurrency": concurrency,
            "memory_after_warmup_mb": round(warm, 1),
            "memory_end_mb": round(mem[-1], 1) if mem else None,
            "memory_growth_after_warmup": round(mem[-1] / warm - 1, 4) if mem and warm else None,
            "memory_max_mb": round(max(mem), 1) if mem else None,
        }
    )
    return result


def throughput(run_path: str, n: int, concurrency: int, pairs: int) -> dict:
    rounds = []
    for k in range(pairs):
        for workers in (1, 2) if k % 2 == 0 else (2, 1):
            r = soak(run_path, n, concurrency, workers)
            rounds.append({"workers": workers, "requests_per_second": r["requests_per_second"], "errors": r["errors"]})
            print(rounds[-1], file=sys.stderr, flush=True)
    one = [r["requests_per_second"] for r in rounds if r["workers"] == 1]
    two = [r["requests_per_second"] for r in rounds if r["workers"] == 2]
    ratios = [b / a for a, b in zip(one, two)]
    return {
        "requests_each": n,
        "concurrency": concurrency,
        "rounds": rounds,
        "one_worker_median": statistics.median(one),
        "two_workers_median": statistics.median(two),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
    }


def stalled(run_path: str, connections: int, seconds: float) -> dict:
    from serving import running_server

    async def scenario(url: str, port: int) -> dict:
        socks = []
        opened = time.perf_counter()
        for _ in range(connections):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multi")
            socks.append((reader, writer))
        open_seconds = time.perf_counter() - opened
        closed_at: list[float] = []

        async def watch(reader):
            try:
                await reader.read()  # returns b"" when the server closes the connection
            except (ConnectionError, OSError):
                pass
            closed_at.append(time.perf_counter() - opened)

        watchers = [asyncio.create_task(watch(r)) for r, _ in socks]
        health: list[float] = []
        failures = 0
        stop = time.perf_counter() + seconds
        async with httpx.AsyncClient(base_url=url, timeout=30) as probe:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    ok = (await probe.get("/api/health")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    health.append(1000 * (time.perf_counter() - t))
                else:
                    failures += 1
                await asyncio.sleep(0.05)
        for w in watchers:
            w.cancel()
        for _, writer in socks:
            writer.close()
        health.sort()
        closed_at.sort()
        return {
            "connections": connections,
            "opened_in_seconds": round(open_seconds, 2),
            "seconds": seconds,
            "closed_by_server": len(closed_at),
            "closed_after_seconds_median": round(statistics.median(closed_at), 2) if closed_at else None,
            "closed_after_seconds_max": round(closed_at[-1], 2) if closed_at else None,
            "health_requests": len(health),
            "health_failures": failures,
            "health_p50_ms": round(statistics.median(health), 1) if health else None,
            "health_p99_ms": round(health[int(0.99 * (len(health) - 1))], 1) if health else None,
            "health_max_ms": round(health[-1], 1) if health else None,
        }

    with running_server(run_path) as url:
        port = int(url.rsplit(":", 1)[1])
        return asyncio.run(scenario(url, port))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bad-share", type=float, default=0.5)
    parser.add_argument("--out", help="write the JSON result here too")
    parser.add_argument("--hostile", action="store_true", help="every attack (or --attacks) instead of the load")
    parser.add_argument("--attacks", help=f"comma-separated, of: {', '.join(ATTACKS)}")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--soak", type=int, default=0, help="this many good predict/read requests")
    parser.add_argument("--stalled", type=int, default=0, help="this many connections that stall in their headers")
    parser.add_argument("--throughput", type=int, default=0, help="requests per round, 1 worker vs 2")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    special = None
    if args.soak:
        special = soak(args.run, args.soak, args.concurrency, args.workers)
    elif args.stalled:
        special = stalled(args.run, args.stalled, args.seconds)
    elif args.throughput:
        special = throughput(args.run, args.throughput, args.concurrency, args.pairs)
    if special is not None:
        special = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), **special}
        print(json.dumps(special, indent=2))
        if args.out:
            Path(args.out).write_text(json.dumps(special, indent=2) + "\n")
        return 0 if special.get("errors", 0) == 0 else 1
    if args.hostile:
        result = hostile(args.run, args.seconds, args.workers, args.attacks.split(",") if args.attacks else ATTACKS)
        print(json.dumps(result, indent=2))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0
    result = run(args.run, args.requests, args.concurrency, args.bad_share)
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    load = result["load"]
    return 0 if load["unexpected"] == 0 and load["healthy_after"] else 1


if __name__ == "__main__":
    sys.exit(main())
