"""Command line: `python -m sslkit train --method NAME [--data ...] [--profile ...] [--out DIR]`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from sslkit.train.config import PROFILES


def _parse_value(text: str):
    """`key=value` values: JSON when it parses (numbers, lists, true/false), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _key_values(items: list[str], flag: str) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"{flag} takes key=value pairs (e.g. {flag} tau=0.99); got {item!r}")
        key, value = item.split("=", 1)
        out[key.replace("-", "_")] = _parse_value(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    from sslkit.data import DATASETS
    from sslkit.methods import METHODS

    parser = argparse.ArgumentParser(prog="python -m sslkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a method and report its kNN accuracy")
    c = sub.add_parser("config", help="print a run's resolved config and where each value "
                                      "comes from (the same arguments as train)")
    for t in (t, c):
        _add_run_arguments(t, DATASETS, METHODS)

    sub.add_parser("list", help="list methods, data sets and profiles")
    return parser


def _add_run_arguments(t, DATASETS, METHODS) -> None:
    t.add_argument("--method", required=True, help=f"one of: {', '.join(sorted(METHODS))}")
    t.add_argument("--data", default="shapes",
                   help=f"one of: {', '.join(DATASETS)} (default: shapes, embedded, no download)")
    t.add_argument("--data-root", default=None,
                   help="folder holding the data set (ImageFolder layout root/train/<class>/ "
                        "also works for cifar10/cifar100)")
    t.add_argument("--profile", default="smoke", choices=sorted(PROFILES),
                   help="run size: smoke (<1 min, CI), cpu (~5 min on 2 cores), gpu (one GPU)")
    t.add_argument("--out", default=None,
                   help="run folder for checkpoints and results.json (default: runs/METHOD-DATA-PROFILE)")
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--minutes", type=float, default=None,
                   help="size the run to this many minutes of training on this machine "
                        "(measures a few steps first; replaces --steps)")
    t.add_argument("--max-seconds", type=float, default=None,
                   help="stop once this many seconds of training are spent, by the clock "
                        "(evaluation excluded); --steps is then the schedules' length, laid "
                        "out over the budget (TrainConfig.max_seconds)")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None, help="base learning rate at batch 256")
    t.add_argument("--optimizer", default=None, choices=["sgd", "adamw", "lars"])
    t.add_argument("--view-size", type=int, default=None,
                   help="side of the training views in px (default: the profile's; cpu: 24)")
    t.add_argument("--backbone", default=None)
    t.add_argument("--norm", default="bn", choices=["bn", "gn_ws", "none"])
    t.add_argument("--device", default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--compile", action="store_true", help="torch.compile the method")
    t.add_argument("--set", nargs="*", metavar="KEY=VALUE", default=[],
                   help="method hyper-parameters, e.g. --set tau=0.99 predictor=false")
    t.add_argument("--recipe-set", nargs="*", metavar="KEY=VALUE", default=[],
                   help="augmentation overrides, e.g. --recipe-set color_jitter=0")
    t.add_argument("--no-resume", action="store_true",
                   help="refuse to reuse an existing checkpoint in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        from sslkit.data import DATASETS
        from sslkit.methods import METHODS
        print("methods:")
        for name, spec in sorted(METHODS.items()):
            print(f"  {name:15s} {spec.paper}")
        print("data sets:", ", ".join(DATASETS))
        print("profiles:", ", ".join(PROFILES))
        return 0

    import torch.distributed

    from sslkit import distributed
    from sslkit.data import DATASETS
    from sslkit.methods import get_method
    from sslkit.train import TrainConfig, train
    from sslkit.train.loop import load_data

    try:
        get_method(args.method)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.data not in DATASETS:
        print(f"error: unknown data set {args.data!r}; choose one of: {', '.join(DATASETS)}",
              file=sys.stderr)
        return 2
    out = args.out or str(Path("runs") / f"{args.method}-{args.data}-{args.profile}")
    if args.no_resume and (Path(out) / "checkpoint.pt").exists():
        print(f"error: {out}/checkpoint.pt exists and --no-resume was given; choose another "
              f"--out or delete it", file=sys.stderr)
        return 2
    cfg = TrainConfig(method=args.method, data=args.data, data_root=args.data_root,
                      profile=args.profile, steps=args.steps, max_seconds=args.max_seconds,
                      batch_size=args.batch_size,
                      lr=args.lr, optimizer=args.optimizer, view_size=args.view_size,
                      backbone=args.backbone, norm=args.norm, device=args.device, seed=args.seed,
                      compile=args.compile, out=out,
                      method_args=_key_values(args.set, "--set"),
                      recipe_args=_key_values(args.recipe_set, "--recipe-set"))
    if args.command == "config":
        from sslkit.train.config import explain

        spec = get_method(args.method)
        rows = explain(cfg, spec.train_defaults, spec.config)
        width = max(len(name) for name, _, _ in rows)
        for name, value, source in rows:
            print(f"{name:{width}s}  {value!r:28s}  {source}")
        return 0
    started = time.perf_counter()
    try:
        train_data, test_data = load_data(cfg)  # once: the probe and the untrained floor too
        if args.minutes is not None:
            if args.steps is not None or args.max_seconds is not None:
                raise ValueError("give --minutes (sized by a probe) or --steps / --max-seconds "
                                 "(a step count, a clock budget), not both")
            from sslkit.train.budget import steps_for_budget
            steps, per_step = steps_for_budget(cfg, args.minutes * 60,
                                               train_data=train_data, test_data=test_data)
            print(f"{per_step:.2f} s per step measured: {steps} steps fit in "
                  f"{args.minutes:g} min", file=sys.stderr)
            cfg = dataclasses.replace(cfg, steps=steps)
        result = train(cfg, train_data=train_data, test_data=test_data,
                       progress=not args.quiet)
    except KeyboardInterrupt as err:
        print(f"\n{err}", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        rank = distributed.rank()
        if distributed.is_distributed():  # torchrun: leave the group train() joined
            torch.distributed.destroy_process_group()
    if rank != 0:
        return 0  # under torchrun, process 0 reports and writes
    m = result.metrics
    print(f"{args.method} on {args.data} [{args.profile}] — {result.device}")
    print(f"train wall-clock {result.wall_s:.1f} s (total {time.perf_counter() - started:.1f} s)")
    extra = f", std(l2-normalised z) {m['std_l2']:.3f}, effective rank {m['rank']:.1f}" \
        if "std_l2" in m else ""
    print(f"kNN top-1 accuracy: {m['knn_top1']:.4f}{extra}")
    print(f"results: {Path(out) / 'results.json'}")
    # the floor the run must beat: the same backbone untrained, by the same kNN protocol
    from sslkit.course import random_init_knn
    untrained = random_init_knn(result.config, train_data, test_data)
    print(f"kNN top-1 {m['knn_top1']:.2f} (untrained {untrained:.2f})")
    return 0
