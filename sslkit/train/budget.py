"""Runs sized in wall-clock time rather than steps.

"Train BYOL for 5 minutes" needs a step count: the learning-rate and EMA schedules are laid
out over the whole run, so they must know where it ends. `steps_for_budget` measures the
speed of a few real steps of exactly this config on this machine, and turns a budget in
seconds into a step count. The run itself then stays a plain, reproducible, resumable
`steps` run; its results record the measured speed and the budget it was sized for.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from sslkit import data as sdata
from sslkit.train.checkpoint import load_checkpoint
from sslkit.train.config import TrainConfig
from sslkit.train.loop import train


def seconds_per_step(cfg: TrainConfig, *, train_data: sdata.ImageData | None = None,
                     test_data: sdata.ImageData | None = None, probe_steps: int = 8,
                     warmup_steps: int = 2) -> float:
    """Median wall-clock seconds of one training step of `cfg`, measured on this machine.

    Trains a throwaway copy for `warmup_steps + probe_steps` steps (no checkpoint, no kNN);
    the first `warmup_steps` (allocator warm-up, first-call overheads) are not counted.
    """
    if probe_steps < 2:
        raise ValueError(f"probe_steps must be >= 2, got {probe_steps}")
    total = warmup_steps + probe_steps
    probe = dataclasses.replace(cfg, steps=total, out=None, log_every=1, eval_every=0,
                                checkpoint_every=0, warmup_steps=1)
    run = train(probe, train_data=train_data, test_data=test_data, progress=False,
                evaluate_knn=False)
    times = [r["time_s"] for r in run.history]  # logged after every step
    per_step = [b - a for a, b in zip(times[warmup_steps:], times[warmup_steps + 1:])]
    return statistics.median(per_step)


def steps_for_budget(cfg: TrainConfig, seconds: float, **probe_kwargs) -> tuple[int, float]:
    """(steps, seconds per step): how many steps of `cfg` fit in `seconds` of training.

    If `cfg.out` holds a checkpoint of an interrupted budget run, its step count is returned
    (per step: its recorded wall-clock over its steps), so the run resumes rather than
    being re-sized by a new, slightly different measurement.
    """
    if seconds <= 0:
        raise ValueError(f"the time budget must be positive, got {seconds} s")
    ckpt = Path(cfg.out) / "checkpoint.pt" if cfg.out else None
    if ckpt is not None and ckpt.exists():
        state = load_checkpoint(ckpt)
        if state["step"]:
            return state["config"]["steps"], state["wall_s"] / state["step"]
    per_step = seconds_per_step(cfg, **probe_kwargs)
    return max(int(seconds / per_step), 1), per_step
