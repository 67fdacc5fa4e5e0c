"""Give a line run partners: a new run whose partners read the strips its own model is unsure of.

    python tools/pair_line_runs.py OUT RUN PARTNER [PARTNER ...]

OUT is a copy of RUN (its own reading files, description and Keras model; not its verdict, which a
photo line run then learns afresh: `tools/fit_verdict.py OUT`) with each PARTNER's reading files and
description in `partner1/`, `partner2/`, ... and `line.json` naming them (`reading/linemodel.py`:
a strip RUN's model reads unsure is read by each partner too and the reading whose least sure
character is the surest is kept; a strip it reads sure keeps its own). RUN's accept threshold is
kept: a kept reading is at least as sure as RUN's own, and the verdict's accept level, learned
afresh, is what keeps accepted-but-wrong readings under its bound. Nothing is written over an
existing folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

READING = ("line.json", "model.onnx", "model.onnx.json")
DESCRIPTION = ("config.json", "metrics.json", "history.json")


def pair(out: Path, run: Path, partners: list[Path]) -> Path:
    """Write the paired run at `out` (staged beside it, moved in whole) and check it loads."""
    from mnistlab.errors import MnistlabError
    from mnistlab.reading.linemodel import LineModel

    if out.exists():
        raise MnistlabError(f"{out} already exists: name a new folder")
    if not partners:
        raise MnistlabError("name at least one partner")
    lead = LineModel(run)
    for p in partners:
        partner = LineModel(p)
        if partner.world != lead.world or partner.partners:
            raise MnistlabError(f"{p}: a partner must read the world {run} reads and have no partners itself")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name in (*READING, *DESCRIPTION, "model.keras"):
            if (run / name).is_file():
                shutil.copy2(run / name, staging / name)
        names = []
        for k, p in enumerate(partners, 1):
            name = f"partner{k}"
            (staging / name).mkdir()
            for f in (*READING, *DESCRIPTION):
                if (p / f).is_file():
                    shutil.copy2(p / f, staging / name / f)
            names.append(name)
        info = json.loads((staging / "line.json").read_text())
        info["partners"] = names
        info["partners_from"] = [str(p) for p in partners]
        (staging / "line.json").write_text(json.dumps(info, indent=2) + "\n")
        LineModel(staging)  # loads, partners and all
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the new run's folder")
    parser.add_argument("run", help="the line run that leads (its threshold and description are kept)")
    parser.add_argument("partners", nargs="+", help="line runs of the same world")
    args = parser.parse_args()

    from mnistlab.errors import MnistlabError

    try:
        out = pair(Path(args.out), Path(args.run), [Path(p) for p in args.partners])
    except MnistlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{out}: {args.run} with {len(args.partners)} partner(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
