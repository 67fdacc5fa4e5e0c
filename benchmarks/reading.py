"""How well runs read pictures that are not MNIST, and whether they know when they can't.

Every set is built here, from sources no preset trains on:
- printed: digits in the `eval` group's printed fonts (DejaVu), sized, rotated, either polarity, noisy;
- handwriting fonts: digits in the `eval` group's handwriting-style fonts (Comic Neue, Humor Sans,
  Because We Had To, SJ fonts, Dancing Script, Ecolier, Tomson Talks);
- uci: the 1,797 UCI handwritten digits scikit-learn ships (8x8, other writers), upscaled;
- numbers: 2-6 digits composed from the eval fonts and from UCI digits, gaps from wide to touching,
  baseline jitter, uneven light, JPEG;
- non-digits: `negatives.make_negatives` with the `eval` fonts, UCI digits for fragments and pairs, and
  a seed the training never uses;
- photos (`photos.py`): sheets on tables in perspective, shadows, vignetting, plain, ruled and squared
  paper, form boxes, EXIF-rotated JPEGs; numbers, dates, times, prices, negative numbers and two
  lines, written in the eval fonts or by UCI writers. The same files are read by Tesseract and
  RapidOCR (`engines.py`) when they are installed.

    python benchmarks/reading.py RUN [RUN ...] [--out results/reading-DATE.json]
    python benchmarks/reading.py --photos 500 [RUN ...]      # the photo set alone, with the engines
    python benchmarks/reading.py --line-readers --numbers 300 --photos 300   # segmenter / line model /
                                                              # combined / engines, per line
    python benchmarks/reading.py --speed-pairs 5 --numbers 300   # mnistlab against RapidOCR's
                                                              # recognizer, alternating per number

Per run: single-digit accuracy per source, exact whole-number match, non-digits rejected, real digits
accepted, AUROC of the confidence (real digits vs non-digits), calibration error (ECE).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SEED = 20261125  # no training seed is near this


def uci_images():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * (255 / 16)).astype(np.float64), d.target.astype(int)


def upscale(img8: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(
        Image.fromarray(img8.astype(np.uint8)).resize((height, height), Image.Resampling.BILINEAR), dtype=np.float64
    )


def font_digits(fonts, per_font: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Single digits rendered in `fonts` and photographed, prepared like a user's file."""
    from mnistlab.data.synth import photograph, render_text
    from mnistlab.images import to_mnist_array

    xs, ys = [], []
    for font in fonts:
        for digit in range(10):
            for _ in range(per_font):
                ink = render_text(str(digit), font, rng, rotate=12)
                if ink is None:
                    break
                xs.append(to_mnist_array(photograph(ink, rng)))
                ys.append(digit)
    return np.stack(xs), np.array(ys)


