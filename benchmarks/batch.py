"""How fast `mnistlab read` gets through a folder: one job against two, local Ray beside them, and
whether memory stays flat over a long run.

    python benchmarks/batch.py [--numbers 10000] [--photos 2000] [--rounds 3] [--flat 100000]

- the pictures: composed numbers (2-6 digits in the evaluation fonts or by UCI writers, as
  `reading.py` draws them) and phone photos (`photos.py`, the bench's photo seed), written once
  under --work and reused;
- `mnistlab read DIR --jsonl OUT --jobs 1` and `--jobs 2`, alternating in one run (pairs, so that
  the machine's drift hits both alike): pictures a second, seconds to the first reading printed,
  and the peak memory of the main process and of each worker (sampled from /proc);
- `--ray local --jobs 2` (a local Ray instance with 2 CPUs) once per kind, its start-up included;
- `--flat N`: one `--jobs 2` run over N pictures (the numbers, hard-linked over and over), each
  worker's memory after the first thousand pictures and at the end.

Writes benchmarks/results/batch-<date>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
MNISTLAB = [sys.executable, "-m", "mnistlab.cli"]

from serve_load import cpu_name  # noqa: E402  (benchmarks/ is on the path above)


def make_numbers(folder: Path, n: int) -> None:
    from PIL import Image

    from mnistlab.data.fonts import font_files
    from reading import SEED, numbers, uci_images

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.jpg"))) >= n:
        return
    uci_x, uci_y = uci_images()
    rng = np.random.default_rng(SEED + 101)
    fonts = font_files("eval")
    done = 0
    while done < n:
        for picture, _, _ in numbers(fonts, uci_x, uci_y, min(500, n - done), rng):
            Image.fromarray(picture.astype(np.uint8)).save(folder / f"{done:06d}.jpg", quality=90)
            done += 1


def make_photos(folder: Path, n: int) -> None:
    from reading import PHOTO_SEED, _suffix, photo_set

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.iterdir())) >= n:
        return
    for k, (data, _, _) in enumerate(photo_set(n, seed=PHOTO_SEED)):
        (folder / f"{k:05d}{_suffix(data)}").write_bytes(data)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Watch(threading.Thread):
    """Samples the memory of a process and its children (the workers) every 0.1 s; with `rows`,
    also each worker's memory when the output file reaches 1,000 rows."""

    def __init__(self, pid: int, rows: Path | None = None):
        super().__init__(daemon=True)
        self.pid, self.rows, self.stop = pid, rows, False
        self.main_peak, self.workers = 0.0, {}  # pid -> [peak, at 1,000 rows, last]
        self.timeline: list[tuple[int, float]] = []

    def run(self) -> None:
        marked = False
        while not self.stop:
            self.main_peak = max(self.main_peak, rss_mb(self.pid))
            for child in children(self.pid):
                mb = rss_mb(child)
                if mb:
                    rec = self.workers.setdefault(child, [0.0, None, 0.0])
                    rec[0], rec[2] = max(rec[0], mb), mb
            if self.rows is not None and self.rows.exists():
                count = _lines(self.rows)
                if not marked and count >= 1000:
                    for rec in self.workers.values():
                        rec[1] = rec[2]
                    marked = True
                if not self.timeline or count - self.timeline[-1][0] >= 5000:
                    self.timeline.append((count, round(sum(r[2] for r in self.workers.values()), 1)))
            time.sleep(0.1 if self.rows is None else 1.0)


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def one_run(folder: Path, out: Path, args: list[str], watch_rows: bool = False) -> dict:
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*MNISTLAB, "read", str(folder), "--jsonl", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    watch = Watch(proc.pid, out if watch_rows else None)
    watch.start()
    first = None
    for _ in proc.stdout:
        if first is None:
            first = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.wait()
    wall = time.perf_counter() - start
    watch.stop = True
    watch.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{args} failed: {err[-2000:]}")
    n = _lines(out)
    workers = list(watch.workers.values())
    return {
        "pictures": n,
        "seconds": round(wall, 2),
        "per_second": round(n / wall, 1),
        "first_reading_s": round(first, 3) if first is not None else None,
        "main_peak_mb": round(watch.main_peak, 1),
        "worker_peak_mb": [round(w[0], 1) for w in workers],
        "worker_at_1000_mb": [w[1] for w in workers],
        "worker_last_mb": [round(w[2], 1) for w in workers],
        "timeline": watch.timeline,
        "summary": err.strip().splitlines()[-1] if err.strip() else "",
    }


