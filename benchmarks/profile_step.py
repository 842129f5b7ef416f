"""Where a training step's time goes: torch.profiler over a few steps, grouped by phase.

    python benchmarks/profile_step.py --method vicreg [--profile cpu] [--steps 5]

Phases are marked with record_function around the loop's own pieces (augmentation, the
method's forward, backward, optimiser, after-step update), and inside the forward the
backbone passes are told apart from the rest (heads and loss) with module hooks. Prints the
median milliseconds per step of each phase and its share, then the ten most expensive ops.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from sslkit import data as sdata
from sslkit.methods import get_method
from sslkit.train import TrainConfig, build_optimizer, warmup_cosine
from sslkit.train.loop import (_epoch_batch, _step_seed, build_run_backbone, build_run_recipe,
                               resolve_device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="vicreg")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    spec = get_method(args.method)
    cfg = TrainConfig(method=args.method, profile=args.profile).resolved(spec.train_defaults)
    data = sdata.load("shapes", split="train")
    torch.manual_seed(0)
    backbone = build_run_backbone(cfg, data.image_size)
    method = spec.module(backbone, spec.config(**cfg.method_args)).to(
        device, memory_format=torch.channels_last)
    mean, std = data.mean_std()
    recipe = build_run_recipe(cfg, method, data.image_size, mean, std)
    lr = warmup_cosine(cfg.lr * cfg.batch_size / 256, 0.0, 1000, cfg.warmup_steps)
    optimizer = build_optimizer(cfg.optimizer, method, lr=float(lr[0]),
                                weight_decay=cfg.weight_decay)
    method.on_train_start(1000)
    images = data.images.to(device)

    # backbone time inside the forward: hooks open/close a timer around every backbone call
    backbone_s = [0.0]
    kind = type(method.backbone)
    for m in method.modules():
        if type(m) is kind:
            m.register_forward_pre_hook(lambda mod, a: backbone_s.__setitem__(
                0, backbone_s[0] - time.perf_counter()))
            m.register_forward_hook(lambda mod, a, o: backbone_s.__setitem__(
                0, backbone_s[0] + time.perf_counter()))

    phases = {k: [] for k in ("augment", "forward: backbones", "forward: heads + loss",
                              "backward", "optimizer", "after step")}

    def step(i: int) -> None:
        idx = _epoch_batch(len(images), cfg.batch_size, 0, i)
        g = torch.Generator(device=device).manual_seed(_step_seed(0, i))
        marks = [time.perf_counter()]
        with record_function("augment"):
            views = [v.contiguous(memory_format=torch.channels_last)
                     for v in recipe(images[idx.to(device)], g)]
        marks.append(time.perf_counter())
        backbone_s[0] = 0.0
        with record_function("forward"):
            out = method(views, i)
        marks.append(time.perf_counter())
        with record_function("backward"):
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
        marks.append(time.perf_counter())
        with record_function("optimizer"):
            optimizer.step()
        marks.append(time.perf_counter())
        with record_function("after_step"):
            method.after_optimizer_step(i)
        marks.append(time.perf_counter())
        d = [b - a for a, b in zip(marks, marks[1:])]
        phases["augment"].append(d[0])
        phases["forward: backbones"].append(backbone_s[0])
        phases["forward: heads + loss"].append(d[1] - backbone_s[0])
        phases["backward"].append(d[2])
        phases["optimizer"].append(d[3])
        phases["after step"].append(d[4])

    for i in range(2):  # warm-up
        step(i)
    for v in phases.values():
        v.clear()
    with profile(activities=[ProfilerActivity.CPU]
                 + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])) as prof:
        for i in range(2, 2 + args.steps):
            step(i)
    total = sum(statistics.median(v) for v in phases.values())
    print(f"{args.method}, profile {args.profile} ({cfg.backbone}, batch {cfg.batch_size}), "
          f"{device}, medians of {args.steps} steps (the profiler adds some overhead)\n")
    print("| phase | ms per step | share |\n|---|---|---|")
    for name, values in phases.items():
        ms = 1e3 * statistics.median(values)
        print(f"| {name} | {ms:.1f} | {ms / 1e3 / total:.0%} |")
    print(f"| total | {1e3 * total:.1f} | |\n")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


if __name__ == "__main__":
    main()
