"""Views per second of a recipe: batched on the device (sslkit) vs torchvision in a DataLoader.

    python benchmarks/augment.py                       # BYOL, 32 px, batch 256, CPU
    python benchmarks/augment.py --device cuda --repeats 10

(a) ours: the uint8 images live on the device; every step indexes a shuffled batch and calls
    ``build_recipe(...)(x, generator)`` (the training loop's path).
(b) torchvision: a Dataset holding the same uint8 tensor returns ``torchvision_recipe(...)``'s
    views of one image; a DataLoader with ``--workers`` processes batches them.

Each repetition is one pass over the N synthetic images (random uint8, so no data is needed).
After one warm-up pass each, the repetitions of (a) and (b) alternate, so that both see the
same load on a shared machine. Prints both medians and, last, ``ratio=X`` (ours / torchvision).
OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set): see below.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# On a shared machine, libgomp's default spin-waiting makes every multi-threaded torch op
# stall when another process holds a core: measured here at load 8 on 2 cores, BYOL with 2
# threads ran at 360 views/s against 5,800 with 1 thread; with passive waiting, 4,500.
# Must be set before torch starts OpenMP; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from sslkit.augment import build_recipe, torchvision_recipe

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10 statistics


class ViewDataset(Dataset):
    """Per-image views of a uint8 (N, 3, H, W) tensor, as a DataLoader pipeline computes them."""

    def __init__(self, images: torch.Tensor, recipe):
        self.images = images
        self.recipe = recipe

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return tuple(self.recipe(self.images[index]))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_ours(images: torch.Tensor, recipe, batch_size: int, seed: int) -> float:
    """One pass over the images; returns views per second."""
    device = images.device
    generator = torch.Generator(device=device).manual_seed(seed)
    _sync(device)
    start = time.perf_counter()
    order = torch.randperm(len(images), generator=generator, device=device)
    n_views = 0
    for begin in range(0, len(images) - batch_size + 1, batch_size):
        views = recipe(images[order[begin:begin + batch_size]], generator)
        n_views += sum(len(v) for v in views)
    _sync(device)
    return n_views / (time.perf_counter() - start)


def run_torchvision(loader: DataLoader) -> float:
    """One pass of the DataLoader; returns views per second."""
    start = time.perf_counter()
    n_views = 0
    for views in loader:
        n_views += sum(len(v) for v in views)
    return n_views / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recipe", default="byol")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--n", type=int, default=10_000, help="number of synthetic images")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads for ours (default: torch's, one per core)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    images = torch.randint(0, 256, (args.n, 3, args.image_size, args.image_size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    ours = build_recipe(args.recipe, args.image_size, MEAN, STD)
    reference = torchvision_recipe(args.recipe, args.image_size, MEAN, STD)
    loader = DataLoader(ViewDataset(images, reference), batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers, drop_last=True, persistent_workers=args.workers > 0)
    images_device = images.to(device)

    print(f"recipe={args.recipe} image_size={args.image_size} batch_size={args.batch_size} n={args.n} "
          f"device={device} torch_threads={torch.get_num_threads()} workers={args.workers} "
          f"cpus={os.cpu_count()} load_average={os.getloadavg()[0]:.1f} "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    run_ours(images_device, ours, args.batch_size, seed=0)  # warm-up
    run_torchvision(loader)  # warm-up (starts the workers)
    ours_rates, torchvision_rates = [], []
    for repeat in range(args.repeats):
        ours_rates.append(run_ours(images_device, ours, args.batch_size, seed=1 + repeat))
        torchvision_rates.append(run_torchvision(loader))
        print(f"repeat {repeat}: ours {ours_rates[-1]:,.0f} views/s, torchvision {torchvision_rates[-1]:,.0f} views/s")
    ours_median = statistics.median(ours_rates)
    torchvision_median = statistics.median(torchvision_rates)
    print(f"ours (batched on {device}): median {ours_median:,.0f} views/s")
    print(f"torchvision (DataLoader, {args.workers} workers): median {torchvision_median:,.0f} views/s")
    print(f"ratio={ours_median / torchvision_median:.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "recipe": args.recipe, "image_size": args.image_size, "batch_size": args.batch_size,
            "device": str(device), "workers": args.workers, "repeats": args.repeats,
            "batched_views_per_s": ours_rates, "per_image_views_per_s": torchvision_rates,
            "batched_median": ours_median, "per_image_median": torchvision_median,
            "ratio": ours_median / torchvision_median}, indent=1))


if __name__ == "__main__":
    main()
