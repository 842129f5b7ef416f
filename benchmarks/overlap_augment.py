"""Does augmenting the next batch while the current step computes make training faster?

    python benchmarks/overlap_augment.py [--profile cpu] [--methods vicreg byol] [--steps 30]

Issue 15 lists this as a lever for the 2-core budget. The augmentation is about a tenth of a
`cpu` step (`step_overhead.py`), and every view of step i depends only on (seed, i), so the
views of step i + 1 can be made in a second thread while step i runs its forward, backward
and optimiser, without changing a single number of the run.

For each method, in one process and on the same run, blocks of `--steps` steps alternate
between the loop as it is (augment, then step) and the overlapped loop (a one-thread pool
augments step i + 1 while step i computes); the figure is the median seconds per step over
`--blocks` blocks of each, and their ratio. Torch's own ops release the GIL, so the two
threads can run side by side; whether they gain depends on how much of a step leaves a
core idle.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from sslkit import data as sdata
from sslkit.train import TrainConfig
from sslkit.train.loop import Run, _train_step, _views, device_description, resolve_device, set_up


def make_run(name: str, profile: str, data: sdata.ImageData, device: torch.device) -> Run:
    """The run exactly as `train` sets it up (channels-last, recipe, optimiser, schedules)."""
    run = set_up(TrainConfig(method=name, profile=profile), data, data, device=device)
    run.method.train()
    return run


def block(run: Run, start: int, steps: int, overlap: bool) -> float:
    """Seconds per step over `steps` steps from `start`."""
    t = time.perf_counter()
    if not overlap:
        for i in range(start, start + steps):
            _train_step(run, i)
    else:
        with ThreadPoolExecutor(1) as pool:
            upcoming = pool.submit(_views, run, start)
            for i in range(start, start + steps):
                views = upcoming.result()
                if i + 1 < start + steps:
                    upcoming = pool.submit(_views, run, i + 1)
                _train_step(run, i, views=views)
    return (time.perf_counter() - t) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--methods", nargs="*", default=["vicreg", "byol", "barlowtwins"])
    parser.add_argument("--steps", type=int, default=20, help="steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="blocks of each kind")
    args = parser.parse_args()
    device = resolve_device("auto")
    data = sdata.load("shapes", split="train")  # speed does not depend on the pixels
    print(f"{device_description(device)}, {torch.get_num_threads()} threads; profile "
          f"{args.profile}; medians of {args.blocks} blocks of {args.steps} steps\n")
    print("| method | augment, then step (ms/step) | overlapped (ms/step) | ratio |")
    print("|---|---|---|---|")
    for name in args.methods:
        run = make_run(name, args.profile, data, device)
        block(run, 0, 3, overlap=False)  # warm-up
        times = {False: [], True: []}
        start = 3
        for _ in range(args.blocks):
            for overlap in (False, True):
                times[overlap].append(block(run, start, args.steps, overlap))
                start += args.steps
        plain, overlapped = (statistics.median(times[k]) for k in (False, True))
        print(f"| {name} | {1e3 * plain:.0f} | {1e3 * overlapped:.0f} | "
              f"{overlapped / plain:.2f} |", flush=True)


if __name__ == "__main__":
    main()