def spread(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3)}


def pairs(folder: Path, work: Path, rounds: int) -> dict:
    runs = {"1": [], "2": []}
    for r in range(rounds):
        for jobs in ("1", "2") if r % 2 == 0 else ("2", "1"):  # alternate which goes first
            res = one_run(folder, work / f"out-{jobs}.jsonl", ["--jobs", jobs])
            print(f"  {folder.name} round {r + 1} --jobs {jobs}: {res['per_second']} pictures/s", flush=True)
            runs[jobs].append(res)
    same = (work / "out-1.jsonl").read_bytes() == (work / "out-2.jsonl").read_bytes()
    ratios = [b["per_second"] / a["per_second"] for a, b in zip(runs["1"], runs["2"], strict=True)]
    return {
        "jobs_1": runs["1"],
        "jobs_2": runs["2"],
        "speedup": spread(ratios),
        "same_rows": same,
        "jobs_1_per_second": spread([x["per_second"] for x in runs["1"]]),
        "jobs_2_per_second": spread([x["per_second"] for x in runs["2"]]),
    }


def ray_run(folder: Path, work: Path) -> dict | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    res = one_run(folder, work / "out-ray.jsonl", ["--ray", "local", "--jobs", "2"])
    res["same_rows_as_jobs_2"] = (work / "out-ray.jsonl").read_bytes() == (work / "out-2.jsonl").read_bytes()
    print(f"  {folder.name} ray local: {res['per_second']} pictures/s", flush=True)
    return res


def flat(numbers: Path, work: Path, n: int) -> dict:
    big = work / f"flat-{n}"
    big.mkdir(parents=True, exist_ok=True)
    sources = sorted(numbers.iterdir())
    have = len(list(big.iterdir()))
    for k in range(have, n):
        os.link(sources[k % len(sources)], big / f"{k:07d}.jpg")
    res = one_run(big, work / "out-flat.jsonl", ["--jobs", "2"], watch_rows=True)
    growth = [
        round(100 * (last / first - 1), 1)
        for first, last in zip(res["worker_at_1000_mb"], res["worker_last_mb"], strict=True)
        if first
    ]
    res["worker_growth_percent"] = growth
    print(f"  flat over {n}: workers {res['worker_at_1000_mb']} MB -> {res['worker_last_mb']} MB", flush=True)
    return res


def table(report: dict) -> str:
    rows = [
        "| pictures | --jobs 1 (pictures/s) | --jobs 2 (pictures/s) | speed-up (median, range) | "
        "local Ray, 2 CPUs (pictures/s, start included) | first reading (s) | worker peak (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("numbers", "photos"):
        r = report.get(kind)
        if not r:
            continue
        ray = r.get("ray")
        peaks = [p for run in r["jobs_2"] for p in run["worker_peak_mb"]]
        firsts = [run["first_reading_s"] for run in r["jobs_1"] + r["jobs_2"] if run["first_reading_s"]]
        rows.append(
            f"| {r['jobs_1'][0]['pictures']:,} {kind} | {r['jobs_1_per_second']['median']} | "
            f"{r['jobs_2_per_second']['median']} | {r['speedup']['median']:.2f}x "
            f"({r['speedup']['min']:.2f}-{r['speedup']['max']:.2f}) | "
            f"{ray['per_second'] if ray else '-'} | {max(firsts):.2f} | {max(peaks):.0f} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=10000)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating pairs per kind")
    parser.add_argument("--flat", type=int, default=0, metavar="N", help="also one run over N pictures")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--work", default="/tmp/mnistlab-batch-bench", help="where the pictures are written")
    parser.add_argument("--out", help="the JSON report (default: results/batch-<date>.json)")
    args = parser.parse_args()
    work = Path(args.work)
    report = {"date": dt.date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(), "rounds": args.rounds}
    for kind, count, make in (("numbers", args.numbers, make_numbers), ("photos", args.photos, make_photos)):
        if not count:
            continue
        folder = work / f"{kind}-{count}"
        print(f"{kind}: writing {count} pictures under {folder}", flush=True)
        make(folder, count)
        report[kind] = pairs(folder, work, args.rounds)
        if not args.no_ray:
            report[kind]["ray"] = ray_run(folder, work)
    if args.flat:
        report["flat"] = flat(work / f"numbers-{args.numbers}", work, args.flat)
    out = Path(args.out) if args.out else HERE / "results" / f"batch-{report['date']}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
