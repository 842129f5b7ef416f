"""W-MSE: mean squared error between whitened embeddings.

Ermolov, Siarohin, Sangineto & Sebe 2021, "Whitening for Self-Supervised Representation
Learning", arXiv:2007.06346. Official code: htdt/self-supervised, `methods/whitening.py`
(`Whitening2d`, used with `track_running_stats=False`), `methods/w_mse.py` (`WMSE.forward`)
and `norm_mse_loss`; defaults from its `cfg.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._precision import in_float32

__all__ = ["whiten", "wmse_loss"]


def whiten(x: Tensor, eps: float = 0.0) -> Tensor:
    """Cholesky whitening of a batch: the result has zero mean and identity covariance.

        x_c = x - mean(x)                C = x_c^T x_c / (N - 1)
        L L^T = (1 - eps) C + eps I      whiten(x) = x_c L^{-T}   (i.e. W = L^{-1}, z = W x_c)

    so that cov(whiten(x)) = L^{-1} C L^{-T} = I when eps = 0.

    x: (..., N, D); leading dimensions are independent batches (W-MSE's sub-batches).
    eps: shrinkage of the covariance towards the identity (official `--w_eps`, 0).
    Returns (..., N, D).

    The gradient flows through the mean and the whitening matrix, as in the official layer.
    Deviation: the official layer forms L^{-1} explicitly and applies it with a 1x1 conv;
    a triangular solve gives the same values with less work.
    """
    n, d = x.shape[-2:]
    if eps == 0 and n - 1 < d:
        raise ValueError(
            f"whiten: {n} samples in {d} dimensions give a singular covariance (rank <= N-1); "
            f"whiten batches of more than {d} samples, or use eps > 0."
        )
    xc = x - x.mean(dim=-2, keepdim=True)  # ... x N x D
    cov = xc.mT @ xc / (n - 1)  # ... x D x D
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    try:
        chol = torch.linalg.cholesky((1 - eps) * cov + eps * eye)  # ... x D x D, lower
    except torch.linalg.LinAlgError as err:
        raise torch.linalg.LinAlgError(
            "whiten: the covariance is not positive-definite (collapsed or duplicated "
            "embeddings); use eps > 0 (official --w_eps) or a larger sub-batch."
        ) from err
    return torch.linalg.solve_triangular(chol, xc.mT, upper=False).mT  # ... x N x D


@in_float32
def wmse_loss(
    z_a: Tensor,
    z_b: Tensor,
    *,
    eps: float = 0.0,
    w_iter: int = 1,
    w_size: int | None = None,
    normalize: bool = True,
    generator: torch.Generator | None = None,
    return_terms: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """W-MSE between two views.

    For each of `w_iter` random partitions of the batch into sub-batches of `w_size`, every
    view's sub-batch is whitened on its own (`whiten`), and the whitened views are compared:

        mse = mean_iter mean_i (2 - 2 cos(w_a[i], w_b[i]))     (normalize=True, official)
        mse = mean_iter mean_{i,k} (w_a[i, k] - w_b[i, k])^2    (normalize=False, --no_norm)

    Whitening makes the collapsed solution impossible: the whitened batch always has identity
    covariance, so the MSE can only be lowered by making the two views agree.

    z_a, z_b: (N, D) projections of the two views.
    eps: covariance shrinkage (official `--w_eps`, 0).
    w_iter: number of random partitions averaged (official `--w_iter`, 1).
    w_size: sub-batch size, must divide N and exceed D (official `--w_size` 128 with batch 256);
        None whitens the whole batch at once (official behaviour when `w_size` is None).
    generator: draws the partitions (on the inputs' device); None uses the global RNG. With
        w_size = N the partition does not matter and no random numbers are drawn.
    Returns the scalar loss, or `(loss, {"mse"})` (detached) with `return_terms=True`.

    Each view's sub-batch is whitened on its own, as the official code does (one
    `self.whitening(h[idx + i * bs])` call per view and sub-batch): the views are never
    whitened together.
    Deviation: two views only (the official `--num_samples 2` setting; it also averages over
    the pairs of d > 2 views).
    """
    if z_a.dim() != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"wmse_loss expects z_a and z_b of the same shape (N, D), got "
            f"{tuple(z_a.shape)} and {tuple(z_b.shape)}."
        )
    n, d = z_a.shape
    w_size = n if w_size is None else w_size
    if w_size < 2 or n % w_size:
        raise ValueError(
            f"wmse_loss: w_size={w_size} must be at least 2 and divide the batch size N={n}; "
            "pick a batch size that is a multiple of w_size."
        )
    if eps == 0 and w_size <= d:
        raise ValueError(
            f"wmse_loss whitens sub-batches of w_size={w_size} samples in D={d} dimensions; "
            f"their covariance is singular unless w_size > D. Use a larger batch or w_size, "
            "a smaller embedding, or eps > 0."
        )
    if w_iter < 1:
        raise ValueError(f"wmse_loss: w_iter must be >= 1, got {w_iter}.")
    total = 0.0
    for _ in range(w_iter):
        if w_size == n:  # one sub-batch: whitening commutes with permuting the samples
            wa, wb = whiten(z_a, eps=eps), whiten(z_b, eps=eps)
        else:
            perm = torch.randperm(n, generator=generator, device=z_a.device).view(-1, w_size)
            wa = whiten(z_a[perm], eps=eps).flatten(0, 1)  # (N/w) x w x D -> N x D
            wb = whiten(z_b[perm], eps=eps).flatten(0, 1)  # same order as wa: pairs align
        if normalize:
            cos = (F.normalize(wa, dim=1) * F.normalize(wb, dim=1)).sum(dim=1)  # N
            total = total + (2 - 2 * cos.mean())
        else:
            total = total + F.mse_loss(wa, wb)
    mse = total / w_iter
    if return_terms:
        return mse, {"mse": mse.detach()}
    return mse
