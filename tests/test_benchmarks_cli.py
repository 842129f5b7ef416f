"""Every benchmark script starts and prints its usage: a script that cannot even parse its
arguments would otherwise be found only hours into a queued run."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py")
                 if "argparse" in p.read_text())


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_benchmark_prints_its_usage(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_shapes_table_is_computed_from_the_stored_runs(tmp_path):
    """`shapes_learnability.py --table` reads the JSON: means, per-seed gains, seed counts."""
    run = lambda seed, trained, untrained: dict(seed=seed, trained=trained,  # noqa: E731
                                                untrained=untrained, steps=100 + seed)
    stored = {"minutes3": {
        "vicreg": {"untrained": 0.2, "trained": 0.8, "gain": 0.6,
                   "runs": [run(0, 0.7, 0.2), run(1, 0.8, 0.2), run(2, 0.9, 0.2)]},
        "byol": {"untrained": 0.2, "trained": 0.35, "gain": 0.15, "runs": [run(0, 0.35, 0.2)]},
    }}
    out = tmp_path / "shapes.json"
    out.write_text(__import__("json").dumps(stored))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "shapes_learnability.py"),
                           "--table", "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout
    assert "| vicreg | 3 | 100, 101, 102 | 0.200 | 0.800 | +0.600 | +0.500, +0.600, +0.700 |" in table
    assert "| byol | 1 | 100 | 0.200 | 0.350 | +0.150 | +0.150 |" in table
    assert "3 seeds for 1 of 10 methods" in table
    assert "byol (1)" in table
    assert "+0.20 or more for 1 of 2 measured methods" in table
    assert "smallest single gain is +0.150" in table
