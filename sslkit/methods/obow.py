"""OBoW: online bag-of-visual-words generation.

Gidaris, Bursuc, Puy, Komodakis, Cord, Perez 2021, "OBoW: Online Bag-of-Visual-Words
Generation for Self-Supervised Learning", CVPR 2021, arXiv:2012.11552; official code
valeoai/obow, obow/builder_obow.py (`OBoW`, `BoWExtractor`, `BoWPredictor`), main_obow.py
(`parse_model_opts`), config/ImageNet20/ResNet18_OBoW_full.yaml.

A teacher (an EMA of the student's backbone, no gradient) turns the feature maps of an image
into a bag of visual words: each local feature is softly assigned to the words of a
vocabulary, the assignments are max-pooled over the positions and L1-normalised. The student
sees other crops of the image and must predict that BoW from its pooled global feature,
with a linear classifier whose weights are generated from the vocabulary itself by a small
MLP (so the classifier follows the vocabulary as it changes). The vocabulary is a queue:
every step, one locally averaged teacher feature per image replaces the oldest word, so the
words follow the teacher's features without any k-means. Targets describe local content
(which visual words are present), so the student's global feature must encode it. The
soft assignment's temperature is scaled by a running mean of the distance to the nearest
word, so the codes are as sharp whatever the scale of the features; `perplexity_batch`
(official monitor) near 1 would mean every image gets the same few words.

Views (through the "dino" recipe, 2 global crops + `n_local` local crops): view 0 is the
teacher's image, with flip only (its colour, grey, blur and solarize probabilities are set
to 0); view 1 and the local crops are the student's, with colour jitter and grey. Official:
the teacher sees the whole image (resize 256, centre crop 224, flip), the student 2 crops of
160 px (scale 0.08-0.6) and 5 patches of 96 px. Deviations, so that the existing recipe
serves: the teacher's view is a crop of scale (0.4, 1); the student has one global crop of
scale (0.4, 1), not two of (0.08, 0.6); blur is off in every view (the project's CIFAR-size
rule; officially p=0.5 on the student's 160 px crops only); the local crops are random
crops of scale (0.05, 0.4) at 16/32 px, not a jittered 3x3 grid of patches.

Levels: official "full" configs use the last two stages (ResNet block3 and block4). Here
`levels` indexes the backbone's forward_stages; (-2, -1) is the same choice. The official
code drops the border of each map (1 px) and updates the queue with the 3x3 local average
of one random position; at 32 px the last stage is 4x4 (2x2 without its border), so the
averaging window is clipped to the map (deviation: there the official code fails).
Omitted: the official on-line linear classifier on the teacher's features (monitoring only,
on detached features, it does not change the training).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.distributed import all_reduce_mean, gather_with_grad
from sslkit.losses import bow_target, obow_loss, word_distances
from sslkit.methods.dino import _resolution_runs
from sslkit.methods.ema import ema_update
from sslkit.methods.spec import MethodSpec, StepOutput
from sslkit.models import mlp
from sslkit.train.schedules import ema_momentum

__all__ = ["OBoW", "OBoWConfig", "SPEC", "Vocabulary", "WeightGenerator"]


@dataclass
class OBoWConfig:
    num_words: int = 8192     # K per level, official bow_extractor_opts num_words 8192
    # stages of forward_stages; official full: bow_levels ["block3", "block4"] (the last two)
    levels: tuple = (-2, -1)
    inv_delta: float = 10.0   # official inv_delta 10 (ResNet-18 configs; ResNet-50: 15)
    kappa: float = 5.0        # official bow_predictor_opts kappa 5 (ResNet-18; ResNet-50: 8)
    bow_pool: str = "max"     # official BoWExtractor bow_pool default "max"
    alpha: float = 0.99       # teacher EMA, official alpha 0.99 with alpha_cosine True (to 1)
    min_distance_decay: float = 0.99  # official BoWExtractor._decay 0.99 (hard-coded)
    border: int = 1           # official features[:, :, 1:-1, 1:-1] before the BoW
    update_kernel: int = 3    # official update_type "local_average": avg_pool2d kernel 3
    # student's local crops, official num_img_patches 5; the loop passes it to the recipe
    n_local: int = 5


class WeightGenerator(nn.Module):
    """Official BoWPredictor.layers_w[l] (builder_obow.py 501-510): the words, l2-normalised,
    through Linear(C, 2D, no bias)-BN-ReLU-Linear(2D, D), l2-normalised again: one unit
    classification weight per word. Hidden width 2D: official num_channels_hidden =
    2 * num_channels (138). Its BN normalises over the K words (a batch of the vocabulary)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.mlp = mlp([in_dim, 2 * out_dim, out_dim])

    def forward(self, words: Tensor) -> Tensor:
        return F.normalize(self.mlp(F.normalize(words, dim=1)), dim=1)  # K x D


