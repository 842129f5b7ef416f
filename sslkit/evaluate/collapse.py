"""Collapse diagnostics of an embedding z (N, D).

- Complete collapse (every input maps to one point): `std_of_l2_normalized` goes to 0.
  SimSiam (Chen & He 2020, arXiv 2011.10566, Sec. 4.1, Fig. 2) plots it; a healthy
  embedding spread isotropically on the sphere has std 1/sqrt(D).
- Dimensional collapse (the embedding spans a low-dimensional subspace; Jing et al. 2022,
  arXiv 2110.09348): the singular-value spectrum drops, and so does the RankMe effective
  rank (Garrido et al. 2023, arXiv 2210.02885).
- Alignment and uniformity on the hypersphere (Wang & Isola 2020, arXiv 2005.10242).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check_2d(z: torch.Tensor) -> None:
    if z.ndim != 2:
        raise ValueError(f"expected an (N, D) embedding, got shape {tuple(z.shape)}")


@torch.no_grad()
def std_of_l2_normalized(z: torch.Tensor) -> float:
    """Mean over dimensions of the per-dimension std (over samples) of z / ||z||.

    0 for a constant embedding; about 1/sqrt(D) for an isotropic one. As in lightly's
    `std_of_l2_normalized` (lightly/utils/debug.py): unbiased std over the batch.
    """
    _check_2d(z)
    return F.normalize(z.float(), dim=1).std(dim=0).mean().item()


@torch.no_grad()
def singular_values(z: torch.Tensor, *, center: bool = True) -> torch.Tensor:
    """Singular values of the (by default centred) embedding, descending, shape (min(N, D),).

    Centring removes the mean, so the spectrum describes the spread of the embedding (the
    square roots of N x the covariance eigenvalues plotted by Jing et al. 2022).
    """
    _check_2d(z)
    z = z.float()
    if center:
        z = z - z.mean(dim=0)
    return torch.linalg.svdvals(z)


@torch.no_grad()
def effective_rank(z: torch.Tensor, *, eps: float = 1e-7, center: bool = False) -> float:
    """RankMe (Garrido et al. 2023, Eq. 1): exp(-sum_k p_k log p_k), p_k = s_k / ||s||_1 + eps.

    s are the singular values of z, not centred, as in the paper: a constant embedding
    (rank 1) gives 1, data spread equally over r orthogonal directions gives r.
    """
    s = singular_values(z, center=center).double()
    p = s / s.sum().clamp_min(torch.finfo(s.dtype).tiny) + eps
    return torch.exp(-(p * p.log()).sum()).item()


def alignment(z_a: torch.Tensor, z_b: torch.Tensor, alpha: float = 2) -> torch.Tensor:
    """E ||f(x) - f(y)||^alpha over positive pairs (row i of z_a with row i of z_b).

    Wang & Isola's official `align_loss`, on l2-normalised inputs (their snippet assumes the
    caller normalised; here the function does it). 0 for identical views, at most 2^alpha.
    """
    _check_2d(z_a)
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a {tuple(z_a.shape)} and z_b {tuple(z_b.shape)} differ in shape")
    z_a, z_b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    return (z_a - z_b).norm(p=2, dim=1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2) -> torch.Tensor:
    """log E exp(-t ||f(x) - f(y)||^2) over all pairs x != y, on l2-normalised rows.

    Wang & Isola's official `uniform_loss` (torch.pdist, so memory grows as N^2 / 2). 0 for a
    constant embedding (complete collapse); more negative is more uniform.
    """
    _check_2d(z)
    if len(z) < 2:
        raise ValueError("uniformity needs at least 2 samples")
    z = F.normalize(z, dim=1)
    return torch.pdist(z, p=2).pow(2).mul(-t).exp().mean().log()


@torch.no_grad()
def collapse_report(z: torch.Tensor, z_b: torch.Tensor | None = None, *,
                    max_uniformity_samples: int = 2048) -> dict:
    """All diagnostics of z (N, D) in one dict of floats, plus the singular values tensor.

    Keys: std, reference_std (= 1/sqrt(D)), effective_rank, uniformity (on the first
    max_uniformity_samples rows, bounding pdist's memory), singular_values (centred, (K,)),
    and alignment when the second view's embedding z_b is given.
    """
    _check_2d(z)
    z = z.float()
    report = {
        "std": std_of_l2_normalized(z),
        "reference_std": 1.0 / math.sqrt(z.shape[1]),
        "effective_rank": effective_rank(z),
        "uniformity": uniformity(z[:max_uniformity_samples]).item(),
        "singular_values": singular_values(z).cpu(),
    }
    if z_b is not None:
        report["alignment"] = alignment(z, z_b.float()).item()
    return report
