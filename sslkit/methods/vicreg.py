"""VICReg: Variance-Invariance-Covariance Regularization.

Bardes, Ponce, LeCun 2022, arXiv 2105.04906; official code facebookresearch/vicreg
(main_vicreg.py). Two views go through the same backbone and expander; the loss keeps the
embeddings of the two views close (invariance), keeps every dimension's std above 1 over the
batch (variance) and decorrelates the dimensions (covariance). Nothing is shared across steps:
no EMA, no stop-gradient, no negatives. Since each regulariser acts on one branch's embeddings
alone, the branches need not share weights or architecture (paper Fig. 1): `backbone_b` gives
view b a backbone and expander of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from sslkit.losses import vicreg_loss
from sslkit.methods.spec import MethodSpec, StepOutput, global_batch
from sslkit.models import build_backbone, mlp


@dataclass
class VICRegConfig:
    # paper Sec. 4.2 uses 8192-8192-8192 on ResNet-50; the width matters less for 32 px
    # backbones with 256-512 features, and 2048 keeps CPU steps cheap.
    expander: tuple[int, ...] = (2048, 2048, 2048)
    sim_coeff: float = 25.0  # lambda, official --sim-coeff
    std_coeff: float = 25.0  # mu, official --std-coeff
    cov_coeff: float = 1.0   # nu, official --cov-coeff
    # None: one backbone and expander for both views (Siamese, as in the paper's ImageNet
    # runs). A name from sslkit.models.BACKBONES: view b goes through a second backbone of
    # that architecture, built by build_backbone(backbone_b, **backbone_b_args) with its own
    # initialisation, and its own expander (paper Fig. 1: the branches "do not require
    # identical architectures nor share weights"). kNN evaluates branch a (`backbone`).
    backbone_b: str | None = None
    backbone_b_args: dict[str, Any] = field(default_factory=dict)
    # compute the loss on the batch gathered from every process (official FullGatherLayer)
    gather: bool = False


class VICReg(nn.Module):
    recipe = "vicreg"

    def __init__(self, backbone: nn.Module, cfg: VICRegConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        # official Projector: Linear-BN-ReLU blocks, last Linear without bias or norm
        self.expander = mlp([backbone.out_dim, *cfg.expander], norm="bn", bias_last=False)
        self.backbone_b = self.expander_b = None
        if cfg.backbone_b is not None:
            self.backbone_b = build_backbone(cfg.backbone_b, **cfg.backbone_b_args)
            self.expander_b = mlp([self.backbone_b.out_dim, *cfg.expander], norm="bn",
                                  bias_last=False)

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_a, x_b = views[:2]
        z_a = self.expander(self.backbone(x_a))  # NxD
        if self.backbone_b is None:
            z_b = self.expander(self.backbone(x_b))  # NxD, the same network
        else:
            z_b = self.expander_b(self.backbone_b(x_b))  # NxD, branch b's own network
        z_a, z_b = global_batch(z_a, z_b, gather=self.cfg.gather)  # statistics: all processes
        loss, terms = vicreg_loss(z_a, z_b, sim_coeff=self.cfg.sim_coeff,
                                  std_coeff=self.cfg.std_coeff, cov_coeff=self.cfg.cov_coeff,
                                  return_terms=True)
        return StepOutput(loss, terms, z_a.detach())

    def after_optimizer_step(self, step: int) -> None:
        pass


SPEC = MethodSpec(
    config=VICRegConfig,
    module=VICReg,
    paper="Bardes et al. 2022, VICReg (arXiv 2105.04906)",
    train_defaults={
        "smoke": dict(method_args=dict(expander=(256, 256, 256))),
        "cpu": dict(method_args=dict(expander=(512, 512, 512))),
        # official: LARS, wd 1e-6 (main_vicreg.py --wd); base lr 0.2 per 256 at batch 2048
        # (--base-lr default), 0.3 in the README's 100-epoch recipe at batch 512, as here
        "gpu": dict(optimizer="lars", lr=0.3, weight_decay=1e-6),
    },
)
