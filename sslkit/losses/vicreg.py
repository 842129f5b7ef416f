"""VICReg's loss: invariance, variance and covariance terms, each a pure function."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._checks import check_batch_size, check_matrix, check_pair
from sslkit.losses.barlow_twins import off_diagonal
from sslkit.losses._precision import in_float32


def invariance_loss(z_a: Tensor, z_b: Tensor) -> Tensor:
    """s(Z, Z') = 1/(N D) sum_n ||z_a[n] - z_b[n]||^2, the mean squared error of the views."""
    check_pair("invariance_loss", z_a, z_b)
    return F.mse_loss(z_a, z_b)


def variance_loss(z: Tensor, eps: float = 1e-4) -> Tensor:
    """v(Z) = 1/D sum_j max(0, 1 - sqrt(Var(z_j) + eps)), a hinge on each dimension's std.

    Var is the unbiased batch variance (torch.var's default, as the official code);
    eps=1e-4 is the official constant. z: (N, D), N >= 2.
    """
    check_matrix("variance_loss", "z", z)
    check_batch_size("variance_loss", "z", z, min_n=2, why="to estimate the variance",
                     paper_batch=2048)
    std = torch.sqrt(z.var(dim=0) + eps)  # (D,)
    return F.relu(1 - std).mean()


def covariance_loss(z: Tensor) -> Tensor:
    """c(Z) = 1/D sum_{i != j} Cov(Z)_ij^2, with Cov(Z) = (Z - mean)^T (Z - mean) / (N - 1).

    z: (N, D), N >= 2.
    """
    check_matrix("covariance_loss", "z", z)
    check_batch_size("covariance_loss", "z", z, min_n=2, why="to estimate the covariance",
                     paper_batch=2048)
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = z.T @ z / (n - 1)  # DxD
    return off_diagonal(cov).pow(2).sum() / d


@in_float32
def vicreg_loss(z_a: Tensor, z_b: Tensor, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                cov_coeff: float = 1.0, *, return_terms: bool = False):
    """VICReg's loss on the two views' embeddings.

        L = sim_coeff * s(Z, Z')
          + std_coeff * [v(Z) + v(Z')] / 2
          + cov_coeff * [c(Z) + c(Z')]

    with s = invariance_loss, v = variance_loss, c = covariance_loss.

    Paper: Bardes, Ponce & LeCun 2022, "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", arXiv 2105.04906, eq. (1)-(6).
    Official code: facebookresearch/vicreg main_vicreg.py, `VICReg.forward`; the defaults
    are its --sim-coeff, --std-coeff, --cov-coeff.

    z_a, z_b: (N, D) expander outputs of the two views, N >= 2 (batch statistics).

    Terms (unweighted): `invariance` = s(Z, Z'), `variance` = [v(Z) + v(Z')] / 2,
    `covariance` = c(Z) + c(Z').

    Deviation: none. The official code averages the two views' variance terms (the `/ 2`)
    but sums their covariance terms; the paper's eq. (6) writes v(Z) + v(Z'), and
    solo-learn drops the `/ 2`. We keep the official code, and a test pins it. With several
    processes, gather the embeddings before calling this function (the official code
    gathers them after the invariance term).
    """
    check_pair("vicreg_loss", z_a, z_b, min_n=2, why="to estimate the variance",
               paper_batch=2048)
    invariance = invariance_loss(z_a, z_b)
    variance = variance_loss(z_a) / 2 + variance_loss(z_b) / 2  # official: averaged
    covariance = covariance_loss(z_a) + covariance_loss(z_b)  # official: summed
    loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
    if return_terms:
        terms = {"invariance": invariance, "variance": variance, "covariance": covariance}
        return loss, {k: v.detach() for k, v in terms.items()}
    return loss
