"""Compare variants of a run at equal wall-clock: how the `cpu` profile's defaults were chosen.

    python benchmarks/sweep.py --out sweep.json --seconds 150 --data-root DIR --variants '{
        "base":  {"method": "vicreg"},
        "bs128": {"method": "vicreg", "batch_size": 128},
        "e512":  {"method": "vicreg", "method_args": {"expander": [512, 512, 512]}}}'

Each variant is a set of TrainConfig fields on top of the `cpu` profile on CIFAR-10. It is
sized to the budget by `sslkit.train.budget.steps_for_budget` (so a faster variant gets more
steps, as it would on a laptop), trained, and scored by the profile's kNN. Variants run one
after another and the JSON is rewritten after each, so an interrupted sweep resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from sslkit import data as sdata
from sslkit.train import TrainConfig, train
from sslkit.train.budget import steps_for_budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--variants", required=True, help="JSON: {name: {field: value}}")
    args = parser.parse_args()

    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    train_data = sdata.load(args.data, split="train", root=args.data_root)
    test_data = sdata.load(args.data, split="test", root=args.data_root)
    for name, fields in json.loads(args.variants).items():
        if name in results:
            continue
        cfg = TrainConfig(profile="cpu", data=args.data, data_root=args.data_root, **fields)
        steps, per_step = steps_for_budget(cfg, args.seconds, train_data=train_data,
                                           test_data=test_data)
        run = train(dataclasses.replace(cfg, steps=steps), train_data=train_data,
                    test_data=test_data, progress=False)
        last = run.history[-1]
        results[name] = dict(knn=run.metrics["knn_top1"], steps=steps, sps=per_step,
                             wall=run.wall_s, loss=last["loss"], rank=last.get("rank"),
                             kw=fields)
        out.write_text(json.dumps(results, indent=1))
        print(f"{name}: kNN {results[name]['knn']:.4f}, {steps} steps in {run.wall_s:.0f} s",
              flush=True)
    print("\n| variant | kNN | steps | train (s) | probe s/step |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['knn']:.3f} | {r['steps']} | {r['wall']:.0f} | {r['sps']:.2f} |")


if __name__ == "__main__":
    main()
