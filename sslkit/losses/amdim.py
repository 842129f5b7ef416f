"""AMDIM: InfoNCE between the global feature of one view and the local features of the other.

Bachman, Hjelm & Buchwalter 2019, "Learning Representations by Maximizing Mutual Information
Across Views", arXiv:1906.00910. Official code: Philip-Bachman/amdim-public, `costs.py`
(`tanh_clip`, `NCE_MI_MULTI._model_scores`, `LossMultiNCE._sample_src_ftr`) and
`task_self_supervised.py` (how the costs are summed).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sslkit.losses._precision import in_float32

__all__ = ["amdim_loss", "amdim_loss_multiscale", "random_location", "tanh_clip"]


def tanh_clip(x: Tensor, clip: float | None = 20.0) -> Tensor:
    """Soft clip to (-clip, clip): `clip * tanh(x / clip)`; identity when `clip` is None."""
    return x if clip is None else clip * torch.tanh(x / clip)


def random_location(local: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One feature vector per image, at a uniformly drawn spatial position.

    local: (N, D) <- (N, D, H, W). The official code draws the position of the 5x5 map that
    serves as the source of its local-to-local ("5t5") task this way (`_sample_src_ftr`).
    `generator` must live on `local`'s device.
    """
    n, _, h, w = local.shape
    idx = torch.randint(h * w, (n,), generator=generator, device=local.device)  # N
    return local.flatten(2)[torch.arange(n, device=local.device), :, idx]  # N x D


def _nce_and_reg(
    global_a: Tensor, local_b: Tensor, tclip: float | None, reg_weight: float
) -> tuple[Tensor, Tensor]:
    """The two terms of `amdim_loss` (see there), with their graphs."""
    if global_a.dim() != 2 or local_b.dim() != 4:
        raise ValueError(
            f"amdim_loss expects global_a (N, D) and local_b (N, D, H, W), got "
            f"{tuple(global_a.shape)} and {tuple(local_b.shape)}; flatten a 1x1 global map "
            "with .flatten(1)."
        )
    n, d = global_a.shape
    if local_b.shape[:2] != (n, d):
        raise ValueError(
            f"amdim_loss: global_a {tuple(global_a.shape)} and local_b {tuple(local_b.shape)} "
            "must share the batch size N and the feature size D; map the local features to "
            "D channels with a 1x1 convolution first."
        )
    if n < 2:
        raise ValueError(
            f"amdim_loss needs at least 2 images per batch (the negatives are the other "
            f"images), got N={n}; use a larger batch."
        )
    scores = torch.einsum("id,jdl->ijl", global_a, local_b.flatten(2)) / math.sqrt(d)  # NxNxL
    reg = reg_weight * scores.pow(2).mean()  # on the raw scores: keeps them away from the clip
    scores = tanh_clip(scores, tclip)
    same = torch.eye(n, dtype=torch.bool, device=scores.device)  # N x N, True = same image
    pos = scores.diagonal().T  # N x L, pos[i, l] = t_iil
    neg = scores.masked_fill(same[:, :, None], float("-inf")).flatten(1)  # N x (N*L)
    neg_lse = torch.logsumexp(neg, dim=1, keepdim=True)  # N x 1, shared by image i's positives
    nce = -(pos - torch.logaddexp(pos, neg_lse)).mean()
    return nce, reg


