"""Optimisers: SGD, AdamW and LARS, with the usual exclusion of biases and norm weights.

LARS (You et al. 2017, arXiv 1708.03888) as in the official Barlow Twins / VICReg code
(facebookresearch/barlowtwins main.py `LARS`): biases and 1-D parameters get neither weight
decay nor the trust-ratio adaptation.
"""

from __future__ import annotations

import torch
from torch import nn


class LARS(torch.optim.Optimizer):
    """SGD with momentum and a layer-wise trust ratio eta * ||w|| / ||g + wd * w||.

    The update, per parameter p with gradient g (official `LARS.step`):
        d = g + wd * p; d *= eta * ||p|| / ||d|| (1 where either norm is 0);
        mu = momentum * mu + d; p -= lr * mu
    Groups with lars_exclude=True (biases, norms) skip the first line's decay and ratio.
    Implemented with torch._foreach ops over all tensors of a group at once: on a GPU a few
    kernel launches per step instead of ~10 per parameter, and no host synchronisation.
    """

    def __init__(self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9,
                 eta: float = 0.001):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta,
                        lars_exclude=False)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            updates = [p.grad for p in params]
            if not group["lars_exclude"]:
                updates = torch._foreach_add(updates, params, alpha=group["weight_decay"])
                param_norm = torch.stack(torch._foreach_norm(params))
                update_norm = torch.stack(torch._foreach_norm(updates))
                # trust ratio; 1 where either norm is 0 (fresh zero-init layers)
                ratio = torch.where((param_norm > 0) & (update_norm > 0),
                                    group["eta"] * param_norm / update_norm,
                                    torch.ones_like(param_norm))
                torch._foreach_mul_(updates, list(ratio.unbind()))
            momenta = []
            for p, d in zip(params, updates):
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                momenta.append(state["mu"])
            torch._foreach_mul_(momenta, group["momentum"])
            torch._foreach_add_(momenta, updates)
            torch._foreach_add_(params, momenta, alpha=-group["lr"])
        return loss


def param_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights with decay; biases and norm parameters (1-D) without.

    Parameters the module lists in `fixed_lr_parameters()` (SimSiam's --fix-pred-lr) go into
    two more groups marked `fix_lr`: the loop keeps them at the initial lr.
    """
    fixed = {id(p) for p in getattr(module, "fixed_lr_parameters", list)()}
    decay, no_decay, fixed_decay, fixed_no_decay = [], [], [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        if id(p) in fixed:
            (fixed_no_decay if p.ndim <= 1 else fixed_decay).append(p)
        else:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True},
    ]
    if fixed:
        groups += [{"params": fixed_decay, "weight_decay": weight_decay, "fix_lr": True},
                   {"params": fixed_no_decay, "weight_decay": 0.0, "lars_exclude": True,
                    "fix_lr": True}]
    return groups


OPTIMIZERS = ("sgd", "adamw", "lars")


def build_optimizer(name: str, module: nn.Module, lr: float, weight_decay: float,
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """Build `name` over `module`'s trainable parameters (lr is set per step by the loop)."""
    groups = param_groups(module, weight_decay)
    # one fused kernel for all parameters on CUDA instead of a launch per tensor
    on_cuda = all(p.is_cuda for g in groups for p in g["params"])
    if name == "sgd":
        for g in groups:
            g.pop("lars_exclude", None)
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, fused=on_cuda or None)
    if name == "adamw":
        for g in groups:
            g.pop("lars_exclude", None)
        return torch.optim.AdamW(groups, lr=lr, fused=on_cuda or None)
    if name == "lars":
        return LARS(groups, lr=lr, weight_decay=weight_decay, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
