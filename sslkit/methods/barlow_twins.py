"""Barlow Twins: push the cross-correlation matrix of two views' embeddings to the identity.

Zbontar, Jing, Misra, LeCun & Deny 2021, arXiv 2103.03230; official code
facebookresearch/barlowtwins (main.py: `BarlowTwins`, `LARS`, `adjust_learning_rate`).
Two views go through the same backbone and projector; the loss standardises every embedding
dimension over the batch and asks the (D, D) cross-correlation of the two views to be the
identity. The diagonal (`on_diag`, invariance) makes the views agree; the off-diagonal
(`off_diag`, redundancy reduction) decorrelates the dimensions. A collapsed embedding cannot
reach the minimum: a constant dimension has no correlation to give (its standardised value is
0, so C_ii = 0, not 1), and copies of one dimension are penalised off the diagonal. No
predictor, stop-gradient, EMA or negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sslkit.losses.barlow_twins import barlow_twins_loss, cross_correlation
from sslkit.methods.spec import MethodSpec, StepOutput, global_batch
from sslkit.models import mlp

__all__ = ["BarlowTwins", "BarlowTwinsConfig", "SPEC", "cross_correlation"]


@dataclass
class BarlowTwinsConfig:
    # official --projector 8192-8192-8192 on ResNet-50 (paper Sec. 4, Fig. 4: wider is
    # better). Deviation: 2048 wide by default, as solo-learn's CIFAR recipe, since our 32 px
    # backbones have 256-512 features; the chapter's dimension sweep changes it.
    projector: tuple[int, ...] = (2048, 2048, 2048)
    # official: Linear-BN-ReLU hidden blocks. "none" drops the hidden BNs (paper Sec. 4,
    # loss ablations, Table 2: Barlow Twins still works without BN in the projector); the
    # loss's own standardisation over the batch stays, it is part of the objective.
    projector_norm: str = "bn"
    lambd: float = 0.0051  # weight of the off-diagonal term, official --lambd
    # compute C on the batch gathered from every process (the official code all-reduces C)
    gather: bool = False

    def __post_init__(self):
        if self.projector_norm not in ("bn", "none"):
            raise ValueError(f"projector_norm must be 'bn' or 'none', got "
                             f"{self.projector_norm!r}")


class BarlowTwins(nn.Module):
    recipe = "barlowtwins"

    def __init__(self, backbone: nn.Module, cfg: BarlowTwinsConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        # official projector: hidden Linear-BN-ReLU, last Linear without bias or norm
        self.projector = mlp([backbone.out_dim, *cfg.projector], norm=cfg.projector_norm,
                             bias_last=False)

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_a, x_b = views[:2]
        z_a = self.projector(self.backbone(x_a))  # NxD
        z_b = self.projector(self.backbone(x_b))  # NxD
        z_a, z_b = global_batch(z_a, z_b, gather=self.cfg.gather)  # C over all processes
        loss, terms = barlow_twins_loss(z_a, z_b, lambd=self.cfg.lambd, return_terms=True)
        return StepOutput(loss, terms, z_a.detach())

    @torch.no_grad()
    def cross_correlation(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        """The (D, D) matrix C the loss pushes to the identity, for two batches of views.

        For chapter 9's picture of C as training goes on. Runs in the module's current mode:
        call `.eval()` first so the projector's BN uses its running statistics and is not
        updated by the call (C itself always standardises over this batch).
        """
        z_a = self.projector(self.backbone(x_a)).float()  # NxD
        z_b = self.projector(self.backbone(x_b)).float()  # NxD
        return cross_correlation(z_a, z_b)

    def after_optimizer_step(self, step: int) -> None:
        pass


SPEC = MethodSpec(
    config=BarlowTwinsConfig,
    module=BarlowTwins,
    paper="Zbontar et al. 2021, Barlow Twins (arXiv 2103.03230)",
    train_defaults={
        # lambda 0.02 (official 0.0051, tuned for 8192 dimensions): at 256 the off-diagonal
        # term is too weak and the embedding collapses to ~13 effective dimensions in 150
        # steps. Shapes, seed 0, kNN (untrained 0.211): 0.0051 -> 0.251, 0.02 -> 0.571,
        # 0.05 -> 0.364, 0.1 -> 0.144, 0.2 -> 0.147 (benchmarks/README.md, issue 12)
        "smoke": dict(method_args=dict(projector=(256, 256, 256), lambd=0.02)),
        "cpu": dict(method_args=dict(projector=(512, 512, 512))),
        # official: LARS, lr = batch/256 * 0.2 for weights and * 0.0048 for biases and BN
        # parameters, wd 1e-6 (main.py --weight-decay). The loop has one lr (scaled by batch/256), so weights get
        # the official 0.2; biases and BN parameters (LARS-excluded: no trust ratio, no decay)
        # get it too, as in VICReg's and solo-learn's LARS recipes.
        "gpu": dict(optimizer="lars", lr=0.2, weight_decay=1e-6),
    },
)