def compose(parts: list[np.ndarray], rng) -> np.ndarray:
    """Bright-ink digit canvases side by side (some touching), jittered, on uneven light, as a JPEG."""
    from PIL import Image

    from mnistlab.data.synth import photograph

    h = max(p.shape[0] for p in parts)
    height = int(h * 1.3)
    gaps = [int(g) for g in rng.integers(-int(0.12 * h), int(0.5 * h), len(parts) - 1)]
    width = sum(p.shape[1] for p in parts) + sum(gaps) + 2 * h
    canvas = np.zeros((height, width))
    x = h
    for k, p in enumerate(parts):
        x += gaps[k - 1] if k else 0
        # Digits stand on a common baseline, each a little off it (up to a tenth of the height).
        y = int(
            np.clip(
                height - int(0.15 * h) - p.shape[0] + rng.integers(-int(0.1 * h), int(0.1 * h) + 1),
                0,
                height - p.shape[0],
            )
        )
        canvas[y : y + p.shape[0], x : x + p.shape[1]] = np.maximum(canvas[y : y + p.shape[0], x : x + p.shape[1]], p)
        x += p.shape[1]
    pic = photograph(canvas, rng)
    light = np.linspace(0, rng.uniform(-60, 60), pic.shape[1])[None, :]  # uneven light across the line
    pic = np.clip(pic + light, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(pic.astype(np.uint8)).save(buf, "JPEG", quality=int(rng.integers(60, 95)))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"), dtype=np.float64)


def _trim(ink: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink > 10)
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def numbers(fonts, uci_x, uci_y, n: int, rng) -> list[tuple[np.ndarray, str, str]]:
    """(picture, the digits it shows, source) for `n` numbers of 2-6 digits."""
    from mnistlab.data.synth import render_text

    out = []
    while len(out) < n:
        k = int(rng.integers(2, 7))
        if len(out) % 2 == 0:  # from one eval font, one size
            font = fonts[int(rng.integers(len(fonts)))]
            size = int(rng.integers(30, 80))
            text = "".join(str(d) for d in rng.integers(0, 10, k))
            parts = [render_text(ch, font, rng, size=size, rotate=5) for ch in text]
            if any(p is None for p in parts):
                continue
            parts = [_trim(p) for p in parts]
            source = "fonts"
        else:  # from UCI writers' digits
            idx = rng.integers(0, len(uci_y), k)
            height = int(rng.integers(32, 64))
            parts = [_trim(upscale(uci_x[i], height)) for i in idx]
            text = "".join(str(uci_y[i]) for i in idx)
            source = "uci"
        out.append((compose(parts, rng), text, source))
    return out


def evaluate(run_path: str, sets: dict) -> dict:
    from mnistlab.data.datasets import load_dataset
    from mnistlab.models.calibration import auroc, expected_calibration_error
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    run = open_run(run_path)
    pred = Predictor(run)
    ds = load_dataset(run.config["dataset"]["spec"])
    res: dict = {
        "preset": run.metrics.get("preset"),
        "mnist_test_accuracy": run.metrics.get("test_accuracy"),
        "train_seconds": run.metrics.get("train_seconds"),
        "temperature": pred.calibration.temperature,
        "threshold": round(pred.calibration.threshold, 5),
    }
    conf_real, probs_real, y_real = [], [], []
    singles = {"mnist_test": (ds.x_test.astype(np.float32), ds.y_test), **sets["singles"]}
    conf_mnist = None
    for name, (x, y) in singles.items():
        probs, conf, acc = pred.judge(x)
        if name == "mnist_test":
            conf_mnist = conf
        res[name] = {
            "images": int(len(y)),
            "accuracy": round(float((probs.argmax(1) == y).mean()), 4),
            "accepted": round(float(acc.mean()), 4),
            "accuracy_of_accepted": round(float((probs.argmax(1) == y)[acc].mean()), 4) if acc.any() else None,
            "ece": round(expected_calibration_error(probs, y), 4),
        }
        if name != "mnist_test":
            conf_real.append(conf)
            probs_real.append(probs)
            y_real.append(y)
    _, conf_neg, acc_neg = pred.judge(sets["nondigits"])
    conf_real_all = np.concatenate(conf_real)
    res["nondigits"] = {"images": int(len(conf_neg)), "rejected": round(float(1 - acc_neg.mean()), 4)}
    res["real_nonmnist_digits_accepted"] = round(float((conf_real_all >= pred.calibration.threshold).mean()), 4)
    res["auroc_nonmnist_digits_vs_nondigits"] = round(auroc(conf_real_all, conf_neg), 4)
    res["auroc_mnist_vs_nondigits"] = round(auroc(conf_mnist, conf_neg), 4)
    res["ece_nonmnist_digits"] = round(
        expected_calibration_error(np.concatenate(probs_real), np.concatenate(y_real)), 4
    )
    per_source: dict = {}
    seconds = []
    for picture, text, source in sets["numbers"]:
        t0 = time.perf_counter()
        r = pred.read(picture)
        seconds.append(time.perf_counter() - t0)
        got = "".join(str(d["digit"]) for d in r["digits"])
        s = per_source.setdefault(source, {"numbers": 0, "exact": 0, "exact_and_accepted": 0})
        s["numbers"] += 1
        s["exact"] += got == text
        s["exact_and_accepted"] += got == text and r["accepted"]
    total = sum(s["numbers"] for s in per_source.values())
    res["numbers"] = {
        "numbers": total,
        "exact": round(sum(s["exact"] for s in per_source.values()) / total, 4),
        "exact_and_accepted": round(sum(s["exact_and_accepted"] for s in per_source.values()) / total, 4),
        "by_source": {
            k: {"numbers": v["numbers"], "exact": round(v["exact"] / v["numbers"], 4)} for k, v in per_source.items()
        },
        "median_ms_per_picture": round(1000 * float(np.median(seconds)), 1),
    }
    return res


PHOTO_SEED = SEED + 11  # the photo set; development used other seeds
CALIBRATION_SEED = PHOTO_SEED + 1000  # the calibration photos tools/fit_verdict.py chooses on


def photo_set(n: int, seed: int = PHOTO_SEED, clean: bool = False) -> list[tuple[bytes, str, dict]]:
    """The photo set (`clean`: its writing alone, on clean pages: see `photos.make_photo`)."""
    from mnistlab.data.fonts import FONT_PACKAGES, font_files
    from photos import make_photo

    fonts = font_files("eval")
    if not fonts:
        raise SystemExit("no eval fonts installed: apt-get install " + " ".join(FONT_PACKAGES["eval"]))
    uci_x, uci_y = uci_images()
    rng = np.random.default_rng(seed)
    return [make_photo(rng, fonts, uci_x, uci_y, clean=clean) for _ in range(n)]


def _writer(meta: dict) -> str:
    """A photo's writer as the results group it: "uci" or "fonts"."""
    return "uci" if meta["writer"] == "uci" else "fonts"


def _suffix(data: bytes) -> str:
    return ".png" if data.startswith(b"\x89PNG") else ".jpg"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch == "\n")


