"""The moving-average target shared by BYOL (target network) and DINO (teacher)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


@torch.no_grad()
def ema_update(target: Sequence[nn.Module], online: Sequence[nn.Module], tau: float) -> None:
    """xi <- tau * xi + (1 - tau) * theta, parameter by parameter (BYOL eq. 1, DINO Sec. 3.1).

    `target` and `online` are matching lists of modules (e.g. [backbone, projector]).
    Buffers such as BatchNorm running statistics are not averaged: the target keeps its own,
    updated by its own forward passes, as in the official BYOL and DINO code.
    """
    xis = [p for m in target for p in m.parameters()]
    thetas = [p for m in online for p in m.parameters()]
    if len(xis) != len(thetas):
        raise ValueError(f"target has {len(xis)} parameters, online {len(thetas)}: the target "
                         f"must be a copy of the online modules")
    for xi, theta in zip(xis, thetas):
        xi.mul_(tau).add_(theta.detach(), alpha=1.0 - tau)
