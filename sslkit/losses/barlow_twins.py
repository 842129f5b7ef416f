"""Barlow Twins' loss: push the cross-correlation matrix of the two views to the identity."""

from __future__ import annotations

import torch
from torch import Tensor

from sslkit.losses._checks import check_pair
from sslkit.losses._precision import in_float32


def batch_standardize(z: Tensor, eps: float = 1e-5) -> Tensor:
    """Standardise every dimension of `z` (N, D) over the batch.

    What nn.BatchNorm1d(D, affine=False) computes in training mode, written out: the biased
    batch variance (divide by N) and eps=1e-5 under the square root.
    """
    mean = z.mean(dim=0)
    var = z.var(dim=0, unbiased=False)
    return (z - mean) / torch.sqrt(var + eps)


def off_diagonal(c: Tensor) -> Tensor:
    """The off-diagonal entries of a square (D, D) matrix, flattened to (D*D - D,)."""
    d = c.shape[0]
    return c[~torch.eye(d, dtype=torch.bool, device=c.device)]


def cross_correlation(z_a: Tensor, z_b: Tensor) -> Tensor:
    """The (D, D) cross-correlation matrix C of the two views, computed over the batch.

    C_ij = 1/N sum_n zhat_a[n, i] zhat_b[n, j], zhat = z standardised over the batch
    (paper eq. (2)); the matrix chapter 9 shows as it moves towards the identity.
    z_a, z_b: (N, D) with N >= 2.
    """
    check_pair("cross_correlation", z_a, z_b, min_n=2,
               why="to standardise each dimension over the batch", paper_batch=2048)
    return batch_standardize(z_a).T @ batch_standardize(z_b) / z_a.shape[0]  # DxD


@in_float32
def barlow_twins_loss(z_a: Tensor, z_b: Tensor, lambd: float = 0.0051, *,
                      return_terms: bool = False):
    """Barlow Twins' redundancy-reduction loss.

        C_ij = 1/N sum_n zhat_a[n, i] zhat_b[n, j]     zhat: z standardised over the batch
        L    = sum_i (1 - C_ii)^2 + lambd * sum_i sum_{j != i} C_ij^2

    Paper: Zbontar et al. 2021, "Barlow Twins: Self-Supervised Learning via Redundancy
    Reduction", arXiv 2103.03230, eq. (1)-(2).
    Official code: facebookresearch/barlowtwins main.py, `BarlowTwins.forward` (lambd=0.0051
    is its --lambd default).

    z_a, z_b: (N, D) projections of the two views. N >= 2: the standardisation needs batch
    statistics.

    Terms (unweighted): `on_diag` (invariance) and `off_diag` (redundancy reduction);
    loss = on_diag + lambd * off_diag.

    Deviation: none. With several processes, gather the projections before calling this
    function; the official code all-reduces C instead (with SyncBatchNorm), which gives the
    same matrix. An earlier official main.py multiplied the loss by --scale-loss (the
    README's command uses 0.024); the current main.py has no such factor, and neither has
    this function: multiply the result to reproduce that setting.
    """
    check_pair("barlow_twins_loss", z_a, z_b, min_n=2,
               why="to standardise each dimension over the batch", paper_batch=2048)
    c = cross_correlation(z_a, z_b)  # DxD
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = off_diagonal(c).pow(2).sum()
    loss = on_diag + lambd * off_diag
    if return_terms:
        return loss, {"on_diag": on_diag.detach(), "off_diag": off_diag.detach()}
    return loss
