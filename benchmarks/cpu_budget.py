"""Every method for the same wall-clock budget, several seeds, then kNN over the whole sets.

    python benchmarks/cpu_budget.py --data-root DIR [--minutes 5] [--seeds 3]
                                    [--methods byol vicreg] [--peers lightly]
                                    [--out results/cpu_budget.json]
    python benchmarks/cpu_budget.py --smoke      # the shapes, a few seconds per run

Each sslkit method trains at the `cpu` profile (SmallCNN, its per-method defaults) with a
time budget (`TrainConfig.max_seconds`): it stops once its training seconds reach the budget,
and its schedules (learning rate, EMA rate, ...) are laid out over that time, so they end
where the budget does (sslkit.train.loop). A probe of a few real steps sets only the
schedules' length (`steps`, so a 30-step warm-up stays about 30 steps), never where the run
stops. The `--peers lightly` rows train lightly's BYOL, SimSiam, Barlow Twins, VICReg and
DINO (benchmarks/peers/lightly_methods.py) with the same backbone, batch, optimiser,
schedule and stop rule, its per-image transforms in a DataLoader. Evaluation is not
training time for either.

kNN: DINO's eval_knn.py protocol, weighted kNN (k=20, T=0.07) on the backbone's pooled
features, the whole training set as the bank and the whole test set as queries
(`sslkit.course.FULL_KNN`; `--knn profile` uses the profile's subsets instead).

Seeds: each method and each peer runs `--seeds` seeds (0, 1, ...). An entry reports the mean
kNN over its seeds (`knn_top1`), the standard error of that mean (`knn_sem`) and each seed's
figures (`seeds`); `differences` gives sslkit minus lightly per method with Welch's t 95%
interval, and calls one library "ahead" only when that interval excludes 0.

Resumable: the JSON is rewritten after every seed, so an interrupted benchmark keeps its
finished seeds and skips them when run again (`--rerun` redoes them); an interrupted sslkit
run resumes from its checkpoint in runs/cpu_budget/ with the seconds it had trained. An
entry made under another protocol (budget, kNN sizes, profile, data) is started over.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from stats import mean_sem, welch_interval  # noqa: E402

from sslkit import data as sdata  # noqa: E402
from sslkit.course import FULL_KNN  # noqa: E402
from sslkit.methods import METHODS, get_method  # noqa: E402
from sslkit.train import TrainConfig, train  # noqa: E402
from sslkit.train.budget import steps_for_budget  # noqa: E402
from sslkit.train.loop import (_git_commit, device_description, knn_eval,  # noqa: E402
                               random_subset, resolve_device)

GOAL_KNN = 0.50  # issue 5: every joint-embedding method; AAE is reported without a goal
SMOKE = dict(data="shapes", profile="smoke", minutes=0.25, seeds=2, methods=["vicreg"],
             knn="profile", probe_steps=4, out=str(ROOT / "runs" / "cpu_budget-smoke.json"))


def base_config(name: str, seed: int, args) -> TrainConfig:
    """The run of method `name`, seed `seed`, at this benchmark's budget and kNN sizes."""
    sizes = FULL_KNN if args.knn == "full" else {}
    return TrainConfig(method=name, data=args.data, data_root=args.data_root,
                       profile=args.profile, seed=seed, device=args.device,
                       max_seconds=args.minutes * 60, **sizes)


def run_sslkit(name: str, seed: int, args, train_data, test_data) -> dict:
    cfg = base_config(name, seed, args)
    out = ROOT / "runs" / "cpu_budget" / f"{args.data}-{args.profile}" / f"{name}-seed{seed}"
    cfg = dataclasses.replace(cfg, out=str(out))
    # the schedules' length; a checkpoint in `out` gives its own, so an interrupted run resumes
    steps, per_step = steps_for_budget(cfg, cfg.max_seconds, train_data=train_data,
                                       test_data=test_data, probe_steps=args.probe_steps)
    run = train(dataclasses.replace(cfg, steps=steps), train_data=train_data,
                test_data=test_data, progress=not args.quiet)
    done = run.history[-1]["step"]  # the last step is always logged
    return {"knn_top1": run.metrics["knn_top1"], "wall_s": run.wall_s, "steps": done,
            "schedule_steps": steps, "last_schedule_step": run.history[-1]["schedule_step"],
            "probe_s_per_step": per_step, "images_per_s": done * run.config.batch_size / run.wall_s,
            "eval_wall_s": run.metrics["eval_wall_s"], "final_loss": run.history[-1]["loss"],
            "config": run.config.to_dict()}


