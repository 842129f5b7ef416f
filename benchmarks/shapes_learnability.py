"""Does self-supervised learning visibly work on the embedded shapes? (issue 12)

Every run is the command a user types, `python -m sslkit train --method M --profile P
--seed S`, in a subprocess: its wall-clock and CPU time (user + system, of the process and
its threads) include generating the data set, training and both kNN evaluations. Its last
line gives the trained kNN beside the untrained one (the same backbone at its random
initialisation, the same kNN protocol); the full-precision numbers are read back from the
run's results.json and recomputed with `course.random_init_knn`.

Parts (--part, any of them; default main):
    main       VICReg at the smoke profile (the README's main job), per seed
    smoke      every joint-embedding method at the smoke profile, per seed
    old        the photo recipe (`--recipe-set` cannot switch recipes, so in-process):
               VICReg with recipe="vicreg" on the shapes, i.e. what the main job did before
    minutes3   every joint-embedding method in a 3-minute run (see three_minute_run): the
               smoke data, recipe and evaluation, with the step count that 180 CPU-seconds
               of training buy that method at one thread (measured here, by CPU time)
    probes     factor_probes of the untrained and the trained VICReg backbone, with the
               shapes recipe, and with its recolouring or its new backgrounds switched off
               (the factor left un-augmented is kept)

    python benchmarks/shapes_learnability.py --part main smoke probes --seeds 0 1 2
    python benchmarks/shapes_learnability.py --part minutes3 --seeds 0 1 2
    python benchmarks/shapes_learnability.py --table      # benchmarks/README.md's table
Writes results/shapes_learnability.json (merged with the parts already there).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "shapes_learnability.json"
JOINT_EMBEDDING = ("vicreg", "byol", "simsiam", "barlowtwins", "dino", "selfclassifier", "wmse",
                   "twist", "corinfomax", "amdim")


def cli_run(method: str, profile: str, seed: int, extra: list[str] | None = None) -> dict:
    """One `python -m sslkit train` run: trained and untrained kNN, wall-clock and CPU seconds
    (os.wait4: this child's own user + system time, so runs may go side by side)."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-m", "sslkit", "train", "--method", method, "--profile", profile,
                 "--seed", str(seed), "--quiet", "--out", out, *(extra or [])],
                stdout=stdout, stderr=stderr, cwd=ROOT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            wall = time.perf_counter() - t0
            stdout.seek(0), stderr.seek(0)
            text, errors = stdout.read(), stderr.read()
        if child.returncode != 0:
            raise RuntimeError(f"{method} seed {seed} failed:\n{errors[-2000:]}")
        last = text.strip().splitlines()[-1]
        match = re.fullmatch(r"kNN top-1 ([0-9.]+) \(untrained ([0-9.]+)\)", last)
        if match is None:
            raise RuntimeError(f"the run's last line is not the kNN summary: {last!r}")
        results = json.loads((Path(out) / "results.json").read_text())
    cfg = results["config"]
    from sslkit import course
    from sslkit.train import TrainConfig
    from sslkit.train.loop import load_data
    config = TrainConfig(**cfg)
    untrained = course.random_init_knn(config, *load_data(config))
    return {"seed": seed, "trained": results["metrics"]["knn_top1"], "untrained": untrained,
            "last_line": last, "wall_s": round(wall, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "train_wall_s": round(results["wall_s"], 1), "steps": cfg["steps"],
            "recipe": cfg["recipe"], "recipe_args": cfg["recipe_args"]}


def cli_runs(jobs: list[tuple[str, int]], profile: str, workers: int) -> dict[str, list[dict]]:
    """cli_run for every (method, seed), `workers` at a time; runs grouped by method."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(lambda job: (job[0], cli_run(job[0], profile, job[1])), jobs))
    runs: dict[str, list[dict]] = {}
    for method, run in done:
        runs.setdefault(method, []).append(run)
    return runs


def summary(runs: list[dict]) -> dict:
    gains = [r["trained"] - r["untrained"] for r in runs]
    mean = lambda xs: round(sum(xs) / len(xs), 4)  # noqa: E731
    return {"untrained": mean([r["untrained"] for r in runs]),
            "trained": mean([r["trained"] for r in runs]), "gain": mean(gains),
            "cpu_s": mean([r["cpu_s"] for r in runs]), "wall_s": mean([r["wall_s"] for r in runs]),
            "runs": runs}


def in_process(method: str, seed: int, **fields) -> tuple[dict, object]:
    """A smoke run in this process (for what the CLI cannot set), with its untrained floor."""
    from sslkit import course, data
    from sslkit.train import TrainConfig, train

    t0, cpu0 = time.perf_counter(), time.process_time()
    train_data, test_data = data.load("shapes"), data.load("shapes", split="test")
    cfg = TrainConfig(method=method, profile="smoke", seed=seed, **fields)
    result = train(cfg, train_data=train_data, test_data=test_data, progress=False)
    untrained = course.random_init_knn(cfg, train_data, test_data)
    return ({"seed": seed, "trained": result.metrics["knn_top1"], "untrained": untrained,
             "wall_s": round(time.perf_counter() - t0, 1),
             "cpu_s": round(time.process_time() - cpu0, 1), "recipe": result.config.recipe,
             "recipe_args": result.config.recipe_args, "view_size": result.config.view_size},
            result)


THREE_MINUTES = 180.0  # training CPU-seconds of a "3-minute run"


def cpu_seconds_per_step(method: str, seed: int, train_data, test_data, short: int = 5,
                         long: int = 25) -> float:
    """CPU-seconds (this process, one thread) of one smoke training step of `method`: two
    throwaway runs of `short` and `long` steps, without kNN, and their difference over
    `long - short` steps, so set-up and the first steps' overheads cancel. CPU time, not the
    clock: on a shared machine the clock runs on while the others compute, and one thread's
    CPU time is the time the run takes on an idle core."""
    from sslkit.train import TrainConfig, train

    spent = []
    for steps in (short, long):
        cfg = TrainConfig(method=method, profile="smoke", seed=seed, steps=steps, warmup_steps=1,
                          log_every=10 * steps)
        cpu0 = time.process_time()
        train(cfg, train_data=train_data, test_data=test_data, progress=False, evaluate_knn=False)
        spent.append(time.process_time() - cpu0)
    return (spent[1] - spent[0]) / (long - short)


def three_minute_run(method: str, seed: int, budget: float = THREE_MINUTES) -> dict:
    """A "3-minute run": the smoke profile (2,048 training images, batch 64, the method's own
    smoke settings, the shapes recipe, the smoke kNN) with `steps` = the whole number of
    steps that `budget` CPU-seconds of training buy at one thread, from
    `cpu_seconds_per_step`. On an idle 2-core machine the training then takes `budget`
    seconds of the clock at one thread (less at two); data generation (about 3 s) and the
    two kNN evaluations (about 2 s) come on top. The schedules (warm-up, cosine, EMA) are
    laid out over those steps, as in any run of that length."""
    import torch

    from sslkit import data

    torch.set_num_threads(1)
    train_data, test_data = data.load("shapes"), data.load("shapes", split="test")
    per_step = cpu_seconds_per_step(method, seed, train_data, test_data)
    steps = int(budget / per_step)
    row, _ = in_process(method, seed, steps=steps)
    return {**row, "steps": steps, "cpu_s_per_step": round(per_step, 4), "budget_cpu_s": budget}


def probes(seed: int) -> dict:
    """Which factors the untrained and the trained backbones keep (kNN probes, chance beside)."""
    import torch

    from sslkit import data, evaluate
    from sslkit.train.loop import build_run_backbone, random_subset

    bank = random_subset(data.load("shapes"), 2048, seed=1)
    query = random_subset(data.load("shapes", split="test"), 1000, seed=2)
    out = {}
    for name, recipe_args in (("shapes recipe", {}), ("recolour=0", {"recolour": 0.0}),
                              ("background=0", {"background": 0.0})):
        row, result = in_process("vicreg", seed, recipe_args=recipe_args)
        mean, std = random_subset(data.load("shapes"), result.config.train_size, 0).mean_std()
        torch.manual_seed(result.config.seed)
        untrained = build_run_backbone(result.config, 32)
        for which, backbone in (("untrained", untrained), (name, result.backbone)):
            features = [evaluate.extract_features(backbone, d.images, mean, std) for d in (bank, query)]
            report = evaluate.factor_probes(features[0], bank, features[1], query)
            out[which] = {k: {"accuracy": round(v["accuracy"], 3), "chance": round(v["chance"], 3)}
                          for k, v in report.items()}
        out[name]["run"] = row
    return out


def main() -> None:
    global OUT  # --out: the file every part merges into
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", nargs="+", default=["main"],
                        choices=["main", "smoke", "old", "minutes3", "probes"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(JOINT_EMBEDDING))
    parser.add_argument("--smoke-seeds", nargs="+", type=int, default=None,
                        help="seeds of the smoke part (default: --seeds)")
    parser.add_argument("--workers", type=int, default=1,
                        help="runs side by side (CPU seconds are per run either way)")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON file to merge into")
    parser.add_argument("--table", action="store_true",
                        help="print the 3-minute table (Markdown) from --out, and train nothing")
    args = parser.parse_args()
    OUT = args.out
    if args.table:
        print(minutes3_table(json.loads(OUT.read_text()).get("minutes3", {})))
        return
    report: dict = {}  # only what this invocation measures: merged into the file at the end
    report["what"] = ("kNN top-1 (k=20, T=0.07; smoke: 2,048 bank / 1,000 queries) of the trained "
                      "backbone and of the same backbone untrained; wall_s and cpu_s per run "
                      "include data generation; 2 CPU cores, OMP_WAIT_POLICY=PASSIVE")
    report["script"] = "benchmarks/shapes_learnability.py"
    report["measured_beside"] = input_or_env_note()
    jobs = [("vicreg", s) for s in args.seeds] if "main" in args.part else []
    if "smoke" in args.part:
        jobs += [(m, s) for m in args.methods for s in args.smoke_seeds or args.seeds
                 if (m, s) not in jobs]
    runs = cli_runs(jobs, "smoke", args.workers)
    if "main" in args.part:
        report["main"] = summary([r for r in runs["vicreg"] if r["seed"] in args.seeds])
        print("main", {k: v for k, v in report["main"].items() if k != "runs"}, flush=True)
    if "smoke" in args.part:
        report.setdefault("smoke", {})
        for method in args.methods:
            report["smoke"][method] = summary(runs[method])
            print(method, {k: v for k, v in report["smoke"][method].items() if k != "runs"}, flush=True)
    if "old" in args.part:
        report["old_photo_recipe"] = summary([in_process("vicreg", s, recipe="vicreg")[0]
                                              for s in args.seeds])
        print("old", {k: v for k, v in report["old_photo_recipe"].items() if k != "runs"})
    if "minutes3" in args.part:
        report.setdefault("minutes3", {})
        report["minutes3_what"] = (
            "a 3-minute run: the smoke profile with the step count that 180 CPU-seconds of "
            "training buy the method at one thread (cpu_seconds_per_step, measured in the "
            "same process); cpu_s includes data generation, the probe runs excluded")
        for method in args.methods:
            for seed in args.seeds:
                # resumable: each run is written as it finishes, and a (method, seed) already
                # on disk is kept, unless its entry carries a note (stale settings)
                stored = json.loads(OUT.read_text()).get("minutes3", {}) if OUT.exists() else {}
                entry = stored.get(method, {})
                kept = [] if "note" in entry else entry.get("runs", [])
                if any(r["seed"] == seed for r in kept):
                    continue
                runs = sorted(kept + [three_minute_run(method, seed)], key=lambda r: r["seed"])
                report["minutes3"][method] = summary(runs)
                write_merged({"minutes3": {method: report["minutes3"][method]},
                              "minutes3_what": report["minutes3_what"]})
            if method in report["minutes3"]:
                print("minutes3", method, {k: v for k, v in report["minutes3"][method].items()
                                           if k != "runs"}, flush=True)
    if "probes" in args.part:
        report["probes"] = probes(args.seeds[0])
        print(json.dumps(report["probes"], indent=1))
    write_merged(report)


def minutes3_table(minutes3: dict, target: float = 0.20, seeds: int = 3) -> str:
    """benchmarks/README.md's 3-minute table and its summary lines, from the JSON's part."""
    if not minutes3:
        return "no 3-minute runs stored yet (--part minutes3)"
    rows = ["| method | seeds | steps (per seed) | untrained | trained | gain, mean | "
            "gain per seed |", "|---|---|---|---|---|---|---|"]
    gains = {}
    for method in JOINT_EMBEDDING:
        entry = minutes3.get(method)
        if not entry:
            continue
        runs = entry["runs"]
        gains[method] = [r["trained"] - r["untrained"] for r in runs]
        rows.append(f"| {method} | {len(runs)} | {', '.join(str(r['steps']) for r in runs)} | "
                    f"{entry['untrained']:.3f} | {entry['trained']:.3f} | {entry['gain']:+.3f} | "
                    f"{', '.join(f'{g:+.3f}' for g in gains[method])} |")
    full = [m for m, g in gains.items() if len(g) >= seeds]
    fewer = [f"{m} ({len(g)})" for m, g in gains.items() if len(g) < seeds]
    missing = [m for m in JOINT_EMBEDDING if m not in gains]
    smallest = min(min(g) for g in gains.values())
    lines = [f"- **{seeds} seeds for {len(full)} of {len(JOINT_EMBEDDING)} methods**"
             + (f": {', '.join(full)}." if fewer or missing else ".")]
    if fewer:
        lines.append(f"- **Fewer seeds so far (how many):** {', '.join(fewer)}.")
    if missing:
        lines.append(f"- **Not measured yet:** {', '.join(missing)}.")
    met = [m for m in gains if sum(gains[m]) / len(gains[m]) >= target]
    lines.append(f"- **Mean gain {target:+.2f} or more for {len(met)} of {len(gains)} measured "
                 f"methods.** The smallest single gain is {smallest:+.3f}.")
    return "\n".join(rows) + "\n\n" + "\n".join(lines)


def write_merged(report: dict) -> None:
    """Merge `report` into the file as it is now (other invocations may have written parts,
    or methods of a per-method part, meanwhile): per method within the per-method parts."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    on_disk = json.loads(OUT.read_text()) if OUT.exists() else {}
    for part in ("smoke", "minutes3"):
        if part in report:
            report = {**report, part: {**on_disk.get(part, {}), **report[part]}}
    OUT.write_text(json.dumps({**on_disk, **report}, indent=1))


def input_or_env_note() -> str:
    """What else ran on the machine: wall-clock is inflated when a background job shares it."""
    return os.environ.get("SSLKIT_BENCH_NOTE", "load average at start: %.1f, %.1f, %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
