"""TWIST: twin class distributions that agree, are sharp per sample and balanced per batch.

Wang, Kong, Zhang, Liu & Li 2021, "Self-Supervised Learning by Estimating Twin Class
Distributions", arXiv:2110.07402. Official code: bytedance/TWIST, `objective.py` (`EntLoss`,
`KL`, `EH`, `HE`), defaults from `train.py` (`--lam1 0 --lam2 1 --tau 1 --EPS 1e-5`).
"""

from __future__ import annotations

from torch import Tensor

from sslkit.losses._precision import in_float32

__all__ = ["twist_loss"]


def _kl(p: Tensor, q: Tensor, eps: float) -> Tensor:
    """mean_i KL(p_i || q_i), with eps inside the logs as official `KL`."""
    return (p * ((p + eps).log() - (q + eps).log())).sum(dim=1).mean()


def _mean_entropy(p: Tensor, eps: float) -> Tensor:
    """mean_i H(p_i): small when every sample is confidently assigned (official `EH`)."""
    return -(p * (p + eps).log()).sum(dim=1).mean()


def _entropy_of_mean(p: Tensor, eps: float) -> Tensor:
    """H(mean_i p_i): large when the batch uses all classes evenly (official `HE`)."""
    mean = p.mean(dim=0)  # K
    return -(mean * (mean + eps).log()).sum()


@in_float32
def twist_loss(
    logits_a: Tensor,
    logits_b: Tensor,
    *,
    lam1: float = 0.0,
    lam2: float = 1.0,
    tau: float = 1.0,
    eps: float = 1e-5,
    return_terms: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """TWIST loss of two views' class logits.

    With P = softmax(logits) and S = softmax(logits / tau) per view:

        consistency = 1/2 [KL(P_a || P_b) + KL(P_b || P_a)]      (mean over samples)
        sharpness   = 1/2 [mean_i H(S_a,i) + mean_i H(S_b,i)]     (mean per-sample entropy)
        diversity   = 1/2 [H(mean_i S_a,i) + H(mean_i S_b,i)]     (entropy of the batch mean)
        loss = consistency + (1 + lam1) * sharpness - lam2 * diversity

    Sharpness alone collapses every sample onto one class; diversity keeps the classes
    balanced over the batch, so the minimum (-log K) needs confident, evenly spread classes.

    logits_a, logits_b: (N, K) class logits of the two views. The official head ends with a
        BatchNorm without affine parameters on these logits (`ProjectionHead.norm`,
        `--lbn_type bn`); that layer belongs to the method's head, not to this loss.
    lam1, lam2: official weights (`--lam1` 0, `--lam2` 1); tau: sharpening temperature of
        the entropy terms (`--tau` 1); eps: inside every log (`--EPS` 1e-5).
    Returns the scalar loss, or `(loss, {"consistency", "sharpness", "diversity"})` (detached).

    Deviation: the official terms are `all_reduce`d across GPUs (not autograd-aware); with
    sslkit's distributed flag the method gathers the logits first
    (`sslkit.distributed.gather_with_grad`), so the batch mean is over the global batch.
    The multi-crop pairing of the official `engine.py` is left to the method.
    """
    if logits_a.dim() != 2 or logits_a.shape != logits_b.shape:
        raise ValueError(
            f"twist_loss expects logits_a and logits_b of the same shape (N, K), got "
            f"{tuple(logits_a.shape)} and {tuple(logits_b.shape)}."
        )
    n, k = logits_a.shape
    if n < 2 or k < 2:
        raise ValueError(
            f"twist_loss needs at least 2 samples (the diversity term is a batch statistic) "
            f"and 2 classes, got N={n}, K={k}; use a larger batch or head."
        )
    p_a, p_b = logits_a.softmax(dim=1), logits_b.softmax(dim=1)
    consistency = 0.5 * (_kl(p_a, p_b, eps) + _kl(p_b, p_a, eps))
    s_a, s_b = (logits_a / tau).softmax(dim=1), (logits_b / tau).softmax(dim=1)
    sharpness = 0.5 * (_mean_entropy(s_a, eps) + _mean_entropy(s_b, eps))
    diversity = 0.5 * (_entropy_of_mean(s_a, eps) + _entropy_of_mean(s_b, eps))
    loss = consistency + (1 + lam1) * sharpness - lam2 * diversity
    if return_terms:
        terms = {"consistency": consistency, "sharpness": sharpness, "diversity": diversity}
        return loss, {k: v.detach() for k, v in terms.items()}
    return loss
