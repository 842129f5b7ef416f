"""DINO's loss: cross-entropy from the centred, sharpened teacher to the student."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._checks import check_same_shape, check_views
from sslkit.losses._precision import in_float32


@in_float32
def dino_loss(student_out: Sequence[Tensor], teacher_out: Sequence[Tensor], center: Tensor,
              student_temp: float = 0.1, teacher_temp: float = 0.04, *,
              return_terms: bool = False):
    """DINO's self-distillation loss over all (teacher crop, student crop) pairs.

        P_t(x) = softmax((g_t(x) - c) / teacher_temp)       centring, then sharpening
        P_s(x) = softmax(g_s(x) / student_temp)
        L = 1/|pairs| sum_{(i, v): v != i} 1/N sum_n H(P_t(x_i)[n], P_s(x_v)[n]),
        H(a, b) = -sum_k a_k log b_k

    where i runs over the teacher's (global) crops and v over all the student's crops.

    Paper: Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers",
    arXiv 2104.14294, eq. (3) and Algorithm 1.
    Official code: facebookresearch/dino main_dino.py, `DINOLoss.forward` (defaults:
    student_temp=0.1, --teacher_temp 0.04).

    student_out: list of (N, K) student logits, one per crop, the global crops first.
    teacher_out: list of (N, K) teacher logits, one per global crop, in the same order as
        the student's first crops (the pair i == v is the same view and is skipped).
    center: (K,) or (1, K) running mean of the teacher logits (see dino_center_update).
    teacher_temp: the value for the current step; its warm-up schedule belongs to the method.

    Stop-gradient: applied here, to the teacher, where the paper writes it (Algorithm 1's
    H(t, s): `t = t.detach()`), so that code calling the loss cannot forget it.

    Terms, the diagnostics of the paper's Fig. 7, in nats, averaged over the batch and the
    pairs: `teacher_entropy` H(P_t) and `kl` KL(P_t || P_s); loss = teacher_entropy + kl.
    Centring alone drives teacher_entropy to log K (uniform collapse); sharpening alone
    drives it to 0 (one-hot collapse); in both cases kl goes to 0.

    Deviation: lists of crops instead of one concatenated tensor split with .chunk(ncrops);
    any number of teacher crops instead of exactly 2. The official forward also updates
    the center (with an all-reduce); here that is the separate dino_center_update, which
    the method calls after the loss.
    """
    check_views("dino_loss", "student_out", student_out)
    check_views("dino_loss", "teacher_out", teacher_out)
    check_same_shape("dino_loss", "student_out[0]", student_out[0],
                     "teacher_out[0]", teacher_out[0])
    k = teacher_out[0].shape[1]
    if center.shape not in ((k,), (1, k)):
        raise ValueError(f"dino_loss expects center of shape ({k},) or (1, {k}), one value "
                         f"per output dimension; got {tuple(center.shape)}. Fix: start from "
                         f"torch.zeros(1, {k}) and update it with dino_center_update.")
    n_global = len(teacher_out)
    if len(student_out) < n_global:
        raise ValueError(f"dino_loss expects the student to see the teacher's {n_global} "
                         f"global crop(s) first and then any local crops; got "
                         f"{len(student_out)} student crop(s). Fix: pass the student's "
                         f"outputs for all crops, global crops first.")
    if len(student_out) == 1:
        raise ValueError("dino_loss needs at least one (teacher crop, student crop) pair of "
                         "different views; with one crop each, the only pair is the same "
                         "view, which DINO skips. Fix: pass 2 global crops (and local ones).")

    # sg(teacher): a target, never differentiated (official DINOLoss: `teacher_out.detach()`;
    # the teacher's weights follow the student by EMA)
    teacher_probs = [F.softmax((t - center) / teacher_temp, dim=-1).detach()
                     for t in teacher_out]  # each NxK
    student_log_probs = [F.log_softmax(s / student_temp, dim=-1) for s in student_out]

    total_loss, n_pairs = 0.0, 0
    for iq, q in enumerate(teacher_probs):
        for v, log_p in enumerate(student_log_probs):
            if v == iq:
                continue  # the student and the teacher see the same view: nothing to learn
            total_loss = total_loss + torch.sum(-q * log_p, dim=-1).mean()
            n_pairs += 1
    loss = total_loss / n_pairs
    if not return_terms:
        return loss

    with torch.no_grad():
        # every teacher crop is paired with len(student_out) - 1 student crops, so the mean
        # over the pairs of H(P_t) is the plain mean over the teacher crops
        teacher_log_probs = [F.log_softmax((t - center) / teacher_temp, dim=-1)
                             for t in teacher_out]
        entropy = torch.stack([-(q * log_q).sum(dim=-1).mean()
                               for q, log_q in zip(teacher_probs, teacher_log_probs)]).mean()
        kl = torch.stack([(q * (log_q - log_p)).sum(dim=-1).mean()
                          for iq, (q, log_q) in enumerate(zip(teacher_probs, teacher_log_probs))
                          for v, log_p in enumerate(student_log_probs) if v != iq]).mean()
    return loss, {"teacher_entropy": entropy, "kl": kl}


@torch.no_grad()
def dino_center_update(center: Tensor, teacher_out: Sequence[Tensor],
                       momentum: float = 0.9) -> Tensor:
    """The new center: an EMA of the teacher's mean output.

        c <- momentum * c + (1 - momentum) * 1/(B N) sum_b sum_n g_t(x_b)[n]

    over the B teacher crops and N samples. Paper eq. (4); official code main_dino.py,
    `DINOLoss.update_center` (center_momentum=0.9).

    center: (K,) or (1, K); teacher_out: list of (N, K) teacher logits, one per global crop.
    Returns a new tensor of center's shape; nothing is updated in place.

    Deviation: the official code all-reduces the sum over every GPU before dividing by the
    global batch; with several processes the method must gather the teacher outputs first.
    """
    check_views("dino_center_update", "teacher_out", teacher_out)
    batch_center = torch.cat(list(teacher_out)).mean(dim=0)  # (K,)
    if center.shape[-1] != batch_center.shape[0]:
        raise ValueError(f"dino_center_update expects center with {batch_center.shape[0]} "
                         f"entries, one per teacher output dimension; got shape "
                         f"{tuple(center.shape)}.")
    return center * momentum + batch_center * (1 - momentum)