def run_lightly(name: str, seed: int, args, train_data, test_data) -> dict:
    from peers import lightly_methods

    cfg = base_config(name, seed, args).resolved(get_method(name).train_defaults)
    device = resolve_device(args.device)
    kw = dict(seed=seed, device=device, workers=args.workers)
    # the same sizing as sslkit's: a probe of real steps sets the schedules' length only
    probe = lightly_methods.train(name, dataclasses.replace(cfg, max_seconds=None,
                                                            steps=args.probe_steps + 1),
                                  train_data, **kw)
    per_step = sum(probe.step_s[1:]) / len(probe.step_s[1:])  # the first step warms up
    steps = max(int(cfg.max_seconds / per_step), 1)
    cfg = dataclasses.replace(cfg, steps=steps)
    peer = lightly_methods.train(name, cfg, train_data, **kw)
    mean, std = train_data.mean_std()
    t_eval = time.perf_counter()
    knn = knn_eval(peer.model.backbone, train_data, test_data, mean, std, cfg, device)
    return {"knn_top1": knn, "wall_s": peer.wall_s, "steps": peer.steps,
            "schedule_steps": steps, "last_schedule_step": peer.schedule_steps[-1],
            "probe_s_per_step": per_step, "images_per_s": peer.steps * cfg.batch_size / peer.wall_s,
            "eval_wall_s": time.perf_counter() - t_eval, "final_loss": peer.final_loss,
            "config": {**cfg.to_dict(), "pipeline": "lightly transforms, PIL per image, "
                                                    f"DataLoader num_workers={args.workers}"}}


def protocol(config: dict) -> tuple:
    """What must match for seeds to be pooled into one entry."""
    return (config.get("max_seconds"), config.get("eval_train_size"),
            config.get("eval_test_size"), config.get("profile"), config.get("data"),
            config.get("knn_k"), config.get("knn_temperature"))


def summarize(library: str, seeds: dict[str, dict]) -> dict:
    """An entry: means over its seeds (kNN with its standard error) and each seed's row."""
    rows = [seeds[k] for k in sorted(seeds, key=int)]
    knn, sem = mean_sem([r["knn_top1"] for r in rows])

    def mean(key):
        return sum(r[key] for r in rows) / len(rows)

    return {"library": library, "knn_top1": knn, "knn_sem": sem, "n_seeds": len(rows),
            "wall_s": mean("wall_s"), "steps": round(mean("steps")),
            "images_per_s": mean("images_per_s"), "eval_wall_s": mean("eval_wall_s"),
            "final_loss": mean("final_loss"),
            "seeds": {k: {f: v for f, v in seeds[k].items() if f != "config"}
                      for k in sorted(seeds, key=int)},
            "config": rows[0]["config"]}


def differences(report: dict) -> dict:
    """sslkit minus each peer, per method, with Welch's interval over the seeds."""
    out = {}
    for key, peer in report["peers"].items():
        name = key.split(":")[-1]
        ours = report["methods"].get(name)
        if ours is None:
            continue
        w = welch_interval([r["knn_top1"] for r in ours["seeds"].values()],
                           [r["knn_top1"] for r in peer["seeds"].values()])
        w["verdict"] = {"a ahead": "sslkit ahead", "b ahead": f"{key.split(':')[0]} ahead"}.get(
            w["verdict"], w["verdict"])
        out[name] = {"peer": key, "sslkit_minus_peer": w.pop("difference"), **w}
    return out


def knn_protocol(args, train_data, test_data) -> str:
    cfg = base_config("vicreg", 0, args).resolved()
    bank = len(random_subset(train_data, cfg.eval_train_size, seed=1))
    queries = len(random_subset(test_data, cfg.eval_test_size, seed=2))
    whole = bank == len(train_data) and queries == len(test_data)
    return (f"weighted kNN k={cfg.knn_k} T={cfg.knn_temperature} on pooled backbone features; "
            f"bank {bank:,} training images, queries {queries:,} test images"
            + (" (the whole sets: DINO eval_knn.py)" if whole else " (random subsets)"))


def _peer_library(peer: str) -> str:
    import lightly
    return f"{peer} {lightly.__version__}"


