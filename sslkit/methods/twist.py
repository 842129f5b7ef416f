"""TWIST: two views' class distributions that agree, are confident, and use every class.

Wang, Kong, Zhang, Liu & Li 2021, "Self-Supervised Learning by Estimating Twin Class
Distributions", arXiv 2110.07402; official code bytedance/TWIST (train.py: `TWIST`,
`ProjectionHead`, optimiser defaults; engine.py: the two-view loss; objective.py: `EntLoss`).
Two views go through the same backbone and a head that ends in K logits standardised by a
BatchNorm without affine parameters; their softmaxes are K-way "class" distributions. The
loss makes the two views' distributions agree (symmetric KL), each of them sharp (low mean
entropy per sample) and the batch's mean distribution flat (high entropy of the mean).
Collapse onto one class makes the mean distribution sharp, collapse onto the uniform
distribution makes every sample's distribution flat: each costs log K in one of the entropy
terms. The head's final BN also keeps every logit varying over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sslkit.losses.twist import twist_loss
from sslkit.methods.spec import MethodSpec, StepOutput, global_batch
from sslkit.models import mlp

__all__ = ["TWIST", "TWISTConfig", "SPEC"]


@dataclass
class TWISTConfig:
    # official ProjectionHead: Linear-BN-ReLU twice (--hid_dim 4096), Linear to K
    # (--dim 4096), then BatchNorm without affine (--lbn_type bn). Deviation: 2048 wide by
    # default for 32 px backbones with 256-512 features; gpu keeps that, cpu/smoke shrink it.
    hidden_dim: int = 2048
    num_classes: int = 2048  # K, the number of "classes" (official --dim)
    lam1: float = 0.0  # extra weight on the per-sample entropy, official --lam1
    lam2: float = 1.0  # weight of the entropy of the batch mean, official --lam2
    tau: float = 1.0   # temperature of the entropy terms, official --tau
    eps: float = 1e-5  # inside every log, official --EPS
    # compute the batch-mean term over the batch gathered from every process
    gather: bool = False


class TWIST(nn.Module):
    # official --aug barlow is its two-view pipeline (augmentation.py
    # `BarlowtwinsAugmentations`); the default multi-crop (2 + 12 crops) is left out
    recipe = "barlowtwins"

    def __init__(self, backbone: nn.Module, cfg: TWISTConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        # hidden Linears lose their bias and the last one too: each is followed by a BN
        # whose mean subtraction cancels it
        self.head = mlp([backbone.out_dim, cfg.hidden_dim, cfg.hidden_dim, cfg.num_classes],
                        norm="bn", last_norm="bn_noaffine")

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_a, x_b = views[:2]
        # Deviation: the official model runs backbone and head on both views concatenated
        # (train.py TWIST.forward), so every BatchNorm, the final one included, normalises
        # over 2N; here per view (N), the setting the book's stored results were trained with
        logits_a = self.head(self.backbone(x_a))  # NxK, standardised over the batch
        logits_b = self.head(self.backbone(x_b))  # NxK
        logits_a, logits_b = global_batch(logits_a, logits_b, gather=self.cfg.gather)
        loss, terms = twist_loss(logits_a, logits_b, lam1=self.cfg.lam1, lam2=self.cfg.lam2,
                                 tau=self.cfg.tau, eps=self.cfg.eps, return_terms=True)
        # the class distributions are what collapses (to one class or to uniform); the
        # logits cannot show it, the BN keeps every logit's std at 1
        probs = (logits_a.float() / self.cfg.tau).softmax(dim=1)  # NxK
        return StepOutput(loss, terms, probs.detach())

    def after_optimizer_step(self, step: int) -> None:
        pass


SPEC = MethodSpec(
    config=TWISTConfig,
    module=TWIST,
    paper="Wang et al. 2021, TWIST (arXiv 2110.07402)",
    train_defaults={
        # K 1024 (official 4096; 64 before) and lr 1e-3 per 256 (the profile's 5e-3): shapes,
        # seed 0, kNN (untrained 0.211): K 64 -> 0.206 at lr 5e-3; at lr 1e-3:
        # K 64 -> 0.223, 256 -> 0.251, 1024 -> 0.270, 4096 -> 0.260, 1024 with tau 0.5 ->
        # 0.196; then 500 steps on 16 px views (about the CPU time of 150 on 32 px) 0.615
        # (issue 12, benchmarks/README.md)
        "smoke": dict(view_size=16, steps=500, lr=1e-3,
                      method_args=dict(hidden_dim=256, num_classes=1024)),
        "cpu": dict(method_args=dict(hidden_dim=512, num_classes=512)),
        # official: LARS, lr 0.5 * batch/256 (train.py --lr, linear scaling), wd 1.5e-6
        # (--weight-decay), biases and norms excluded from decay and trust ratio
        "gpu": dict(optimizer="lars", lr=0.5, weight_decay=1.5e-6),
    },
)
