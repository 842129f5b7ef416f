"""Every method for the same wall-clock budget on CIFAR-10, on this CPU, then weighted kNN.

    python benchmarks/cpu_budget.py --data-root DIR [--minutes 5] [--methods byol vicreg]
                                    [--peers lightly] [--out results/cpu_budget.json]

Each sslkit method trains at the `cpu` profile (SmallCNN, 32 px, its per-method defaults).
A probe of a few real steps measures its speed on this machine first, and the run is sized
to fit the budget (`sslkit.train.budget.steps_for_budget`): its cosine schedules then end
where the budget does. The `--peers lightly` rows train lightly's version of BYOL, SimSiam,
Barlow Twins, VICReg and DINO (benchmarks/peers/lightly_methods.py) with the same backbone,
batch, optimiser, schedule and budget, its per-image transforms in a 2-worker DataLoader.

kNN: DINO's weighted kNN (k=20, T=0.07) on the backbone's pooled features; bank = 10,000
random training images, queries = 2,000 random test images (the `cpu` profile's sizes).

The JSON is rewritten after every run, so an interrupted benchmark resumes where it
stopped (finished rows are kept; `--rerun` redoes them); an interrupted sslkit run resumes
from its checkpoint in runs/cpu_budget/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from sslkit import data as sdata  # noqa: E402
from sslkit.methods import METHODS  # noqa: E402
from sslkit.train import TrainConfig, build_optimizer, train, warmup_cosine  # noqa: E402
from sslkit.train.budget import steps_for_budget  # noqa: E402
from sslkit.train.loop import (_git_commit, build_run_backbone, device_description,  # noqa: E402
                               knn_eval, resolve_device)

GOAL_KNN = 0.50  # issue 5: every joint-embedding method; AAE is reported without a goal


def run_sslkit(name: str, args, train_data, test_data) -> dict:
    cfg = TrainConfig(method=name, data=args.data, data_root=args.data_root,
                      profile=args.profile, seed=args.seed, device=args.device)
    steps, per_step = steps_for_budget(cfg, args.minutes * 60, train_data=train_data,
                                       test_data=test_data)
    out = ROOT / "runs" / f"budget-{args.profile}" / name
    run = train(dataclasses.replace(cfg, steps=steps, out=str(out)), train_data=train_data,
                test_data=test_data, progress=not args.quiet)
    return {"library": "sslkit", "knn_top1": run.metrics["knn_top1"], "wall_s": run.wall_s,
            "steps": steps, "probe_s_per_step": per_step,
            "images_per_s": steps * run.config.batch_size / run.wall_s,
            "eval_wall_s": run.metrics["eval_wall_s"],
            "final_loss": run.history[-1]["loss"], "config": run.config.to_dict()}


class _PILViews(torch.utils.data.Dataset):
    """uint8 (N, 3, H, W) images as PIL images through a lightly multi-view transform."""

    def __init__(self, images: torch.Tensor, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i].permute(1, 2, 0).numpy()))


def _lightly_steps(name, cfg, train_data, steps, *, seed, device, workers):
    """Train lightly's `name` for `steps`; returns (model, per-step wall-clock, final loss).

    On CUDA it gets what sslkit's loop uses there too: bf16 autocast and channels_last.
    """
    from contextlib import nullcontext

    from peers import lightly_methods

    torch.manual_seed(seed)
    backbone = build_run_backbone(cfg, train_data.image_size)
    mean, std = train_data.mean_std()
    # lightly's transforms crop to the same view size as sslkit's recipe at this profile
    model, transform = lightly_methods.build(
        name, backbone, cfg.view_size or train_data.image_size, mean, std,
        n_local=cfg.recipe_args.get("n_local", 4))
    cuda = device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last if cuda else torch.preserve_format)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    loader = torch.utils.data.DataLoader(
        _PILViews(train_data.images, transform), batch_size=cfg.batch_size, shuffle=True,
        drop_last=True, num_workers=workers, persistent_workers=True, pin_memory=cuda,
        generator=torch.Generator().manual_seed(seed))
    lr = warmup_cosine(cfg.lr * cfg.batch_size / 256, 0.0, steps, min(cfg.warmup_steps, steps))
    optimizer = build_optimizer(cfg.optimizer, model, lr=float(lr[0]),
                                weight_decay=cfg.weight_decay)
    model.train()
    times, step = [], 0
    t = time.perf_counter()
    while step < steps:
        for views in loader:
            for group in optimizer.param_groups:
                group["lr"] = float(lr[step])
            views = [v.to(device, non_blocking=True) for v in views]
            with autocast:
                loss = model.loss(views, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            model.before_optimizer_step(step)
            optimizer.step()
            model.after_optimizer_step(step, steps)
            step += 1
            if cuda:
                torch.cuda.synchronize()
            now = time.perf_counter()
            times.append(now - t)
            t = now
            if step == steps:
                break
    if not torch.isfinite(loss.detach()):
        raise FloatingPointError(f"lightly {name}: loss {float(loss)}")
    return model, times, float(loss.detach())


def run_lightly(name: str, args, train_data, test_data) -> dict:
    import lightly

    from sslkit.methods import get_method

    cfg = TrainConfig(method=name, data=args.data, data_root=args.data_root,
                      profile=args.profile, seed=args.seed,
                      device=args.device).resolved(get_method(name).train_defaults)
    device = resolve_device(args.device)
    kw = dict(seed=args.seed, device=device, workers=args.workers)
    _, probe, _ = _lightly_steps(name, cfg, train_data, 10, **kw)
    per_step = statistics.median(probe[2:])
    steps = max(int(args.minutes * 60 / per_step), 1)
    t0 = time.perf_counter()
    model, _, final_loss = _lightly_steps(name, cfg, train_data, steps, **kw)
    wall = time.perf_counter() - t0
    mean, std = train_data.mean_std()
    t_eval = time.perf_counter()
    knn = knn_eval(model.backbone, train_data, test_data, mean, std, cfg, device)
    return {"library": f"lightly {lightly.__version__}", "knn_top1": knn, "wall_s": wall,
            "steps": steps, "probe_s_per_step": per_step,
            "images_per_s": steps * cfg.batch_size / wall,
            "eval_wall_s": time.perf_counter() - t_eval, "final_loss": final_loss,
            "config": {**cfg.to_dict(), "pipeline": "lightly transforms, PIL per image, "
                                                    f"DataLoader num_workers={args.workers}"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--data-root", default=os.environ.get("SSLKIT_CIFAR10"),
                        help="CIFAR-10 folder (JPEG ImageFolder copy or torchvision's)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--profile", default="cpu", help="run size: cpu (default) or gpu")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader workers of the per-image (lightly) pipeline")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--peers", nargs="*", default=[], choices=["lightly"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "results" / "cpu_budget.json"))
    parser.add_argument("--rerun", action="store_true", help="redo finished rows")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() and not args.rerun else {}
    report.setdefault("methods", {})
    report.setdefault("peers", {})
    train_data = sdata.load(args.data, split="train", root=args.data_root)
    test_data = sdata.load(args.data, split="test", root=args.data_root)
    peer_methods = ()
    if args.peers:
        from peers.lightly_methods import METHODS as peer_methods
    jobs = []  # each sslkit run right before its lightly twin: both see the same machine
    for m in args.methods:
        jobs.append(("methods", m, run_sslkit))
        jobs += [("peers", f"{peer}:{m}", run_lightly) for peer in args.peers
                 if m in peer_methods]
    for table, key, runner in jobs:
        if key in report[table]:
            print(f"{key}: done already", flush=True)
            continue
        name = key.split(":")[-1]
        row = runner(name, args, train_data, test_data)
        report[table][key] = row
        report.update(
            device=device_description(resolve_device(args.device)), profile=args.profile,
            cpu=platform.processor(),
            cores=os.cpu_count(), torch=torch.__version__, commit=_git_commit(),
            data=args.data, budget_s=args.minutes * 60, goal_knn=GOAL_KNN,
            knn_protocol="weighted kNN k=20 T=0.07 on pooled backbone features; bank and "
                         "queries: the profile's eval_train_size / eval_test_size random "
                         "images (cpu: 10,000 train, 2,000 test; gpu: all)",
            omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))
        tmp = out.with_suffix(".tmp")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(out)
        print(f"{key}: kNN {row['knn_top1']:.4f}  {row['steps']} steps in "
              f"{row['wall_s']:.0f} s ({row['images_per_s']:.0f} img/s)", flush=True)
    print_table(report)


def print_table(report: dict) -> None:
    print(f"\n{report.get('device')}; budget {report.get('budget_s', 0) / 60:.1f} min\n")
    print("| method | sslkit kNN | wall (s) | steps | lightly kNN | wall (s) | steps | "
          "kNN ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in report["methods"].items():
        peer = report["peers"].get(f"lightly:{name}")
        cells = [name, f"{row['knn_top1']:.3f}", f"{row['wall_s']:.0f}", str(row["steps"])]
        if peer:
            cells += [f"{peer['knn_top1']:.3f}", f"{peer['wall_s']:.0f}", str(peer["steps"]),
                      f"{row['knn_top1'] / peer['knn_top1']:.2f}"]
        else:
            cells += ["", "", "", ""]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
