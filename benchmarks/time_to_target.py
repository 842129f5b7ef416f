"""Training minutes to reach a kNN target (0.50 on CIFAR-10), per joint-embedding method.

    python benchmarks/time_to_target.py --data-root DIR [--minutes 15] [--eval-every 250]
                                        [--methods vicreg byol] [--target 0.5]
                                        [--stop-at-target]
    python benchmarks/time_to_target.py --data-root DIR --budgets 5 10 15   # runs per budget
    python benchmarks/time_to_target.py --from runs/x/results.json ...      # curves of runs made
    python benchmarks/time_to_target.py --smoke

Two ways to get a kNN-against-training-seconds curve, both with the `cpu` profile, the time
stop rule of benchmarks/cpu_budget.py (`TrainConfig.max_seconds`) and kNN over the whole
train and test sets (`sslkit.course.FULL_KNN`):
- along one run (the default): one `--minutes` run per method that evaluates every
  `--eval-every` steps (`TrainConfig.eval_every`; evaluation is not training time), plus the
  untrained network at 0 s. Its schedules end at `--minutes`, so at an earlier time t the
  learning rate has not decayed yet: the kNN at t is usually below what a run sized to t
  reaches, and the crossing found this way tends to overstate the time needed.
  `--stop-at-target` ends the run at its first evaluation at or above the target
  (`TrainConfig.stop_at_knn`): the crossing is the same, since every step reads its
  schedules by its own time, and a method that crosses at 3 minutes no longer trains 15.
- `--budgets M1 M2 ...`: one run per budget, each sized to its own minutes; the curve is
  their final kNN figures. Costs more runs, measures what a run of that length gets.

The crossing: the first evaluation at or above the target; the time is interpolated
linearly between it and the evaluation before it (the last one below), and both bracketing
evaluations are reported, so the interpolation's span is visible. "not reached" gives the
best kNN and when it was measured. "CPU-minutes" here are training minutes of wall-clock on
this machine (2 cores), the budget's own clock.

Resumable: runs checkpoint into runs/time_to_target/ and the JSON keeps finished methods.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from sslkit import data as sdata  # noqa: E402
from sslkit.course import FULL_KNN, random_init_knn  # noqa: E402
from sslkit.methods import METHODS  # noqa: E402
from sslkit.train import TrainConfig, train  # noqa: E402
from sslkit.train.budget import steps_for_budget  # noqa: E402
from sslkit.train.loop import _git_commit, device_description, resolve_device  # noqa: E402

JOINT_EMBEDDING = [m for m in METHODS if m != "aae"]  # AAE reconstructs: no kNN goal
SMOKE = dict(data="shapes", profile="smoke", minutes=0.3, eval_every=25, methods=["vicreg"],
             knn="profile", probe_steps=4,
             out=str(ROOT / "runs" / "time_to_target-smoke.json"))


def first_crossing(curve: list[tuple[float, float]], target: float) -> dict:
    """When a (seconds, kNN) curve first reaches `target`, interpolated linearly in time
    between the first point at or above it and the point before it."""
    points = sorted(curve)
    for i, (t, knn) in enumerate(points):
        if knn >= target:
            if i == 0:  # already at the first point: no point below to interpolate from
                return {"seconds": t, "bracket": [[t, knn]], "reached": True,
                        "interpolation": "none: the first evaluation already reaches it"}
            t0, k0 = points[i - 1]
            seconds = t0 + (target - k0) * (t - t0) / (knn - k0)
            return {"seconds": seconds, "bracket": [[t0, k0], [t, knn]], "reached": True,
                    "interpolation": "linear in training seconds between the bracketing "
                                     "evaluations"}
    best_t, best = max(points, key=lambda p: p[1])
    return {"seconds": None, "reached": False, "best_knn": best, "best_at_s": best_t}


def curve_of(results: dict) -> list[tuple[float, float]]:
    """(training seconds, kNN) of a run's results.json: each logged evaluation, and the final
    kNN at the run's training seconds (when the last step was not an evaluation step)."""
    history = results["history"]
    curve = [(h["time_s"], h["knn_top1"]) for h in history if "knn_top1" in h]
    final = results["metrics"].get("knn_top1")
    if final is not None and not (history and "knn_top1" in history[-1]):
        curve.append((results["wall_s"], final))
    return curve


def describe(args) -> str:
    """How the curve is made: a stored entry made another way is measured again."""
    if args.budgets:
        return f"final kNN of one run per budget ({', '.join(f'{m:g}' for m in args.budgets)} min)"
    return (f"evaluations every {args.eval_every} steps along one {args.minutes:g}-min run"
            + (", stopped at the target" if args.stop_at_target else ""))


def run_config(name: str, args, minutes: float, eval_every: int, seed: int) -> TrainConfig:
    sizes = FULL_KNN if args.knn == "full" else {}
    folder = ROOT / "runs" / "time_to_target" / f"{args.data}-{args.profile}"
    stop = args.target if eval_every and args.stop_at_target else None
    return TrainConfig(method=name, data=args.data, data_root=args.data_root,
                       profile=args.profile, seed=seed, device=args.device,
                       max_seconds=minutes * 60, eval_every=eval_every, stop_at_knn=stop,
                       out=str(folder / (f"{name}-{minutes:g}min-eval{eval_every}-seed{seed}"
                                         + ("-stop" if stop is not None else ""))),
                       **sizes)