def amdim_loss(
    global_a: Tensor,
    local_b: Tensor,
    *,
    tclip: float | None = 20.0,
    reg_weight: float = 4e-2,
    return_terms: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """InfoNCE from the global feature of view a to every local feature of view b.

    With g_i = global_a[i], f_{j,l} = local_b[j, :, l] (l runs over the H*W positions):

        s_ijl = <g_i, f_jl> / sqrt(D)                              (raw scores, N x N x HW)
        reg   = reg_weight * mean_ijl s_ijl^2                      (penalty on the raw scores)
        t_ijl = tclip * tanh(s_ijl / tclip)                        (soft clip)
        nce   = -mean_il log[ exp(t_iil) / (exp(t_iil) + sum_{j != i, l'} exp(t_ijl')) ]
        loss  = nce + reg

    Each position l of image i is one positive; its negatives are all positions of all other
    images of the batch (the other positions of image i are neither), as in the official
    `_model_scores`.

    global_a: (N, D) global features of view a (the official 1x1 map, flattened).
    local_b: (N, D, H, W) local features of view b, already mapped to the same D.
    tclip: soft-clip value (official `--tclip` 20); None disables the clip.
    reg_weight: weight of the raw-score penalty (official `lgt_reg`, 4e-2).
    Returns the scalar loss, or `(loss, {"nce", "reg"})` (detached) with `return_terms=True`.

    Deviation: the official code computes the log-softmax with a hand-written max-shifted
    sum of exponentials; `logsumexp` gives the same value and gradient.
    """
    nce, reg = _nce_and_reg(global_a, local_b, tclip, reg_weight)
    loss = nce + reg
    if return_terms:
        return loss, {"nce": nce.detach(), "reg": reg.detach()}
    return loss


@in_float32
def amdim_loss_multiscale(
    global_a: Tensor,
    global_b: Tensor,
    locals_a: list[Tensor],
    locals_b: list[Tensor],
    *,
    local_to_local: bool = True,
    generator: torch.Generator | None = None,
    tclip: float | None = 20.0,
    reg_weight: float = 4e-2,
    return_terms: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """The full AMDIM objective: global-to-local at every scale plus one local-to-local task.

    The official model predicts, in both directions (a -> b and b -> a, averaged):
    1t5 (global -> 5x5 map), 1t7 (global -> 7x7 map) and 5t5 (one random position of the
    5x5 map -> the other view's whole 5x5 map), and optimises
    `loss_1t5 + loss_1t7 + loss_5t5 + lgt_reg` (`task_self_supervised.py`). Here the maps are a
    list: one global-to-local task per map, and the local-to-local task on the LAST map (the
    deepest one, the official 5x5). With sslkit's CNN backbones the method passes the last two
    stages of `forward_stages` (ordered shallow to deep), mapped to D channels.

    global_a, global_b: (N, D). locals_a, locals_b: lists of (N, D, H_k, W_k), same length.
    generator: draws the local-to-local source positions (view a first, then view b), on the
        features' device; None uses the global RNG.
    Returns the scalar loss, or `(loss, terms)` with detached terms `nce` (sum over tasks),
    `reg` (sum over tasks), and per task `nce_g2l_{k}` and `nce_l2l`.
    """
    if len(locals_a) != len(locals_b) or not locals_a:
        raise ValueError(
            f"amdim_loss_multiscale needs the same, non-zero number of local maps per view, "
            f"got {len(locals_a)} and {len(locals_b)}."
        )

    def both_ways(src_a, trg_b, src_b, trg_a):  # mean of a -> b and b -> a, as official
        nce_ab, reg_ab = _nce_and_reg(src_a, trg_b, tclip, reg_weight)
        nce_ba, reg_ba = _nce_and_reg(src_b, trg_a, tclip, reg_weight)
        return 0.5 * (nce_ab + nce_ba), 0.5 * (reg_ab + reg_ba)

    terms, regs = {}, []
    for k, (local_a, local_b) in enumerate(zip(locals_a, locals_b)):
        terms[f"nce_g2l_{k}"], reg = both_ways(global_a, local_b, global_b, local_a)
        regs.append(reg)
    if local_to_local:
        src_a = random_location(locals_a[-1], generator)
        src_b = random_location(locals_b[-1], generator)
        terms["nce_l2l"], reg = both_ways(src_a, locals_b[-1], src_b, locals_a[-1])
        regs.append(reg)
    nce, reg = sum(terms.values()), sum(regs)
    loss = nce + reg
    if return_terms:
        terms = {"nce": nce, "reg": reg, **terms}
        return loss, {k: v.detach() for k, v in terms.items()}
    return loss
