"""Self-Classifier: a self-supervised classification network.

Amrani, Karlinsky & Bronstein 2021, "Self-Supervised Classification Network", arXiv
2103.10994; official code elad-amrani/self-classifier src/model.py (`Model`, `MLPHead`),
src/loss.py (`Loss`) and src/train.py (defaults), scripts/ablation/*/train_100ep_*.sh (the
paper's settings).

A backbone, an MLP projector with an l2-normalised output, and a weight-normalised linear
classifier to C classes: the logits are cosines between the embedding and C class vectors.
Two views of an image should be put in the same class: the loss is a cross-entropy between
the views' class predictions. A plain cross-entropy (`uniform_prior=False`) has a trivial
minimum, every image in one class, and training falls into it. Self-Classifier asserts a
uniform prior over the classes: by Bayes' rule the prediction p(y|x) is built from p(x|y),
a softmax over the batch, so a class that takes the whole batch gets no more probability
than any other, and the only way to lower the loss is balanced, consistent classes (paper
Sec. 3). Every class assignment is read off the classifier: `predict_clusters`.

Deviations: ReLU in the projector instead of LeakyReLU (the official --no-leaky variant);
no nearest-neighbour augmentation (the official queue that swaps view 1 for its nearest
neighbour once full, a +1-2% refinement in the paper's ablation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.losses import self_classifier_loss, siamese_ce_loss
from sslkit.methods.spec import MethodSpec, StepOutput, global_batch
from sslkit.models import mlp


@dataclass
class SelfClassifierConfig:
    # C of the classifier the clusters are read from; official --cls-size 1000 on ImageNet
    # (its 1000 classes); 10 for the shapes set and CIFAR-10
    num_classes: int = 10
    # further classifier heads trained alongside (official --cls-size 1000 2000 4000 8000
    # --num-cls 4: over-clustering heads help the representation); the loss is their mean
    extra_classes: tuple[int, ...] = ()
    hidden_dim: int = 4096  # official --hidden-dim 4096
    num_layers: int = 2     # official --num-hidden 2 (MLPHead: Linear-BN-ReLU-Linear)
    dim: int = 128          # official --dim 128, the l2-normalised embedding
    projector_norm: str = "bn"  # official scripts pass --use-bn; "none" is the code default
    row_tau: float = 0.1    # official --row-tau 0.1 (softmax over classes)
    col_tau: float = 0.05   # official --col-tau 0.05 (softmax over the batch)
    # False: the naive siamese cross-entropy (paper Sec. 3, the loss it fixes; collapses to
    # one class), with temperature row_tau
    uniform_prior: bool = True
    # local crops per image (official --local-crops-number 6); 0: two views only
    n_local: int = 6
    # compute the loss on the batch gathered from every process (official AllGather)
    gather: bool = False


class SelfClassifier(nn.Module):
    recipe = "dino"  # official DataAugmentation: DINO's 2 global + n_local local crops

    def __init__(self, backbone: nn.Module, cfg: SelfClassifierConfig):
        super().__init__()
        if cfg.num_classes < 2 or any(c < 2 for c in cfg.extra_classes):
            raise ValueError(f"every classifier needs >= 2 classes, got num_classes="
                             f"{cfg.num_classes}, extra_classes={cfg.extra_classes}")
        if cfg.n_local < 0:
            raise ValueError(f"n_local must be >= 0, got {cfg.n_local}")
        self.cfg = cfg
        self.recipe_args = {"n_local": cfg.n_local}  # read by the loop
        self.backbone = backbone
        # Deviations: official MLPHead initialises its Linear layers trunc_normal(std 0.02),
        # bias 0 (model.py _init_weights); here PyTorch's default init. Official Model runs the
        # head on all views concatenated (its BN over V*N); here per view. Both as the book's
        # stored results were trained.
        self.projector = mlp([backbone.out_dim] + [cfg.hidden_dim] * (cfg.num_layers - 1)
                             + [cfg.dim], norm=cfg.projector_norm)
        self.classifiers = nn.ModuleList()
        for c in (cfg.num_classes, *cfg.extra_classes):
            # official: nn.utils.weight_norm(Linear(dim, C, bias=False)), weight_g filled
            # with 1 (and trained): the logits start as cosines to C class vectors
            layer = nn.utils.parametrizations.weight_norm(nn.Linear(cfg.dim, c, bias=False))
            with torch.no_grad():
                layer.parametrizations.weight.original0.fill_(1.0)
            self.classifiers.append(layer)

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def embed(self, x: Tensor) -> Tensor:
        """Nx3xHxW -> NxD, the l2-normalised projector output (official MLPHead)."""
        return F.normalize(self.projector(self.backbone(x)), dim=1)

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        if len(views) < 2:
            raise ValueError(f"Self-Classifier needs at least 2 views, got {len(views)}")
        # one pass per view (resolutions may differ); local crops are after the 2 global ones
        z = [self.embed(x) for x in views]  # each NxD
        heads = [global_batch(*(cls(z_v) for z_v in z), gather=self.cfg.gather)
                 for cls in self.classifiers]  # [head][view] NxC, over the softmaxes' batch
        losses, terms = zip(*(self._loss(logits) for logits in heads))
        loss = torch.stack(losses).mean()  # official: mean over heads (and view pairs)
        first = heads[0][0].detach()  # NxC logits of the first head, first view
        counts = torch.bincount(first.argmax(dim=1), minlength=first.shape[1])
        terms = {**terms[0], "largest_class_fraction": counts.max() / first.shape[0]}
        # the collapse diagnostics read the class logits (collapse = one class for all)
        return StepOutput(loss, terms, first)

    def _loss(self, logits: list[Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """One classifier's loss and terms: the paper's, or the ablation without its uniform
        prior."""
        if self.cfg.uniform_prior:
            return self_classifier_loss(logits, row_tau=self.cfg.row_tau,
                                        col_tau=self.cfg.col_tau, return_terms=True)
        return siamese_ce_loss(logits, tau=self.cfg.row_tau, return_terms=True)

    @torch.no_grad()
    def predict_clusters(self, x: Tensor, *, batch_size: int = 512) -> Tensor:
        """(N,) int64 class of each image, the argmax of the first classifier.

        x: (N, 3, H, W) normalised float images (the evaluation transform, e.g.
        `sslkit.augment.normalize(images, mean, std)`), on any device: batches are moved to
        the model's. Runs in eval mode (BatchNorm running statistics) and restores the mode.
        Score with `sslkit.evaluate.nmi` and `cluster_accuracy` against the labels.
        """
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            out = [self.classifiers[0](self.embed(x[i:i + batch_size].to(device))).argmax(dim=1)
                   for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out).cpu()

    def after_optimizer_step(self, step: int) -> None:
        pass


SPEC = MethodSpec(
    config=SelfClassifierConfig,
    module=SelfClassifier,
    paper="Amrani, Karlinsky & Bronstein 2021, Self-Classifier (arXiv 2103.10994)",
    train_defaults={
        # 500 steps on 16 px views (local crops 8 px) for about the CPU time of 150 on 32 px.
        # Shapes, seed 0, kNN (untrained 0.211): 150 steps 0.219 (lr 1e-3 0.191, extra heads
        # of 64 and 256 classes 0.217), 500 steps at 16 px 0.708 (issue 12,
        # benchmarks/README.md)
        "smoke": dict(view_size=16, steps=500, method_args=dict(hidden_dim=256, dim=64, n_local=2)),
        # narrower projector and 2 local crops for 2 CPU cores; whole 32 px views: the
        # profile's 24 px did not pay here (0.413, or 0.417 with 12 px local crops, vs 0.418
        # at 150 s; benchmarks/README.md)
        "cpu": dict(view_size=32,
                    method_args=dict(hidden_dim=512, n_local=2, extra_classes=(20, 40))),
        # official: LARS-wrapped SGD, lr 4.8 at batch 4096 and 1.2 at 1024 (0.3 per 256;
        # --start-warmup 0.3 and cosine to 1e-3 of it), wd 1e-6; over-clustering heads as the
        # official 1000 2000 4000 8000 are to ImageNet's 1000 classes
        "gpu": dict(optimizer="lars", lr=0.3, weight_decay=1e-6,
                    method_args=dict(extra_classes=(20, 40, 80))),
    },
)
