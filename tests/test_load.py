"""A shorter version of benchmarks/serve_load.py: mixed good and bad requests at concurrency 16."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_mixed_load_never_5xx(real_run):
    import serve_load

    result = serve_load.run(str(real_run.path), requests=400, concurrency=16, bad_share=0.5)
    load = result["load"]
    assert load["unexpected"] == 0, load["examples"]
    assert not any(k.startswith("5") or k.startswith("error") for k in load["status_counts"])
    assert load["healthy_after"]
    assert sum(load["status_counts"].values()) == 400
