"""Train every method at the `cpu` profile on one data set and tabulate kNN and wall-clock.

    python benchmarks/cpu_profile_runs.py --data cifar10 --data-root DIR [--methods byol vicreg]

Each method's results JSON (config, device, wall-clock, history, metrics) is copied to
`results/<data>-cpu/<method>.json`. Runs are resumable twice over: a finished method is
skipped, and an interrupted one resumes from its checkpoint in `runs/`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from sslkit.methods import METHODS
from sslkit.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    args = parser.parse_args()

    target = ROOT / "results" / f"{args.data}-{args.profile}"
    target.mkdir(parents=True, exist_ok=True)
    for name in args.methods:
        done = target / f"{name}.json"
        if done.exists():
            print(f"{name}: done already ({done})")
            continue
        out = ROOT / "runs" / f"{args.data}-{args.profile}" / name
        cfg = TrainConfig(method=name, data=args.data, data_root=args.data_root,
                          profile=args.profile, out=str(out))
        result = train(cfg, progress=False)
        shutil.copy(out / "results.json", done)
        print(f"{name}: kNN {result.metrics['knn_top1']:.4f}  train {result.wall_s:.0f} s  "
              f"({result.device})", flush=True)

    print("\n| method | kNN top-1 | train wall-clock (s) |\n|---|---|---|")
    for name in args.methods:
        path = target / f"{name}.json"
        if path.exists():
            r = json.loads(path.read_text())
            print(f"| {name} | {r['metrics']['knn_top1']:.4f} | {r['wall_s']:.0f} |")


if __name__ == "__main__":
    main()