def train_curve_point(cfg: TrainConfig, args, train_data, test_data) -> dict:
    """Train (or resume, or read back) one time-budget run; its results.json."""
    results = Path(cfg.out) / "results.json"
    if results.exists() and not args.rerun:
        saved = json.loads(results.read_text())
        if saved["config"]["max_seconds"] == cfg.max_seconds and \
                saved["config"]["eval_every"] == cfg.eval_every and \
                saved["config"].get("stop_at_knn") == cfg.stop_at_knn:
            return saved
    steps, _ = steps_for_budget(cfg, cfg.max_seconds, train_data=train_data,
                                test_data=test_data, probe_steps=args.probe_steps)
    train(dataclasses.replace(cfg, steps=steps), train_data=train_data, test_data=test_data,
          progress=not args.quiet)
    return json.loads(results.read_text())


def measure(name: str, args, train_data, test_data) -> dict:
    if args.budgets:  # one run per budget: each point is a run sized to its minutes
        runs = [train_curve_point(run_config(name, args, m, 0, args.seed), args, train_data,
                                  test_data) for m in args.budgets]
        curve = [(r["wall_s"], r["metrics"]["knn_top1"]) for r in runs]
        config = runs[-1]["config"]
    else:  # one run, evaluated along the way
        cfg = run_config(name, args, args.minutes, args.eval_every, args.seed)
        saved = train_curve_point(cfg, args, train_data, test_data)
        curve = curve_of(saved)
        config = saved["config"]
    untrained = random_init_knn(TrainConfig(**{**config, "out": None}), train_data, test_data)
    curve = [(0.0, untrained)] + curve
    return {"curve": [list(p) for p in curve], "how": describe(args), "untrained_knn": untrained,
            **first_crossing(curve, args.target), "config": config}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--data-root", default=os.environ.get("SSLKIT_CIFAR10"))
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", nargs="*", default=JOINT_EMBEDDING)
    parser.add_argument("--target", type=float, default=0.50)
    parser.add_argument("--minutes", type=float, default=15.0,
                        help="the run's budget when evaluating along one run")
    parser.add_argument("--eval-every", type=int, default=250,
                        help="steps between evaluations along the run (each whole-set kNN "
                             "costs ~40 s on 2 cores, outside the budget)")
    parser.add_argument("--stop-at-target", action="store_true",
                        help="end each run at its first evaluation at or above --target")
    parser.add_argument("--budgets", type=float, nargs="*", default=[],
                        help="minutes: one run per budget instead of one run evaluated along")
    parser.add_argument("--knn", choices=["full", "profile"], default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probe-steps", type=int, default=12)
    parser.add_argument("--from", dest="from_results", nargs="*", default=[],
                        help="results.json files of runs already made: read their curves")
    parser.add_argument("--out", default=str(ROOT / "results" / "time_to_target.json"))
    parser.add_argument("--rerun", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="the end-to-end check: shapes, smoke profile, one 18 s VICReg run")
    args = parser.parse_args(argv)
    if args.smoke:  # the smoke settings become the defaults; options given still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)

    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() and not args.rerun else {}
    if report.get("target", args.target) != args.target:
        report["methods"] = {}  # crossings of another target: measured again
    report.setdefault("methods", {})
    if args.from_results:
        for path in args.from_results:
            saved = json.loads(Path(path).read_text())
            curve = curve_of(saved)
            report["methods"][f"{saved['config']['method']} ({path})"] = {
                "curve": [list(p) for p in curve], "how": f"logged evaluations of {path}",
                **first_crossing(curve, args.target), "config": saved["config"]}
    else:
        train_data = sdata.load(args.data, split="train", root=args.data_root)
        test_data = sdata.load(args.data, split="test", root=args.data_root)
        for name in args.methods:
            if report["methods"].get(name, {}).get("how") == describe(args):
                print(f"{name}: done already ({describe(args)})", flush=True)
                continue
            report["methods"][name] = measure(name, args, train_data, test_data)
            report.update(device=device_description(resolve_device(args.device)),
                          commit=_git_commit(), data=args.data, profile=args.profile,
                          target=args.target, cores=os.cpu_count(),
                          omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))
            _write(out, report)
    report["target"] = args.target
    _write(out, report)
    print_table(report)


def _write(out: Path, report: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)


def print_table(report: dict) -> None:
    target = report["target"]
    print(f"\nminutes of training to kNN {target:.2f} ({report.get('device', '')})\n")
    print("| method | minutes to target | bracketing evaluations (s: kNN) | how |")
    print("|---|---|---|---|")
    for name, r in report["methods"].items():
        if r["reached"]:
            when = f"{r['seconds'] / 60:.1f}"
            bracket = ", ".join(f"{t:.0f}: {k:.3f}" for t, k in r["bracket"])
        else:
            when = f"not reached (best {r['best_knn']:.3f} at {r['best_at_s'] / 60:.1f} min)"
            bracket = ""
        print(f"| {name} | {when} | {bracket} | {r['how']} |")


if __name__ == "__main__":
    main()
