"""Per-step schedules as plain arrays: one value per optimiser step, easy to plot and test.

DINO (main_dino.py, `cosine_scheduler`) builds every schedule this way; we follow it so a
chapter can show exactly what the loop will use before it runs.
"""

from __future__ import annotations

import math

import torch


def warmup_cosine(base: float, final: float, total_steps: int, warmup_steps: int = 0,
                  start_warmup: float = 0.0) -> torch.Tensor:
    """Linear warm-up from `start_warmup` to `base`, then half-cosine from `base` to `final`.

    Returns a float64 tensor of length `total_steps` (value at step t is schedule[t]).
    Same shape as DINO's `utils.cosine_scheduler` (arXiv 2104.14294, official code).
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    warmup_steps = min(max(warmup_steps, 0), total_steps)
    warm = torch.linspace(start_warmup, base, warmup_steps + 1, dtype=torch.float64)[:-1] \
        if warmup_steps else torch.empty(0, dtype=torch.float64)
    n = total_steps - warmup_steps
    t = torch.arange(n, dtype=torch.float64)
    cos = final + 0.5 * (base - final) * (1 + torch.cos(math.pi * t / max(n, 1)))
    return torch.cat([warm, cos])


def ema_momentum(base_tau: float, total_steps: int, final_tau: float = 1.0) -> torch.Tensor:
    """BYOL's target EMA rate: tau_t = 1 - (1 - tau_base) * (cos(pi t / T) + 1) / 2.

    Grill et al. 2020 (arXiv 2006.07733), Sec. 3.3; DINO uses the same for its teacher.
    tau = 1 freezes the target, tau = 0 copies the online network every step.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    t = torch.arange(total_steps, dtype=torch.float64)
    return final_tau - (final_tau - base_tau) * (torch.cos(math.pi * t / total_steps) + 1) / 2


def constant(value: float, total_steps: int) -> torch.Tensor:
    """A flat schedule (e.g. tau fixed for the EMA-rate sweep)."""
    return torch.full((total_steps,), float(value), dtype=torch.float64)


def index_at_time(seconds: float, budget_s: float, total_steps: int) -> int:
    """The index into a `total_steps`-entry schedule of a step that starts after `seconds` of
    a run with a `budget_s`-second time budget: floor(seconds / budget_s * total_steps),
    clipped to the last entry. The schedules of a time-budget run are laid out over its time,
    so they end where the budget does (sslkit.train.loop; the lightly peer in benchmarks/
    uses the same rule)."""
    if budget_s <= 0 or total_steps < 1:
        raise ValueError(f"need a positive budget and total_steps >= 1, got {budget_s} s and "
                         f"{total_steps} steps")
    return min(int(seconds / budget_s * total_steps), total_steps - 1)