def _has_lightly() -> bool:
    try:
        import lightly  # noqa: F401
    except ImportError:
        print("lightly is not installed (pip install -e '.[bench]'): no peer rows", flush=True)
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--data-root", default=os.environ.get("SSLKIT_CIFAR10"),
                        help="CIFAR-10 folder (JPEG ImageFolder copy or torchvision's)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 per method")
    parser.add_argument("--profile", default="cpu", help="run size: cpu (default) or gpu")
    parser.add_argument("--knn", choices=["full", "profile"], default="full",
                        help="full: whole train set as bank, whole test set as queries; "
                             "profile: the profile's eval_train_size / eval_test_size")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader workers of the per-image (lightly) pipeline")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--peers", nargs="*", default=[], choices=["lightly"])
    parser.add_argument("--probe-steps", type=int, default=12,
                        help="timed steps that size the schedules (not the stop)")
    parser.add_argument("--out", default=str(ROOT / "results" / "cpu_budget.json"))
    parser.add_argument("--rerun", action="store_true", help="redo finished seeds")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="the end-to-end check: shapes, smoke profile, 15 s runs, 2 seeds, "
                             "VICReg (and lightly's if installed); writes " + SMOKE["out"])
    args = parser.parse_args(argv)
    if args.smoke:  # the smoke settings become the defaults; options given still win
        parser.set_defaults(**SMOKE, peers=["lightly"] if _has_lightly() else [])
        args = parser.parse_args(argv)
    if args.seeds < 1 or args.minutes <= 0:
        parser.error("--seeds must be >= 1 and --minutes > 0")

    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    report.setdefault("methods", {})
    report.setdefault("peers", {})
    train_data = sdata.load(args.data, split="train", root=args.data_root)
    test_data = sdata.load(args.data, split="test", root=args.data_root)
    peer_methods = ()
    if args.peers:
        from peers.lightly_methods import METHODS as peer_methods
    # seed by seed, so an interrupted measurement has whole tables of its first seeds; each
    # sslkit run right before its lightly twin, so both see the same machine
    jobs = []
    for seed in range(args.seeds):
        for m in args.methods:
            jobs.append((seed, "methods", m, "sslkit", run_sslkit))
            jobs += [(seed, "peers", f"{peer}:{m}", _peer_library(peer), run_lightly)
                     for peer in args.peers if m in peer_methods]
    wanted = protocol(base_config("vicreg", 0, args).resolved().to_dict())
    for seed, table, key, library, runner in jobs:
        entry = report[table].get(key)
        if entry is not None and ("seeds" not in entry or protocol(entry["config"]) != wanted):
            print(f"{key}: stored under another protocol or without seeds: starting it over",
                  flush=True)
            entry = None
        seeds = {} if entry is None else {k: {**row, "config": entry["config"]}
                                           for k, row in entry["seeds"].items()}
        if str(seed) in seeds and not args.rerun:
            print(f"{key} seed {seed}: done already", flush=True)
            continue
        load_before = os.getloadavg()[0]
        row = runner(key.split(":")[-1], seed, args, train_data, test_data)
        row["load_avg_1min"] = [load_before, os.getloadavg()[0]]  # others' work slows a run
        seeds[str(seed)] = row
        report[table][key] = summarize(library, seeds)
        report.update(
            device=device_description(resolve_device(args.device)), profile=args.profile,
            cpu=platform.processor(), cores=os.cpu_count(), torch=torch.__version__,
            commit=_git_commit(), data=args.data, budget_s=args.minutes * 60,
            goal_knn=GOAL_KNN, knn_protocol=knn_protocol(args, train_data, test_data),
            stop_rule="wall-clock: a run stops once its training seconds (evaluation excluded) "
                      "reach budget_s; a step starting after s seconds reads the schedules at "
                      "floor(s / budget_s * steps), steps from a speed probe (sslkit.train."
                      "loop; the same rule in benchmarks/peers)",
            differences=differences(report),
            omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))
        tmp = out.with_suffix(".tmp")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(out)
        print(f"{key} seed {seed}: kNN {row['knn_top1']:.4f}  {row['steps']} steps in "
              f"{row['wall_s']:.0f} s ({row['images_per_s']:.0f} img/s)", flush=True)
    print_table(report)


def _knn_cell(entry: dict) -> str:
    sem = entry.get("knn_sem")
    return f"{entry['knn_top1']:.3f}" + (f" ± {sem:.3f}" if sem is not None else "") + \
        f" ({entry.get('n_seeds', 1)})"


def print_table(report: dict) -> None:
    print(f"\n{report.get('device')}; budget {report.get('budget_s', 0):.0f} s per run; "
          f"{report.get('knn_protocol')}\nkNN: mean ± standard error (seeds); difference: "
          f"sslkit - lightly with Welch's t 95% interval\n")
    print("| method | sslkit kNN | train (s) | steps | img/s | lightly kNN | train (s) | "
          "steps | img/s | difference [95% interval] | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    diffs = report.get("differences", {})
    for name, row in sorted(report["methods"].items(), key=lambda kv: -kv[1]["knn_top1"]):
        peer = report["peers"].get(f"lightly:{name}")
        cells = [name, _knn_cell(row), f"{row['wall_s']:.0f}", str(row["steps"]),
                 f"{row['images_per_s']:.0f}"]
        if peer:
            cells += [_knn_cell(peer), f"{peer['wall_s']:.0f}", str(peer["steps"]),
                      f"{peer['images_per_s']:.0f}"]
        else:
            cells += ["", "", "", ""]
        d = diffs.get(name)
        if d and d.get("ci"):
            cells += [f"{d['sslkit_minus_peer']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]",
                      d["verdict"]]
        elif d:
            cells += [f"{d['sslkit_minus_peer']:+.3f}", d["verdict"]]
        else:
            cells += ["", ""]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