class Vocabulary(nn.Module):
    """One level's queue of K visual words and its running mean nearest-word distance.

    Official BoWExtractor (builder_obow.py 291-380): words start as randn(K, C).clamp(min=0)
    (344); each training step writes one feature per image, the 3x3 local average of the
    border-cropped map at a uniformly drawn position (354-362), gathered over processes
    (368), over the oldest words (377-380); `min_distance_mean` starts at 0.5 and follows
    an EMA (decay 0.99) of the batch's mean distance to the nearest word (348, 407-414).
    Deviation: the official code asserts K % B == 0 so a write is one block; here a write
    wraps around the end of the queue (the same when K % B == 0), so any K >= B works.
    """

    def __init__(self, num_words: int, dim: int, border: int, update_kernel: int):
        super().__init__()
        self.border, self.update_kernel = border, update_kernel
        self.register_buffer("words", torch.randn(num_words, dim).clamp(min=0))  # K x C
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("min_distance_mean", torch.tensor(0.5))

    def crop(self, feature_map: Tensor) -> Tensor:
        b = self.border
        if b == 0:
            return feature_map
        h, w = feature_map.shape[-2:]
        if h <= 2 * b or w <= 2 * b:
            raise ValueError(f"OBoW: a {h}x{w} feature map has nothing left without its "
                             f"border of {b} px; use larger views (view_size), an earlier "
                             f"stage in `levels`, or border=0.")
        return feature_map[:, :, b:-b, b:-b]

    def sample(self, feature_map: Tensor) -> Tensor:
        """(N, C): one locally averaged feature per image at a random position (global RNG,
        which the loop seeds per step). The window is clipped to maps smaller than it."""
        k = min(self.update_kernel, *feature_map.shape[-2:])
        f = F.avg_pool2d(feature_map, kernel_size=k, stride=1).flatten(2)  # N x C x P
        n, _, p = f.shape
        index = torch.randint(0, p, (n,), device=f.device)
        return f[torch.arange(n, device=f.device), :, index]

    @torch.no_grad()
    def write(self, features: Tensor) -> None:
        """Replace the oldest len(features) words (a FIFO queue)."""
        k, b = self.words.shape[0], features.shape[0]
        if b > k:
            raise ValueError(f"OBoW writes {b} features per step into a queue of {k} words; "
                             f"num_words must be >= the (global) batch size.")
        index = (self.ptr + torch.arange(b, device=self.words.device)) % k
        self.words[index] = features.to(self.words.dtype)
        self.ptr.copy_((self.ptr + b) % k)


def _name_kinds(terms: dict[str, Tensor], n_kinds: int) -> dict[str, Tensor]:
    """obow_loss's terms with `kl_kind{g}` named after the crops: kind 0 is the global crop,
    kind 1 the local crops (kind 2...: other resolutions)."""
    names = ["kl_global", "kl_local"] + [f"kl_crops{g}" for g in range(2, n_kinds)]
    terms = dict(terms)
    return {**{names[g]: terms.pop(f"kl_kind{g}") for g in range(n_kinds)}, **terms}


