"""BYOL: Bootstrap Your Own Latent.

Grill, Strub, Altche, Tallec, Richemond et al. 2020, arXiv 2006.07733; official code
google-deepmind/deepmind-research byol/byol_experiment.py (`_forward`, `loss_fn`,
`_update_fn`), byol/utils/networks.py (`MLP`) and byol/configs/byol.py.

An online network (backbone, projector, predictor) predicts the projection that a target
network (backbone, projector, no predictor) gives to the other view. The optimiser trains
only the online weights theta; the target weights follow them as an exponential moving
average, xi <- tau * xi + (1 - tau) * theta. Nothing in the loss forbids the constant
solution; what keeps BYOL away from it is the asymmetry: the predictor on one side only, and
a target that moves slowly and receives no gradient (paper Sec. 3.2 and 5: tau = 0, tau = 1
or no predictor all fail). The article this course follows adds that BatchNorm in the heads
matters (removing it collapses); Richemond et al. 2020 (arXiv 2010.10241) show that GroupNorm
with weight standardisation works too: `projector_norm="gn"`, `predictor_norm="gn"` here,
and `TrainConfig(norm="gn_ws")` for the backbone.

The loss is per sample (no batch statistics), so there is no `gather` option: in a
distributed run only the heads' BatchNorm needs the global batch (`sync_bn`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sslkit.losses import byol_loss, vicreg_loss
from sslkit.methods.ema import ema_update
from sslkit.methods.spec import MethodSpec, StepOutput, mean_terms
from sslkit.models import mlp
from sslkit.train.schedules import constant, ema_momentum

NORMS = ("bn", "gn", "none")


@dataclass
class BYOLConfig:
    # paper Sec. 3.3 (official network_config): Linear(4096)-BN-ReLU-Linear(256)
    projector_hidden: int = 4096
    projector_out: int = 256
    predictor_hidden: int = 4096  # paper Sec. 3.3: the predictor has the projector's shape
    # heads' hidden normalisation: "bn" (paper), "none" (the article's ablation: collapses),
    # "gn" (GroupNorm, Richemond et al. 2020, arXiv 2010.10241: no batch statistics)
    projector_norm: str = "bn"
    predictor_norm: str = "bn"
    predictor: bool = True  # False: no predictor, p = z (paper Sec. 5, Table 5: collapses)
    # tau_base 0.996: paper Sec. 3.3 (configs/byol.py uses 0.99 for 300 epochs and 0.97 for
    # 40; the short profiles below use 0.99, as solo-learn's cifar/byol.yaml does)
    tau_base: float = 0.996
    # "cosine": tau_t = 1 - (1 - tau_base) (cos(pi t / T) + 1) / 2, paper Sec. 3.3 and
    # official schedules.target_ema; "constant": tau_t = tau_base, for the EMA-rate sweep
    # of paper Sec. 5, Table 5 (tau = 0 copies the online weights every step, tau = 1
    # freezes the random initial target)
    tau_schedule: str = "cosine"
    # VICReg's variance and covariance terms added on the online projections z (Bardes et
    # al. 2022, arXiv 2105.04906, which adds them to BYOL and SimSiam: they keep the output
    # from collapsing where BatchNorm did). 0, 0: BYOL as published. Chapter 10's run uses
    # 1.0 and 0.04 (VICReg's variance : covariance ratio 25 : 1) without any BatchNorm.
    std_coeff: float = 0.0
    cov_coeff: float = 0.0


class BYOL(nn.Module):
    recipe = "byol"

    def __init__(self, backbone: nn.Module, cfg: BYOLConfig):
        super().__init__()
        for name in ("projector_norm", "predictor_norm"):
            if getattr(cfg, name) not in NORMS:
                raise ValueError(f"{name} must be one of {NORMS}, got {getattr(cfg, name)!r}")
        if cfg.tau_schedule not in ("cosine", "constant"):
            raise ValueError(f"tau_schedule must be 'cosine' or 'constant', "
                             f"got {cfg.tau_schedule!r}")
        if not 0.0 <= cfg.tau_base <= 1.0:
            raise ValueError(f"tau_base must be in [0, 1], got {cfg.tau_base}")
        self.cfg = cfg
        # online network theta (official networks.MLP: the last Linear has no bias)
        self.backbone = backbone
        self.projector = mlp([backbone.out_dim, cfg.projector_hidden, cfg.projector_out],
                             norm=cfg.projector_norm, bias_last=False)
        self.predictor = (mlp([cfg.projector_out, cfg.predictor_hidden, cfg.projector_out],
                              norm=cfg.predictor_norm, bias_last=False)
                          if cfg.predictor else nn.Identity())
        # target network xi: the same backbone and projector, no predictor. It starts as a
        # copy of the online weights (the official code initialises it from another seed and
        # reports no difference) and is changed only by the EMA in after_optimizer_step:
        # frozen for the optimiser (official: the gradient is taken w.r.t. the online weights)
        self.target_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.tau_schedule: Tensor | None = None

    def on_train_start(self, total_steps: int) -> None:
        if self.cfg.tau_schedule == "cosine":
            self.tau_schedule = ema_momentum(self.cfg.tau_base, total_steps)
        else:
            self.tau_schedule = constant(self.cfg.tau_base, total_steps)

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_a, x_b = views[:2]
        z_a = self.projector(self.backbone(x_a))  # NxD online projections
        z_b = self.projector(self.backbone(x_b))
        p_a, p_b = self.predictor(z_a), self.predictor(z_b)  # NxD online predictions
        # the target in training mode: its BatchNorm uses batch statistics, as the official
        # forward with is_training=True does
        zt_a = self.target_projector(self.target_backbone(x_a))  # NxD target projections
        zt_b = self.target_projector(self.target_backbone(x_b))
        # paper eq. (2) symmetrised: L(p_a, sg(z'_b)) + L(p_b, sg(z'_a)); byol_loss applies sg
        loss_ab, terms_ab = byol_loss(p_a, zt_b, return_terms=True)
        loss_ba, terms_ba = byol_loss(p_b, zt_a, return_terms=True)
        loss, terms = loss_ab + loss_ba, mean_terms(terms_ab, terms_ba)
        if self.cfg.std_coeff or self.cfg.cov_coeff:  # off by default: see BYOLConfig
            regulariser, vc_terms = vicreg_loss(z_a, z_b, sim_coeff=0.0, std_coeff=self.cfg.std_coeff,
                                                cov_coeff=self.cfg.cov_coeff, return_terms=True)
            loss = loss + regulariser
            terms.update(variance=vc_terms["variance"], covariance=vc_terms["covariance"])
        if self.tau_schedule is not None:
            terms["tau"] = torch.tensor(float(self.tau_schedule[step]))
        return StepOutput(loss, terms, z_a.detach())

    @torch.no_grad()
    def after_optimizer_step(self, step: int) -> None:
        if self.tau_schedule is None:
            raise RuntimeError("call on_train_start(total_steps) before training BYOL")
        tau = float(self.tau_schedule[step])
        # xi <- tau xi + (1 - tau) theta; BatchNorm statistics stay the target's own
        ema_update([self.target_backbone, self.target_projector],
                   [self.backbone, self.projector], tau)


SPEC = MethodSpec(
    config=BYOLConfig,
    module=BYOL,
    paper="Grill et al. 2020, BYOL (arXiv 2006.07733)",
    train_defaults={
        # 500 steps on 16 px views (the profile's 150 on whole 32 px images; kNN still sees
        # them whole) for the same CPU time: BYOL is a slow starter, its kNN stays at the
        # untrained level for the first few hundred steps. Shapes, seed 0, kNN (untrained
        # 0.211), about 40 CPU-s at one thread each: 150 steps 0.179 (tau 0.9: 0.193; lr 2e-2
        # or 1e-3: 0.183, 0.194; 4x wider heads with tau 0.9: 0.202), 270 steps at 24 px
        # 0.343, 500 at 16 px 0.674 (issue 12, benchmarks/README.md)
        "smoke": dict(view_size=16, steps=500,
                      method_args=dict(projector_hidden=256, projector_out=64,
                                       predictor_hidden=256, tau_base=0.99)),
        # 8x narrower heads than the paper for 2 CPU cores (the cpu profile was tuned with
        # width 512: benchmarks/README.md); tau 0.99 for a 700-step run
        "cpu": dict(method_args=dict(projector_hidden=512, projector_out=128,
                                     predictor_hidden=512, tau_base=0.99)),
        # official: LARS, base lr 0.2 per 256 images (configs/byol.py, 1000 epochs; 0.3-0.45
        # for shorter runs), wd 1.5e-6, eta 1e-3, biases and norms excluded; paper heads;
        # tau 0.99 as configs/byol.py for 300 epochs and solo-learn's CIFAR config
        "gpu": dict(optimizer="lars", lr=0.2, weight_decay=1.5e-6,
                    method_args=dict(tau_base=0.99)),
    },
)
