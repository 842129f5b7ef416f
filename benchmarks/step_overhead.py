"""Step overhead: one training step against the backbone passes it cannot avoid.

    python benchmarks/step_overhead.py [--profile cpu] [--methods byol vicreg] [--repeats 8]

For each method, in the same process and on the same batch:

- step: the training loop's own step (`sslkit.train.loop._train_step`): augmentation, the
  method's forward (backbones, heads, loss), backward, optimiser, EMA / center updates.
- backbone: only the backbone passes that step makes. They are recorded with forward hooks
  during a real step (which backbone, the input shape, with or without gradient: views,
  local crops, EMA-target forwards), then replayed on random inputs of the same shapes:
  forward, and backward through the ones that had a gradient.

overhead = step / backbone (goal <= 1.2). The excess (step - backbone) is split into the
augmentation (timed alone on the batch), the optimiser step (timed alone on that step's
gradients) and the rest: the method's heads and loss, forward and backward, and its after-step
updates. All figures are medians of `--repeats` timings after 2 warm-up steps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from sslkit import data as sdata
from sslkit.methods import METHODS
from sslkit.train import TrainConfig
from sslkit.train.loop import _train_step, device_description, resolve_device, set_up


def _median_time(fn, repeats: int, device: torch.device) -> float:
    times = []
    for i in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        fn(i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:  # warm-up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _backbones(method: nn.Module) -> list[nn.Module]:
    """The method's backbone and any copies of it (EMA targets, a second branch)."""
    kind = type(method.backbone)
    return [m for m in method.modules() if type(m) is kind]


def _first_image_layer(backbone: nn.Module) -> nn.Module:
    """The first module every image goes through, so forward_stages() calls are seen too."""
    for m in backbone.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not list(m.children()):
            return m
    return backbone


def measure(name: str, profile: str, data: sdata.ImageData, device: torch.device,
            repeats: int) -> dict:
    # the run exactly as `train` sets it up (channels-last on CPU and CUDA, its recipe,
    # optimiser and schedules), so the step timed here is the loop's own
    run = set_up(TrainConfig(method=name, profile=profile), data, data, device=device)
    cfg, method, recipe, optimizer = run.cfg, run.method, run.recipe, run.optimizer
    method.train()
    images = run.images

    def step(i):
        _train_step(run, i)

    # record the backbone passes of one real step
    calls, handles = [], []
    for b in _backbones(method):
        def hook(module, args, b=b):
            calls.append((b, tuple(args[0].shape), torch.is_grad_enabled()))
        handles.append(_first_image_layer(b).register_forward_pre_hook(hook))
    step(0)
    for h in handles:
        h.remove()

    def backbone_only(i):
        outputs = []
        for b, shape, grad in calls:
            x = torch.randn(shape, device=device)
            if run.channels_last:  # the layout the loop gives the backbone
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.set_grad_enabled(grad):
                y = b(x)
            if grad:
                outputs.append(y.float().mean())
        torch.stack(outputs).sum().backward()

    batch = images[:cfg.batch_size]
    g = torch.Generator(device=device).manual_seed(0)
    t_step = _median_time(step, repeats, device)
    t_backbone = _median_time(backbone_only, repeats, device)
    t_augment = _median_time(lambda i: recipe(batch, g), repeats, device)
    step(0)  # leaves this step's gradients in place for the optimiser alone
    t_optimizer = _median_time(lambda i: optimizer.step(), repeats, device)
    method.zero_grad(set_to_none=True)
    # where the excess over the backbone passes goes: the augmentation (the same recipe for
    # every method), the optimiser (over backbone and head parameters), and the rest: the
    # method's heads and loss, forward and backward, and its after-step updates (EMA, center)
    trainable = [(n, p) for n, p in method.named_parameters() if p.requires_grad]
    head_params = sum(p.numel() for n, p in trainable if not n.startswith("backbone."))
    all_params = sum(p.numel() for _, p in trainable)
    heads_ms = 1e3 * (t_step - t_backbone - t_augment - t_optimizer)
    return {"step_ms": 1e3 * t_step, "backbone_ms": 1e3 * t_backbone,
            "augment_ms": 1e3 * t_augment, "optimizer_ms": 1e3 * t_optimizer,
            "heads_loss_ms": heads_ms, "overhead": t_step / t_backbone,
            "overhead_without_augmentation": (t_step - t_augment) / t_backbone,
            "head_parameter_share": head_params / all_params,
            "backbone_passes": [f"{'grad' if g else 'no-grad'} {s}" for _, s, g in calls],
            "batch_size": cfg.batch_size, "backbone": cfg.backbone,
            "view_size": cfg.view_size, "channels_last": run.channels_last}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    device = resolve_device(args.device)
    data = sdata.load("shapes", split="train")  # speed does not depend on the pixels
    rows = {}
    print(f"{device_description(device)}; profile {args.profile}; medians of {args.repeats}\n")
    print("| method | step (ms) | backbone passes (ms) | overhead | excess: augmentation "
          "| optimiser | heads, loss, updates | overhead without augmentation |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.methods:
        r = measure(name, args.profile, data, device, args.repeats)
        rows[name] = r
        print(f"| {name} | {r['step_ms']:.0f} | {r['backbone_ms']:.0f} | {r['overhead']:.2f} | "
              f"{r['augment_ms']:.0f} | {r['optimizer_ms']:.0f} | {r['heads_loss_ms']:.0f} | "
              f"{r['overhead_without_augmentation']:.2f} |", flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {"device": device_description(device), "profile": args.profile,
             "repeats": args.repeats, "methods": rows}, indent=1))


if __name__ == "__main__":
    main()
