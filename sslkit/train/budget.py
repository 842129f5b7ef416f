"""Runs sized in wall-clock time rather than steps.

"Train BYOL for 5 minutes" needs a step count: the learning-rate and EMA schedules are laid
out over the whole run, so they must know where it ends. `steps_for_budget` measures the
speed of a few real steps of exactly this config on this machine, and turns a budget in
seconds into a step count. The run itself then stays a plain, reproducible, resumable
`steps` run; its results record the measured speed and the budget it was sized for.

The probe misjudges a run's speed by 10-15% (once 40%, benchmarks/README.md), so where the
time must be equal (comparing libraries at the same minutes), give the run a time budget
instead: `TrainConfig(max_seconds=...)` stops by the clock and lays the schedules out over
time (sslkit.train.loop); `steps` then only sets the schedules' length, and a probe's step
count is still a good one, so warm-ups and step-counted settings keep their share of the run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sslkit import data as sdata
from sslkit.train.checkpoint import load_checkpoint
from sslkit.train.config import TrainConfig
from sslkit.train.loop import train


def seconds_per_step(cfg: TrainConfig, *, train_data: sdata.ImageData | None = None,
                     test_data: sdata.ImageData | None = None, probe_steps: int = 12) -> float:
    """Mean wall-clock seconds of one training step of `cfg`, measured on this machine.

    Trains a throwaway copy for 1 + `probe_steps` steps (no checkpoint, no kNN) and times
    the last `probe_steps`: the first step (allocator warm-up, first-call overheads) is not
    counted. Only the first and last steps are logged, as in a real run, where logging is
    rare: logging every step (its std and effective-rank diagnostics) made the probe slower
    than the run and undersized budgets by up to 13% (measured in benchmarks/cpu_budget.py).
    """
    if probe_steps < 2:
        raise ValueError(f"probe_steps must be >= 2, got {probe_steps}")
    total = 1 + probe_steps
    probe = dataclasses.replace(cfg, steps=total, max_seconds=None, out=None,
                                log_every=10 * total, eval_every=0, stop_at_knn=None,
                                checkpoint_every=0, warmup_steps=1)
    run = train(probe, train_data=train_data, test_data=test_data, progress=False,
                evaluate_knn=False)
    first, last = run.history[0], run.history[-1]  # after step 1, after the last step
    return (last["time_s"] - first["time_s"]) / (last["step"] - first["step"])


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
