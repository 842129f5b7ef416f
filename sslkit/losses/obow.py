"""OBoW's loss: from a crop's global feature the student predicts the bag of visual words
(BoW) that the teacher's feature maps give the whole image.

Gidaris, Bursuc, Puy, Komodakis, Cord, Perez 2021, "OBoW: Online Bag-of-Visual-Words
Generation for Self-Supervised Learning", CVPR 2021, arXiv:2012.11552. Official code:
valeoai/obow, obow/builder_obow.py (line numbers below are of its `HEAD`): `BoWExtractor`
(the targets, 291-430), `BoWPredictor` (the prediction, 463-560), `OBoW._bow_loss` and
`expand_target` (the loss, 48-59 and 186-199), `compute_bow_perplexity` (17-45).

The vocabulary (a queue of the teacher's local features), its running mean distance, the
weight generator and the teacher are state: they live in `sslkit.methods.obow`. These are
the pure functions of tensors the method calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._checks import check_matrix
from sslkit.losses._precision import in_float32

__all__ = ["bow_perplexity", "bow_target", "obow_loss", "word_distances"]

POOLS = ("max", "avg")


def _check_map(fn: str, name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or not torch.is_floating_point(x):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{fn} expects {name} to be a floating-point feature map (N, C, H, W); "
                         f"got {got}. Fix: pass one stage of the teacher's forward_stages(x).")


def word_distances(feature_map: Tensor, words: Tensor) -> Tensor:
    """Squared Euclidean distance of every local feature to every visual word.

        d[n, k, h, w] = || f[n, :, h, w] - e_k ||^2
                      = ||f[n, :, h, w]||^2 - 2 <f[n, :, h, w], e_k> + ||e_k||^2

    Official BoWExtractor.forward, builder_obow.py 400-406 (the same expansion, written there
    as a 1x1 convolution with weight -2 e_k and bias ||e_k||^2).

    feature_map: (N, C, H, W) teacher features (after the border crop, see the method);
    words: (K, C) the vocabulary. Returns (N, K, H, W).
    """
    _check_map("word_distances", "feature_map", feature_map)
    check_matrix("word_distances", "words", words)
    if words.shape[1] != feature_map.shape[1]:
        raise ValueError(f"word_distances: the words have {words.shape[1]} channels but the "
                         f"feature map has {feature_map.shape[1]}; the vocabulary of a level "
                         f"must be built from that level's feature maps.")
    f = feature_map.permute(0, 2, 3, 1)  # N x H x W x C
    # ||e||^2 - 2 <f, e> in one addmm, laid out N x H x W x K: the words are the fastest
    # axis, so the softmax over them in bow_target reads contiguous memory
    d = torch.addmm(words.pow(2).sum(1), f.reshape(-1, f.shape[-1]), words.T, alpha=-2.0)
    d = d.view(*f.shape[:3], -1).add_(f.pow(2).sum(-1, keepdim=True))  # N x H x W x K
    return d.permute(0, 3, 1, 2)  # N x K x H x W


def bow_target(distances: Tensor, min_distance_mean: Tensor | float, inv_delta: float = 10.0,
               *, pool: str = "max") -> Tensor:
    """The teacher's BoW of each image: soft assignment, global pooling, L1 normalisation.

        delta = min_distance_mean / inv_delta                    (adaptive temperature)
        a[n, :, h, w] = softmax_k(-d[n, k, h, w] / delta)        (soft assignment codes)
        y[n, k] = max_{h,w} a[n, k, h, w]   (pool="max"; "avg": the mean over h, w)
        bow[n] = y[n] / sum_k y[n, k]                             (L1 normalisation)

    Official BoWExtractor.forward, builder_obow.py 423-429; `min_distance_mean` is its
    `_min_distance_mean`, a running mean over batches of the mean distance of a local
    feature to its nearest word (411-414; the method keeps it). The official code updates
    it with the current batch *before* the codes are computed, so pass the updated value.
    inv_delta: official `inv_delta`, 10 in the ResNet-18 configs, 15 for ResNet-50.
    pool: official `bow_pool`, default "max".

    distances: (N, K, H, W) from `word_distances`. Returns (N, K), rows summing to 1, with
    no gradient (a target). Deviation: `inv_delta=None` (the official hard assignment) is
    not offered.
    """
    _check_map("bow_target", "distances", distances)
    if pool not in POOLS:
        raise ValueError(f"bow_target: unknown pool {pool!r}; choose one of {POOLS}")
    if float(min_distance_mean) <= 0.0 or inv_delta <= 0.0:
        raise ValueError(f"bow_target needs min_distance_mean > 0 and inv_delta > 0 (the "
                         f"temperature is their ratio); got {float(min_distance_mean)} and "
                         f"{inv_delta}.")
    with torch.no_grad():
        d = distances.movedim(1, -1)  # N x H x W x K (contiguous from word_distances)
        codes = F.softmax(d * (-inv_delta / min_distance_mean), dim=-1)
        bow = codes.amax(dim=(1, 2)) if pool == "max" else codes.mean(dim=(1, 2))  # N x K
        return F.normalize(bow, p=1, dim=1)


@torch.no_grad()
def bow_perplexity(bow: Tensor) -> tuple[Tensor, Tensor]:
    """(per-batch, per-image) perplexity of BoW targets, official compute_bow_perplexity
    (builder_obow.py 17-45): exp of the entropy of the batch's summed BoW and the mean over
    images of exp of each image's entropy (with the official +1e-5 inside the log).
    A batch perplexity near 1 means every image gets the same few words (collapse)."""
    probs = F.normalize(bow, p=1, dim=1)
    per_image = torch.exp(-torch.sum(probs * torch.log(probs + 1e-5), dim=1)).mean()
    batch = F.normalize(bow.sum(dim=0), p=1, dim=0)
    per_batch = torch.exp(-torch.sum(batch * torch.log(batch + 1e-5)))
    return per_batch, per_image


@in_float32
def obow_loss(student_out: Sequence[Tensor], weights: Sequence[Tensor], targets: Sequence[Tensor],
              kappa: float = 5.0, *, return_terms: bool = False):
    """OBoW's loss: KL from the teacher's BoW to the student's prediction of it.

    For each BoW level l with vocabulary {e_k}, the student's classifier is not learned but
    generated from the vocabulary (official BoWPredictor, builder_obow.py 501-514, 554-558):

        w_k = G_l(e_k / ||e_k||) / ||G_l(e_k / ||e_k||)||        (unit rows; G_l an MLP,
                                                                  kept by the method)
        p_l(x) = softmax_k(kappa * <f(x), w_k>)                  f(x) the student's pooled
                                                                  feature of crop x, (D,)

    and the loss of one kind of crop (e.g. the global crops, or the small local crops) is
    the mean over its crops x of image n and over levels of

        KL(bow_l[n] || p_l(x)) = sum_k bow_l[n, k] (log bow_l[n, k] - log p_l(x)_k)

    with bow_l the teacher's target (`bow_target`, no gradient). The kinds of crop are summed:
    L = sum_g mean_l mean_{x in g} KL(bow_l || p_l(x)). Official `OBoW._bow_loss` (186-199:
    F.kl_div(log_softmax(p), t, reduction="batchmean"), mean over levels), `expand_target`
    (48-59: the image's target repeated for each of its crops), and the sum over the kinds
    of crop in `OBoWSolver.train_step` (`losses.sum()`, 641). The KL equals the cross-
    entropy minus the target's entropy, which has no gradient: the same gradients.

    student_out: one (c_g * N, D) tensor per kind of crop g, its c_g crops of the N images
        concatenated crop by crop (torch.cat of the views: rows i*N .. (i+1)*N - 1 are crop i).
    weights: one (K_l, D) tensor per level, the generated weights w (unit rows).
    targets: one (N, K_l) tensor per level, the teacher's BoW of the N images.
    kappa: official `bow_predictor_opts.kappa`, 5 in the ResNet-18 configs, 8 for ResNet-50;
        the weights are unit vectors, so kappa sets the scale of the logits.

    Stop-gradient: applied here, to the targets (the official teacher runs under
    `torch.no_grad()`), so that code calling the loss cannot forget it.

    Terms (nats): `kl_kind{g}` the loss of kind g (loss = their sum); `target_entropy` the
    mean entropy of the targets (cross-entropy = KL + target entropy); `perplexity_batch`
    and `perplexity_image` (`bow_perplexity`), all averaged over levels.

    Deviations: the crops' order inside a kind (official: image by image, here crop by
    crop, the order of sslkit's views); it changes no value.
    """
    fn = "obow_loss"
    if isinstance(student_out, Tensor) or not student_out:
        raise TypeError(f"{fn} expects student_out to be a non-empty list with one (c*N, D) "
                        f"tensor per kind of crop; got {type(student_out).__name__}. Fix: wrap "
                        f"a single tensor in a list, [torch.cat(crops)].")
    if isinstance(weights, Tensor) or isinstance(targets, Tensor) or not weights \
            or len(weights) != len(targets):
        raise ValueError(f"{fn} expects weights and targets as lists with one tensor per BoW "
                         f"level, of the same length; got {type(weights).__name__} and "
                         f"{type(targets).__name__}. Fix: pass [w] and [bow] for one level.")
    for level, (w, t) in enumerate(zip(weights, targets)):
        check_matrix(fn, f"weights[{level}]", w)
        check_matrix(fn, f"targets[{level}]", t)
        if w.shape[0] != t.shape[1]:
            raise ValueError(f"{fn}: weights[{level}] has {w.shape[0]} words but "
                             f"targets[{level}] has {t.shape[1]}; both come from the same "
                             f"vocabulary of K words.")
        if t.shape[0] != targets[0].shape[0]:
            raise ValueError(f"{fn}: targets[{level}] has {t.shape[0]} images but targets[0] "
                             f"has {targets[0].shape[0]}; every level describes the same batch.")
    n = targets[0].shape[0]
    for g, s in enumerate(student_out):
        check_matrix(fn, f"student_out[{g}]", s)
        if s.shape[1] != weights[0].shape[1]:
            raise ValueError(f"{fn}: student_out[{g}] has features of size {s.shape[1]} but the "
                             f"generated weights have {weights[0].shape[1]}; the generator's "
                             f"output size must be the backbone's out_dim.")
        if s.shape[0] % n:
            raise ValueError(f"{fn}: student_out[{g}] has {s.shape[0]} rows, not a multiple of "
                             f"the {n} images of the targets. Fix: concatenate the c crops of "
                             f"one kind, each (N, D), into one (c*N, D) tensor.")

    targets = [t.detach() for t in targets]  # sg(teacher): fixed points for the student
    kinds = []
    for s in student_out:
        crops = s.shape[0] // n
        kl = [F.kl_div(F.log_softmax(kappa * s @ w.T, dim=1),  # (c*N) x K
                       t.repeat(crops, 1), reduction="batchmean")
              for w, t in zip(weights, targets)]
        kinds.append(torch.stack(kl).mean())
    loss = torch.stack(kinds).sum()
    if not return_terms:
        return loss

    with torch.no_grad():
        terms = {f"kl_kind{g}": kl.detach() for g, kl in enumerate(kinds)}
        terms["target_entropy"] = torch.stack(
            [torch.special.entr(t).sum(dim=1).mean() for t in targets]).mean()
        perplexities = [bow_perplexity(t) for t in targets]
        terms["perplexity_batch"] = torch.stack([b for b, _ in perplexities]).mean()
        terms["perplexity_image"] = torch.stack([i for _, i in perplexities]).mean()
    return loss, terms