def _readings(photos, readers: dict):
    """Each reader on every photo, handed over as a file as a user would: yields (reader name,
    [(text, accepted, seconds)] in the photos' order), one reader at a time."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, (data, _, _) in enumerate(photos):
            path = Path(tmp) / f"photo{k:04d}{_suffix(data)}"
            path.write_bytes(data)
            paths.append(str(path))
        for name, read in readers.items():
            got = []
            for path in paths:
                t0 = time.perf_counter()
                text, accepted = read(path)
                got.append((text, accepted, time.perf_counter() - t0))
            yield name, got


def score_photos(photos, readers: dict) -> dict:
    """Each reader on every photo file: exact text, digits-only match, accepted-but-wrong, seconds."""
    out = {}
    for name, got in _readings(photos, readers):
        rows = [
            {
                "seconds": seconds,
                "exact": text == truth,
                "digits": _digits(text) == _digits(truth),
                "accepted": accepted,
                "kind": meta["kind"],
                "paper": meta["paper"],
                "writer": _writer(meta),
            }
            for (text, accepted, seconds), (_, truth, meta) in zip(got, photos, strict=True)
        ]
        n = len(rows)

        def share(key, sel=lambda r: True, rows=rows):
            chosen = [r for r in rows if sel(r)]
            return round(sum(r[key] for r in chosen) / len(chosen), 4) if chosen else None

        out[name] = {
            "photos": n,
            "exact": share("exact"),
            "digits_only": share("digits"),
            "accepted": share("accepted"),
            "accepted_but_wrong": round(sum(r["accepted"] and not r["exact"] for r in rows) / n, 4),
            "median_seconds": round(float(np.median([r["seconds"] for r in rows])), 3),
            "p90_seconds": round(float(np.percentile([r["seconds"] for r in rows], 90)), 3),
            "exact_by_kind": {
                k: share("exact", lambda r, k=k: r["kind"] == k) for k in sorted({r["kind"] for r in rows})
            },
            "exact_by_paper": {
                k: share("exact", lambda r, k=k: r["paper"] == k) for k in sorted({r["paper"] for r in rows})
            },
            "exact_by_writer": {k: share("exact", lambda r, k=k: r["writer"] == k) for k in ("fonts", "uci")},
        }
        print(
            f"{name}: exact {out[name]['exact']:.3f}, accepted-but-wrong {out[name]['accepted_but_wrong']:.3f}, "
            f"median {out[name]['median_seconds']:.3f} s",
            file=sys.stderr,
        )
    return out


def score_field(photos: list, readers: dict) -> dict:
    """Each reader on the field photos: overall, and by every condition a photo has (`field.conditions`)."""
    from field import conditions

    out = {}
    for name, got in _readings(photos, readers):
        rows = [
            {
                "seconds": seconds,
                "exact": text == truth,
                "accepted": accepted,
                "text": text,
                "truth": truth,
                "conditions": conditions(meta),
            }
            for (text, accepted, seconds), (_, truth, meta) in zip(got, photos, strict=True)
        ]
        n = len(rows)
        by = {}
        for c in sorted({c for r in rows for c in r["conditions"]}):
            chosen = [r for r in rows if c in r["conditions"]]
            by[c] = {"photos": len(chosen), "exact": round(sum(r["exact"] for r in chosen) / len(chosen), 4)}
        out[name] = {
            "photos": n,
            "exact": round(sum(r["exact"] for r in rows) / n, 4),
            "accepted": round(sum(bool(r["accepted"]) for r in rows) / n, 4),
            "accepted_but_wrong": round(sum(bool(r["accepted"]) and not r["exact"] for r in rows) / n, 4),
            "median_seconds": round(float(np.median([r["seconds"] for r in rows])), 3),
            "by_condition": by,
            "misses": [
                {"truth": r["truth"], "read": r["text"], "accepted": bool(r["accepted"])}
                for r in rows
                if not r["exact"]
            ][:60],
        }
        print(
            f"field / {name}: exact {out[name]['exact']:.3f}, accepted-but-wrong "
            f"{out[name]['accepted_but_wrong']:.3f}, median {out[name]['median_seconds']:.3f} s",
            file=sys.stderr,
        )
    return out


def field_table(results: dict) -> str:
    names = list(results)
    conds = sorted({c for r in results.values() for c in r["by_condition"]})
    first = results[names[0]]["by_condition"]
    rows = ["| field photos | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows.append("| **all** | " + " | ".join(f"**{100 * results[n]['exact']:.1f}%**" for n in names) + " |")
    rows.append(
        "| accepted but wrong | " + " | ".join(f"{100 * results[n]['accepted_but_wrong']:.1f}%" for n in names) + " |"
    )
    rows.append("| s / photo (median) | " + " | ".join(f"{results[n]['median_seconds']:.2f}" for n in names) + " |")
    for c in conds:
        rows.append(
            f"| {c} ({first[c]['photos']}) | "
            + " | ".join(f"{100 * results[n]['by_condition'][c]['exact']:.0f}%" for n in names)
            + " |"
        )
    return "\n".join(rows)


def photo_readers(runs: list[str], psm: int, engines_too: bool = True) -> dict:
    """mnistlab (each run, or the bundled reader) and whichever engines are installed."""
    import engines
    from mnistlab.api import bundled_path
    from mnistlab.images import decode_picture
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    def reader(pred):
        def read(path):  # as `mnistlab read` reads a file: decoded to the working size, the file at hand
            data = Path(path).read_bytes()
            gray, scale = decode_picture(data)
            r = pred.read(gray, scale=scale, data=data)
            return r["text"], r["accepted"]

        return read

    readers = {}
    for run in runs or [None]:
        readers[f"mnistlab ({Path(run).name if run else 'bundled'})"] = reader(
            Predictor(open_run(run or bundled_path()))
        )
    if not runs:  # the bundled reader without its learned stages too: what each adds
        for name, options in (("--photo-lines off", {"photo": "off"}), ("--detector off", {"detector": "off"})):
            readers[f"mnistlab (bundled, {name})"] = reader(Predictor(open_run(bundled_path()), **options))
        if engines.rapidocr_available():  # PP-OCR's detector in the place of mnistlab's own
            boxed = Predictor(open_run(bundled_path()))
            boxed.detector = engines.PPOCRDetector()
            readers["mnistlab (bundled, PP-OCR detector)"] = reader(boxed)
    if not engines_too:
        return readers
    if engines.tesseract_available():
        readers[f"Tesseract (psm {psm})"] = lambda path: engines.tesseract_on_upright(path, psm)
    if engines.rapidocr_available():
        readers["RapidOCR"] = engines.RapidOCR()
    return readers


def photo_table(results: dict) -> str:
    kinds = sorted({k for r in results.values() for k in r["exact_by_kind"]})
    rows = [
        "| reader | exact | digits only | accepted but wrong | " + " | ".join(kinds) + " | s / photo (median) |",
        "|---|---|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {100 * r['exact']:.1f}% | {100 * r['digits_only']:.1f}% | "
            f"{100 * r['accepted_but_wrong']:.1f}% | "
            + " | ".join(f"{100 * r['exact_by_kind'][k]:.0f}%" for k in kinds)
            + f" | {r['median_seconds']:.3f} |"
        )
    return "\n".join(rows)


LINE_SEED = SEED + 21  # the composed numbers of the line-reader comparison


def line_readers(psm: int, engines_too: bool = True) -> dict:
    """The bundled reader three ways (digit by digit, line model, combined) and the engines."""
    import engines
    from mnistlab.api import bundled_path
    from mnistlab.images import load_picture
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    run = open_run(bundled_path())
    readers = {}
    for mode, name in (
        ("segmenter", "mnistlab: segmenter alone"),
        ("line", "mnistlab: line model alone"),
        ("combined", "mnistlab: combined (default)"),
    ):
        pred = Predictor(run, mode=mode)

        def read(path, pred=pred):
            gray, scale = load_picture(path)
            r = pred.read(gray, scale=scale)
            return r["text"], r["accepted"]

        readers[name] = read
    if not engines_too:
        return readers
    if engines.rapidocr_available():
        readers["RapidOCR (detection + recognizer)"] = engines.RapidOCR()
        readers["RapidOCR (recognizer on the whole picture)"] = engines.RapidOCRRecognizer()
    if engines.tesseract_available():
        readers[f"Tesseract (psm {psm})"] = lambda path: engines.tesseract_on_upright(path, psm)
        readers["Tesseract (psm 7, one line)"] = lambda path: engines.tesseract_on_upright(path, 7)
    return readers


def line_model_speed(repeats: int = 200) -> dict:
    """The bundled line model alone on a strip of 6 digits, onnxruntime on one thread (ms, median)."""
    import onnxruntime as ort

    from mnistlab.api import bundled_path
    from mnistlab.data.strip import decode, softmax, to_strip

    uci_x, _uci_y = uci_images()
    ink = np.concatenate([upscale(uci_x[i], 32) for i in range(6)], axis=1) / 255.0
    strip, _, _ = to_strip(ink)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(bundled_path() / "line" / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    x = strip[None].astype(np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        decode(softmax(sess.run(None, {"strip": x})[0][0]))
        times.append(1000 * (time.perf_counter() - t0))
    return {
        "strip_width": int(strip.shape[1]),
        "threads": 1,
        "median_ms": round(float(np.median(times)), 3),
        "p90_ms": round(float(np.percentile(times, 90)), 3),
    }


def compare_line_readers(n_numbers: int, n_photos: int, psm: int, engines_too: bool = True) -> dict:
    """Exact text, character error rate, accepted-but-wrong and ms per line, per reader and set."""
    import tempfile

    from PIL import Image

    from mnistlab.data.fonts import font_files
    from mnistlab.data.strip import edit_distance

    uci_x, uci_y = uci_images()
    nums = numbers(font_files("eval"), uci_x, uci_y, n_numbers, np.random.default_rng(LINE_SEED))
    photos = photo_set(n_photos) if n_photos else []
    readers = line_readers(psm, engines_too)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"composed numbers": [], "photos": []}
        for k, (pic, text, source) in enumerate(nums):
            path = Path(tmp) / f"number{k:04d}.png"
            Image.fromarray(pic.astype(np.uint8)).save(path)
            sets["composed numbers"].append((str(path), text, source))
        for k, (jpeg, text, meta) in enumerate(photos):
            path = Path(tmp) / f"photo{k:04d}{_suffix(jpeg)}"
            path.write_bytes(jpeg)
            sets["photos"].append((str(path), text, _writer(meta)))
        for set_name, items in sets.items():
            if not items:
                continue
            for name, read in readers.items():
                if set_name == "photos" and ("whole picture" in name or "one line" in name):
                    continue  # a photo is a page, not one line
                exact = wrong = errors = chars = lines = 0
                seconds = []
                by_writer = {"fonts": [], "uci": []}
                for path, truth, writer in items:
                    t0 = time.perf_counter()
                    text, accepted = read(path)
                    seconds.append((time.perf_counter() - t0) / (truth.count("\n") + 1))
                    exact += text == truth
                    by_writer[writer].append(text == truth)
                    wrong += accepted and text != truth
                    errors += edit_distance(text, truth)
                    chars += len(truth)
                    lines += truth.count("\n") + 1
                n = len(items)
                out.setdefault(set_name, {})[name] = {
                    "pictures": n,
                    "lines": lines,
                    "exact": round(exact / n, 4),
                    "cer": round(errors / chars, 4),
                    "accepted_but_wrong": round(wrong / n, 4),
                    "ms_per_line": round(1000 * float(np.median(seconds)), 1),
                    "exact_by_writer": {w: round(float(np.mean(v)), 4) for w, v in by_writer.items() if v},
                }
                r = out[set_name][name]
                print(
                    f"{set_name} / {name}: exact {r['exact']:.3f}, CER {r['cer']:.3f}, accepted-but-wrong "
                    f"{r['accepted_but_wrong']:.3f}, {r['ms_per_line']:.1f} ms a line",
                    file=sys.stderr,
                    flush=True,
                )
    return out


def speed_pairs(n_numbers: int, rounds: int) -> dict:
    """ms per composed number for mnistlab (combined) and RapidOCR's recognizer, in alternating pairs:
    each number read by both, one after the other (who goes first alternates), `rounds` times over
    the set. Per round the median of each, and their ratio; the ratios' median and spread."""
    import tempfile

    from PIL import Image

    import engines
    from mnistlab.data.fonts import font_files

    readers = line_readers(6, engines_too=True)
    ours, theirs = readers["mnistlab: combined (default)"], readers.get("RapidOCR (recognizer on the whole picture)")
    if theirs is None:
        raise SystemExit("RapidOCR is not installed: pip install rapidocr==3.10.0")
    uci_x, uci_y = uci_images()
    nums = numbers(font_files("eval"), uci_x, uci_y, n_numbers, np.random.default_rng(LINE_SEED))
    out = {"numbers": len(nums), "rounds": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, (pic, _, _) in enumerate(nums):
            paths.append(str(Path(tmp) / f"number{k:04d}.png"))
            Image.fromarray(pic.astype(np.uint8)).save(paths[-1])
        for path in paths[:10]:  # warm both up
            ours(path)
            theirs(path)
        for r in range(rounds):
            ms = {"mnistlab": [], "rapidocr": []}
            for k, path in enumerate(paths):
                order = [("mnistlab", ours), ("rapidocr", theirs)]
                for name, read in order if (k + r) % 2 == 0 else order[::-1]:
                    t0 = time.perf_counter()
                    read(path)
                    ms[name].append(1000 * (time.perf_counter() - t0))
            a, b = float(np.median(ms["mnistlab"])), float(np.median(ms["rapidocr"]))
            out["rounds"].append(
                {
                    "mnistlab_ms": round(a, 2),
                    "rapidocr_recognizer_ms": round(b, 2),
                    "rapidocr_over_mnistlab": round(b / a, 3),
                }
            )
            print(
                f"round {r + 1}: mnistlab {a:.2f} ms, RapidOCR recognizer {b:.2f} ms, ratio {b / a:.2f}",
                file=sys.stderr,
                flush=True,
            )
    ratios = [x["rapidocr_over_mnistlab"] for x in out["rounds"]]
    out["ratio_median"], out["ratio_range"] = float(np.median(ratios)), [min(ratios), max(ratios)]
    out["engines"] = {"rapidocr": engines.rapidocr_version()}
    return out


def line_table(results: dict) -> str:
    rows = [
        "| set | reader | exact | character error rate | accepted but wrong | ms / line (median) |",
        "|---|---|---|---|---|---|",
    ]
    for set_name, readers in results.items():
        for name, r in readers.items():
            rows.append(
                f"| {set_name} | {name} | {100 * r['exact']:.1f}% | {100 * r['cer']:.1f}% | "
                f"{100 * r['accepted_but_wrong']:.1f}% | {r['ms_per_line']:.1f} |"
            )
    return "\n".join(rows)


def build_sets(n_numbers: int = 300, n_nondigits: int = 2000) -> dict:
    from mnistlab.data.fonts import FONT_PACKAGES, font_files, is_handwriting
    from mnistlab.data.negatives import make_negatives
    from mnistlab.images import to_mnist_array

    rng = np.random.default_rng(SEED)
    fonts = font_files("eval")
    if not fonts:
        raise SystemExit("no eval fonts installed: apt-get install " + " ".join(FONT_PACKAGES["eval"]))
    printed = [f for f in fonts if not is_handwriting(f)]
    handwriting = [f for f in fonts if is_handwriting(f)]
    uci_x, uci_y = uci_images()
    uci_prepared = np.stack([to_mnist_array(upscale(im, 32)) for im in uci_x])
    return {
        "singles": {
            "printed": font_digits(printed, 4, rng),
            "handwriting_fonts": font_digits(handwriting, 6, rng),
            "uci": (uci_prepared, uci_y),
        },
        "nondigits": make_negatives(n_nondigits, SEED + 1, fonts, uci_prepared.astype(np.uint8)),
        "numbers": numbers(fonts, uci_x, uci_y, n_numbers, rng),
        "fonts": {"printed": [f.name for f in printed], "handwriting": [f.name for f in handwriting]},
    }


def table(report: dict) -> str:
    rows = [
        "| run | preset | MNIST test | printed | handwriting fonts | UCI | numbers exact | non-digits rejected "
        "| non-MNIST digits accepted | MNIST accepted | AUROC (non-MNIST / MNIST) | ECE (MNIST / non-MNIST) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["runs"].items():
        rows.append(
            f"| {Path(name).name} | {r['preset']} | {100 * r['mnist_test']['accuracy']:.2f}% "
            f"| {100 * r['printed']['accuracy']:.1f}% | {100 * r['handwriting_fonts']['accuracy']:.1f}% "
            f"| {100 * r['uci']['accuracy']:.1f}% | {100 * r['numbers']['exact']:.1f}% "
            f"| {100 * r['nondigits']['rejected']:.1f}% | {100 * r['real_nonmnist_digits_accepted']:.1f}% "
            f"| {100 * r['mnist_test']['accepted']:.2f}% "
            f"| {r['auroc_nonmnist_digits_vs_nondigits']:.3f} / {r['auroc_mnist_vs_nondigits']:.3f} "
            f"| {r['mnist_test']['ece']:.4f} / {r['ece_nonmnist_digits']:.4f} |"
        )
    return "\n".join(rows)


def keep_engines(report: dict, args) -> None:
    """With --no-engines: the engines read the same files as before (same seeds), so their earlier
    results in --out are kept, marked with the date they were measured, with the versions that read."""
    if args.no_engines and args.out and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        if old.get("seed") != report.get("seed") or old.get("photos") != report.get("photos"):
            return  # other photos: the engines' results there say nothing of these
        report["engines"] = old.get("engines", report.get("engines"))
        for name, r in old.get("readers", {}).items():
            if not name.startswith("mnistlab"):
                report["readers"][name] = {**r, "measured": r.get("measured", old.get("date"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*")
    parser.add_argument("--out", help="write the JSON report here")
    parser.add_argument("--numbers", type=int, default=300)
    parser.add_argument("--nondigits", type=int, default=2000)
    parser.add_argument(
        "--photos",
        type=int,
        default=0,
        help="read this many photos (mnistlab and the engines) instead of the other sets",
    )
    parser.add_argument(
        "--field",
        type=int,
        default=0,
        metavar="N",
        help="read the first N field photos (field.py: hands, inks, papers and conditions never tuned on) "
        "with mnistlab and the engines, by condition",
    )
    parser.add_argument(
        "--clean-pages",
        action="store_true",
        help="with --photos: read the same photos' writing on clean white pages instead",
    )
    parser.add_argument(
        "--calibration",
        action="store_true",
        help="with --photos: read the calibration photos (tools/fit_verdict.py's seed, the set choices are "
        "made on) instead of the development photos a report quotes",
    )
    parser.add_argument("--psm", type=int, default=6, help="Tesseract's page mode for the photos")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="with --photos or --field: threads each mnistlab model may use (default 1: one core, as RapidOCR is run)",
    )
    parser.add_argument(
        "--no-engines",
        action="store_true",
        help="read with mnistlab only; the engines' results already in --out are kept",
    )
    parser.add_argument(
        "--line-readers",
        action="store_true",
        help="compare the bundled reader's segmenter, line model and both combined with the "
        "engines, on --numbers composed numbers and --photos photos",
    )
    parser.add_argument(
        "--speed-pairs",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="time mnistlab and RapidOCR's recognizer on --numbers composed numbers, "
        "alternating per number, ROUNDS times",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    if args.photos or args.field:  # the sets RapidOCR reads on one thread beside mnistlab
        from mnistlab.inference.engine import set_session_threads

        set_session_threads(args.threads)
    if args.speed_pairs:
        from cold_start import machine

        cpu = machine()
        report = {
            "date": dt.date.today().isoformat(),
            "seed": LINE_SEED,
            "machine": f"{cpu['cpu']}, {cpu['cores']} cores",
            **speed_pairs(args.numbers, args.speed_pairs),
        }
        report["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(report, indent=2))
    elif args.line_readers:
        import engines

        report = {
            "date": dt.date.today().isoformat(),
            "seed": LINE_SEED,
            "photo_seed": PHOTO_SEED,
            "engines": {
                "tesseract": engines.tesseract_version() if engines.tesseract_available() else None,
                "rapidocr": engines.rapidocr_version() if engines.rapidocr_available() else None,
            },
            "line_model_6_digits": line_model_speed(),
            "sets": compare_line_readers(args.numbers, args.photos, args.psm, not args.no_engines),
        }
        if args.no_engines and args.out and Path(args.out).exists():
            # The engines read the same files as before (same seeds): keep their earlier results.
            old = json.loads(Path(args.out).read_text())
            for set_name, readers in old.get("sets", {}).items():
                for name, r in readers.items():
                    if not name.startswith("mnistlab"):
                        report["sets"].setdefault(set_name, {})[name] = {**r, "measured": old.get("date")}
        report["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(report, indent=2))
        print()
        print(line_table(report["sets"]))
    elif args.field:
        import engines
        from field import FIELD_SEED, field_fonts, field_set

        photos = field_set(args.field)
        report = {
            "date": dt.date.today().isoformat(),
            "seed": FIELD_SEED,
            "mnistlab_threads": args.threads,
            "photos": len(photos),
            "fonts": [p.name for p in field_fonts()],
            "engines": {
                "tesseract": engines.tesseract_version() if engines.tesseract_available() else None,
                "rapidocr": engines.rapidocr_version() if engines.rapidocr_available() else None,
            },
            "readers": score_field(photos, photo_readers(args.runs, args.psm, not args.no_engines)),
        }
        keep_engines(report, args)
        report["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps({k: v for k, v in report.items() if k != "readers"}, indent=2))
        print()
        print(field_table(report["readers"]))
    elif args.photos:
        import engines

        seed = CALIBRATION_SEED if args.calibration else PHOTO_SEED
        photos = photo_set(args.photos, seed=seed, clean=args.clean_pages)
        report = {
            "date": dt.date.today().isoformat(),
            "seed": seed,
            "set": "calibration photos (choices are made on these)" if args.calibration else "development photos",
            "mnistlab_threads": args.threads,
            "photos": len(photos),
            "pages": "clean: the photos' writing alone" if args.clean_pages else "photos",
            "kinds": {k: sum(m["kind"] == k for _, _, m in photos) for k in sorted({m["kind"] for _, _, m in photos})},
            "engines": {
                "tesseract": engines.tesseract_version() if engines.tesseract_available() else None,
                "rapidocr": engines.rapidocr_version() if engines.rapidocr_available() else None,
            },
            "readers": score_photos(photos, photo_readers(args.runs, args.psm, not args.no_engines)),
        }
        keep_engines(report, args)
        report["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(report, indent=2))
        print()
        print(photo_table(report["readers"]))
    else:
        if not args.runs:
            parser.error("name at least one RUN (or use --photos)")
        sets = build_sets(args.numbers, args.nondigits)
        report = {
            "date": dt.date.today().isoformat(),
            "seed": SEED,
            "fonts": sets["fonts"],
            "sizes": {
                **{k: int(len(v[1])) for k, v in sets["singles"].items()},
                "nondigits": int(len(sets["nondigits"])),
                "numbers": len(sets["numbers"]),
            },
            "runs": {run: evaluate(run, sets) for run in args.runs},
        }
        report["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(report, indent=2))
        print()
        print(table(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