class OBoW(nn.Module):
    recipe = "dino"

    def __init__(self, backbone: nn.Module, cfg: OBoWConfig):
        super().__init__()
        if not hasattr(backbone, "forward_stages"):
            raise ValueError(f"OBoW builds its targets from the teacher's feature maps, which "
                             f"needs forward_stages, i.e. a CNN backbone (smallcnn, resnet18, "
                             f"resnet50); got {type(backbone).__name__}.")
        n_stages = len(backbone.stage_dims)
        if not cfg.levels or any(not -n_stages <= i < n_stages for i in cfg.levels):
            raise ValueError(f"levels {tuple(cfg.levels)} must be non-empty stage indices of "
                             f"the backbone's {n_stages} stages (e.g. (-2, -1))")
        if cfg.n_local < 0:
            raise ValueError(f"n_local must be >= 0, got {cfg.n_local}")
        self.cfg = cfg
        # 2 global crops + n_local local crops; view 0 (the teacher's) without colour changes
        n_views = 2 + cfg.n_local
        self.recipe_args = {"n_local": cfg.n_local, "color_jitter": [0.0] + [0.8] * (n_views - 1),
                            "grayscale": [0.0] + [0.2] * (n_views - 1), "blur": 0.0,
                            "solarize": 0.0}
        self.backbone = backbone  # student theta: no projector, official feature_extractor
        dims = [backbone.stage_dims[i] for i in cfg.levels]
        self.generators = nn.ModuleList(WeightGenerator(c, backbone.out_dim) for c in dims)
        # teacher xi: a copy of the student (official 154-158), changed only by the EMA
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.vocabularies = nn.ModuleList(
            Vocabulary(cfg.num_words, c, cfg.border, cfg.update_kernel) for c in dims)
        self._pending: list[tuple[Tensor, Tensor]] | None = None
        self.tau_schedule: Tensor | None = None

    def on_train_start(self, total_steps: int) -> None:
        # official _get_momentum_alpha: 1 - (1 - alpha) (cos(pi t / T) + 1) / 2, t the iteration
        self.tau_schedule = ema_momentum(self.cfg.alpha, total_steps)

    @torch.no_grad()
    def _targets(self, image: Tensor) -> list[Tensor]:
        """The teacher's BoW per level; keeps what after_optimizer_step writes into each
        vocabulary (its new mean distance and this batch's sampled features)."""
        cfg = self.cfg
        stages = self.teacher_backbone.forward_stages(image)
        targets, pending = [], []
        for level, vocab in zip(cfg.levels, self.vocabularies):
            f = vocab.crop(stages[level].to(vocab.words.dtype))  # N x C x H x W, not bf16
            d = word_distances(f, vocab.words)  # N x K x H x W
            mu = all_reduce_mean(d.amin(dim=1).mean())
            # the official EMA takes this batch in before its codes are computed (411-425)
            m = cfg.min_distance_decay * vocab.min_distance_mean + (1 - cfg.min_distance_decay) * mu
            targets.append(bow_target(d, m, cfg.inv_delta, pool=cfg.bow_pool))
            pending.append((m, gather_with_grad(vocab.sample(f))))
        self._pending = pending
        return targets

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        self._check_ready(views)
        n = views[0].shape[0]
        crops = views[1:]
        # one backbone pass per kind of crop (equal resolution): official img_crops entries
        y = [self.backbone(torch.cat(crops[a:b])) for a, b in _resolution_runs(crops)]
        # the classifier generated from the vocabulary as it is before this step's write
        weights = [gen(vocab.words.clone()) for gen, vocab in zip(self.generators,
                                                                  self.vocabularies)]
        targets = self._targets(views[0])
        loss, terms = obow_loss(y, weights, targets, self.cfg.kappa, return_terms=True)
        terms = _name_kinds(terms, len(y))
        terms["min_distance"] = torch.stack([m for m, _ in self._pending]).mean().detach()
        # the collapse diagnostics read the student's feature of its global crop
        return StepOutput(loss, terms, y[0][:n].detach())

    def _check_ready(self, views: list[Tensor]) -> None:
        if self.tau_schedule is None:
            raise RuntimeError("call on_train_start(total_steps) before training OBoW")
        if len(views) < 2:
            raise ValueError(f"OBoW needs the teacher's view and at least one student crop, got "
                             f"{len(views)} view(s); use the 'dino' recipe")

    @torch.no_grad()
    def after_optimizer_step(self, step: int) -> None:
        if self.tau_schedule is None:
            raise RuntimeError("call on_train_start(total_steps) before training OBoW")
        # official: the teacher moves at the start of the next forward with that iteration's
        # alpha (at iteration 0 a no-op: teacher == student), so after step t, alpha_{t+1}
        if step + 1 < len(self.tau_schedule):
            ema_update([self.teacher_backbone], [self.backbone],
                       float(self.tau_schedule[step + 1]))
        if self._pending is not None:
            for vocab, (m, features) in zip(self.vocabularies, self._pending):
                vocab.min_distance_mean.copy_(m)
                vocab.write(features)
            self._pending = None


SPEC = MethodSpec(
    config=OBoWConfig,
    module=OBoW,
    paper="Gidaris et al. 2021, OBoW (arXiv 2012.11552)",
    train_defaults={
        # a queue refreshed every 4 steps of batch 64
        "smoke": dict(method_args=dict(num_words=256, n_local=2)),
        # 32 px views: at 24 px the last stage is 3x3, 1x1 without its border, and the local
        # crops would be 8 px. K = 2048 refreshes in 16 steps of batch 128 (official: 8192
        # at batch 256, every 32 steps); the generators cost K * 2D * (C + D) per step
        "cpu": dict(view_size=32, method_args=dict(num_words=2048)),
        # official ResNet-18 recipe: SGD momentum 0.9, lr 0.05 at batch 128 (0.1 per 256),
        # wd 5e-4, cosine (ResNet18_OBoW_full.yaml)
        "gpu": dict(optimizer="sgd", lr=0.1, weight_decay=5e-4),
    },
)
