"""CorInfoMax: maximise the log-determinant of each view's correlation, align the views.

Ozsoy, Hamdan, Arik, Yuret & Erdogan 2022, "Self-Supervised Learning with an Information
Maximization Criterion", NeurIPS 2022, arXiv:2209.07999. Official code:
serdarozsoy/corinfomax-ssl, `cifars-tiny/loss.py` (`CovarianceLoss`, `invariance_loss`),
`cifars-tiny/pretrain_base.py` (how the terms are combined); defaults from the README's
CIFAR-10 command (`--sim_loss_weight 250 --la_R 0.01 --la_mu 0.01 --R_ini 1.0
--R_eps_weight 1e-8`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._precision import in_float32

__all__ = ["CorInfoMaxState", "corinfomax_loss", "corinfomax_state"]


class CorInfoMaxState(NamedTuple):
    """Moving estimates of each view's mean and covariance, carried from step to step."""

    R_a: Tensor  # D x D
    R_b: Tensor  # D x D
    mu_a: Tensor  # D
    mu_b: Tensor  # D


def corinfomax_state(
    dim: int, *, R_ini: float = 1.0, dtype: torch.dtype = torch.float64, device=None
) -> CorInfoMaxState:
    """Initial state: R = R_ini * I, mu = 0 (official `CovarianceLoss.__init__`, float64)."""
    eye = R_ini * torch.eye(dim, dtype=dtype, device=device)
    zero = torch.zeros(dim, dtype=dtype, device=device)
    return CorInfoMaxState(eye, eye.clone(), zero, zero.clone())


@in_float32
def corinfomax_loss(
    z_a: Tensor,
    z_b: Tensor,
    state: CorInfoMaxState,
    *,
    alpha: float = 250.0,
    la_R: float = 0.01,
    la_mu: float = 0.01,
    eps: float = 1e-8,
    return_terms: bool = False,
) -> tuple[Tensor, CorInfoMaxState] | tuple[Tensor, CorInfoMaxState, dict[str, Tensor]]:
    """CorInfoMax loss of one step, and the state for the next step (nothing is modified).

    For each view v in {a, b}, with the previous estimates R_v, mu_v (constants):

        mu_v' = la_mu * mu_v + (1 - la_mu) * mean_i z_v,i
        R_v'  = la_R * R_v + (1 - la_R) * (z_v - mu_v')^T (z_v - mu_v') / N
        covariance = -(log det(R_a' + eps I) + log det(R_b' + eps I)) / D   ("big-bang" term)
        invariance = mean_{i,k} (z_a,ik - z_b,ik)^2                         ("attraction")
        loss = alpha * invariance + covariance

    Note the forgetting factors weight the OLD estimate: with la_R = 0.01 the new R is 99 %
    the current batch. Gradients flow through the current batch's mean and covariance; the
    previous R and mu are constants, and the returned state is detached (official
    `self.R1 = self.new_R1.detach()`), so no graph is kept across steps.

    z_a, z_b: (N, D) projections (the official model l2-normalises them, `--normalize_on`;
        that belongs to the method). state: `CorInfoMaxState` of (D, D) and (D,) tensors,
        from `corinfomax_state(D)` on the first step.
    alpha: weight of the invariance term (official `--sim_loss_weight`, 250 on CIFAR-10).
    la_R, la_mu: forgetting factors; eps: diagonal added before the log-det (`R_eps_weight`).
    Returns `(loss, new_state)`, or `(loss, new_state, {"invariance", "covariance"})` with the
    terms detached.

    Deviation: the covariance term is computed in the state's dtype (float64, as the official
    code does by promotion) and cast back to z's dtype, so the loss has z's dtype (the
    official loss comes out as float64). With sslkit's distributed flag the method gathers
    z across processes (`sslkit.distributed.gather_with_grad`) before calling this.
    """
    if z_a.dim() != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"corinfomax_loss expects z_a and z_b of the same shape (N, D), got "
            f"{tuple(z_a.shape)} and {tuple(z_b.shape)}."
        )
    n, d = z_a.shape
    if n < 2:
        raise ValueError(
            f"corinfomax_loss needs at least 2 samples (it estimates a covariance over the "
            f"batch), got N={n}; use a larger batch."
        )
    expected = {"R_a": (d, d), "R_b": (d, d), "mu_a": (d,), "mu_b": (d,)}
    for name, shape in expected.items():
        got = tuple(getattr(state, name).shape)
        if got != shape:
            raise ValueError(
                f"corinfomax_loss: state.{name} has shape {got}, expected {shape} for D={d}; "
                f"start from corinfomax_state({d})."
            )
    eye = torch.eye(d, dtype=state.R_a.dtype, device=state.R_a.device)

    def update(z, R, mu):  # new (R, mu) for one view; graph through this batch only
        z = z.to(R.dtype)
        mu_new = la_mu * mu + (1 - la_mu) * z.mean(dim=0)  # D
        z_hat = z - mu_new  # N x D
        R_new = la_R * R + (1 - la_R) * (z_hat.T @ z_hat) / n  # D x D
        return R_new, mu_new

    R_a, mu_a = update(z_a, state.R_a, state.mu_a)
    R_b, mu_b = update(z_b, state.R_b, state.mu_b)
    covariance = -(torch.logdet(R_a + eps * eye) + torch.logdet(R_b + eps * eye)) / d
    covariance = covariance.to(z_a.dtype)
    invariance = F.mse_loss(z_a, z_b)
    loss = alpha * invariance + covariance
    new_state = CorInfoMaxState(R_a.detach(), R_b.detach(), mu_a.detach(), mu_b.detach())
    if return_terms:
        terms = {"invariance": invariance.detach(), "covariance": covariance.detach()}
        return loss, new_state, terms
    return loss, new_state
