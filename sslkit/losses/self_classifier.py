"""Self-Classifier's loss (a siamese classifier with a uniform class prior), and the naive
cross-entropy it fixes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._checks import check_batch_size, check_views
from sslkit.losses._precision import in_float32


def _pairs(n_views: int) -> list[tuple[int, int]]:
    """(target view i, predicted view j) pairs: i != j, and not both local crops.

    Views 0 and 1 are the global crops, the rest local (official loss.py: `view_i_idx >= 2`).
    """
    return [(i, j) for i in range(n_views) for j in range(n_views)
            if i != j and not (i >= 2 and j >= 2)]


def _classes_used(logits: Tensor) -> Tensor:
    """How many classes the batch is assigned to (argmax); 1 means collapse to one class."""
    count = torch.unique(logits.detach().argmax(dim=1)).numel()
    return torch.tensor(float(count), device=logits.device)


def _check(fn: str, logits: Sequence[Tensor]) -> None:
    check_views(fn, "logits", logits, min_views=2)
    check_batch_size(fn, "logits[0]", logits[0], min_n=2,
                     why="to normalise the class probabilities over the batch")


@in_float32
def self_classifier_loss(logits: Sequence[Tensor], *, row_tau: float = 0.1,
                         col_tau: float = 0.05, eps: float = 1e-12,
                         return_terms: bool = False):
    """Self-Classifier's loss: cross-entropy between the views' class predictions, with a
    uniform prior over the classes put in by Bayes' rule.

    For each view's logits l (N, C):
        target_i[n, y] = q[n, y] / sum_y' q[n, y'],  q = softmax over the batch of l_i / col_tau
        pred_j[n, y]   = (N / C) * r[n, y] / sum_n' r[n', y],  r = softmax over classes of
                         l_j / row_tau
        L = 1/|pairs| sum_{(i, j)} -1/N sum_n sum_y target_i[n, y] log(pred_j[n, y] + eps)

    pred_j is p(y|x) under a uniform prior p(y) = 1/C: normalising r over the batch gives
    p(x|y), and Bayes' rule with p(x) = 1/N multiplies it by N/C. A class that takes the
    whole batch gets no more probability than any other, so collapse to one class is not
    a minimum (with identical rows the loss is log C).
    Pairs (i, j): every i != j except two local crops; views 0 and 1 are the global crops.

    Paper: Amrani, Karlinsky & Bronstein 2022, "Self-Supervised Classification Network",
    arXiv 2103.10994: the cross-entropy with a uniform prior on the labels.
    Official code: elad-amrani/self-classifier src/loss.py, `Loss.forward`; the defaults
    are src/train.py's --row-tau 0.1, --col-tau 0.05 and --eps 1e-12.

    logits: list of (N, C) classifier outputs, one per view, the 2 global views first. In
        the official model they are cosine similarities (l2-normalised embedding, weight-
        normalised classifier with unit gain), hence the small temperatures.
        N should be comparable to C or larger, so that every class can get samples.

    Terms: `classes_used`, how many classes the first view's argmax uses (the official code
    prints it to watch for collapse).

    Deviation: one classifier per call. The official model has several classifier heads and
    averages the loss over all (head, pair) terms; every head has the same number of pairs,
    so the official loss is the mean of this function over the heads. No target is
    detached: gradients flow through both the target and the prediction, as officially.
    The official all-gather over GPUs is the method's concern.
    """
    _check("self_classifier_loss", logits)
    n, c = logits[0].shape
    targets = []
    for l_i in logits:
        q = F.softmax(l_i / col_tau, dim=0)  # NxC, each class's distribution over the batch
        targets.append(q / q.sum(dim=1, keepdim=True).clamp_min(eps))
    log_preds = []
    for l_j in logits:
        r = F.softmax(l_j / row_tau, dim=1)  # NxC, p(y|x) before the prior
        p_x_given_y = r / r.sum(dim=0, keepdim=True).clamp_min(eps)
        log_preds.append(torch.log(n / c * p_x_given_y + eps))

    pairs = _pairs(len(logits))
    loss = sum(-(targets[i] * log_preds[j]).sum(dim=1).mean() for i, j in pairs) / len(pairs)
    if return_terms:
        return loss, {"classes_used": _classes_used(logits[0])}
    return loss


@in_float32
def siamese_ce_loss(logits: Sequence[Tensor], *, tau: float = 0.1,
                    return_terms: bool = False):
    """The naive siamese classifier: plain cross-entropy between the views' predictions.

        L = 1/|pairs| sum_{(i, j)} -1/N sum_n sum_y p_i[n, y] log p_j[n, y],
        p = softmax over classes of l / tau

    Paper: Amrani et al. 2022, arXiv 2103.10994: the plain cross-entropy the paper starts
    from and fixes. It has a trivial minimum: every sample in one class, with full
    confidence, gives loss 0, and training falls into it; chapter 8 shows it. Same pairs as
    self_classifier_loss; no target is detached. Not for training real models.

    logits: list of (N, C) classifier outputs, one per view, the 2 global views first.
    Terms: `classes_used`, as in self_classifier_loss.
    """
    check_views("siamese_ce_loss", "logits", logits, min_views=2)
    probs = [F.softmax(view / tau, dim=1) for view in logits]  # each NxC
    log_probs = [F.log_softmax(view / tau, dim=1) for view in logits]
    pairs = _pairs(len(logits))
    loss = sum(-(probs[i] * log_probs[j]).sum(dim=1).mean() for i, j in pairs) / len(pairs)
    if return_terms:
        return loss, {"classes_used": _classes_used(logits[0])}
    return loss
