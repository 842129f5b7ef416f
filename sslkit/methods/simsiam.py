"""SimSiam: Simple Siamese representation learning.

Chen & He 2020, arXiv 2011.10566; official code facebookresearch/simsiam simsiam/builder.py
(the networks) and main_simsiam.py (loss and optimiser).

One encoder f (backbone + projector) is shared by both views; a predictor h maps one view's
projection z to a prediction p of the other's: loss = 1/2 D(p_1, sg(z_2)) + 1/2 D(p_2,
sg(z_1)), D the negative cosine similarity. There is no EMA, no negative pair and no batch
term in the loss. What prevents the constant solution is the stop-gradient (paper Sec. 4.1,
Fig. 2: without it the l2-normalised output's std falls to 0 at once) together with the
predictor (Table 1: removing it or freezing it at its random initialisation fails). The
paper reads the pair as an EM-like alternation (Sec. 5): the stop-gradient target plays the
role of a fixed estimate eta that the encoder is fitted to, and the predictor approximates
the expectation over augmentations that the alternation would need.

The loss is per sample (no batch statistics), so there is no `gather` option: in a
distributed run only the heads' BatchNorm needs the global batch (`sync_bn`, as
main_simsiam.py converts the model with `convert_sync_batchnorm`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sslkit.losses import simsiam_loss, vicreg_loss
from sslkit.methods.spec import MethodSpec, StepOutput, mean_terms
from sslkit.models import mlp

PREDICTORS = ("mlp", "none", "fixed_random")
# Paper Table 2, the BatchNorm ablation (ImageNet linear top-1 after 100 epochs): BN in
# (projector hidden, projector output, predictor hidden, predictor output) ->
#   "none" 34.6 %, "hidden" 67.4 %, "default" 68.1 % (builder.py), "all" 35.2 % (unstable)
BATCHNORM = {"none": (False, False, False, False), "hidden": (True, False, True, False),
             "default": (True, True, True, False), "all": (True, True, True, True)}


@dataclass
class SimSiamConfig:
    # projector: 3 Linear layers, BN after each, the output BN without affine (builder.py).
    # paper Sec. 3 "hidden fc is 2048-d"; builder.py uses the backbone width (2048 on
    # ResNet-50) for the hidden layers, which would be 256 on SmallCNN, so it is a field here
    proj_hidden_dim: int = 2048
    dim: int = 2048      # z and p dimension: builder.py `dim`, main_simsiam.py --dim 2048
    pred_dim: int = 512  # predictor bottleneck: builder.py `pred_dim` (paper Sec. 3)
    # True: D(p, sg(z)) as the paper; False: the ablation of Sec. 4.1 (collapses)
    stop_gradient: bool = True
    # "mlp": the paper's predictor; "none": p = z; "fixed_random": the predictor stays at its
    # random initialisation (paper Table 1: both fail)
    predictor: str = "mlp"
    # main_simsiam.py --fix-pred-lr (default off; on in the README's recipe): the predictor
    # keeps the initial lr while the rest follows the cosine schedule
    fix_pred_lr: bool = False
    # where the heads have BatchNorm, one of BATCHNORM (paper Table 2); "default" = builder.py
    batchnorm: str = "default"
    # VICReg's variance and covariance terms added on the projections z (Bardes et al. 2022,
    # arXiv 2105.04906, which adds them to BYOL and SimSiam). 0, 0: SimSiam as published;
    # chapter 10 uses 1.0 and 0.04 with batchnorm="none"
    std_coeff: float = 0.0
    cov_coeff: float = 0.0


class SimSiam(nn.Module):
    recipe = "simsiam"  # main_simsiam.py's MoCo v2 augmentation: crop (0.2, 1), jitter .4/.4/.4/.1

    def __init__(self, backbone: nn.Module, cfg: SimSiamConfig):
        super().__init__()
        if cfg.predictor not in PREDICTORS:
            raise ValueError(f"predictor must be one of {PREDICTORS}, got {cfg.predictor!r}")
        if cfg.batchnorm not in BATCHNORM:
            raise ValueError(f"batchnorm must be one of {', '.join(BATCHNORM)} (paper Table 2), "
                             f"got {cfg.batchnorm!r}")
        self.cfg = cfg
        self.backbone = backbone
        proj_hidden, proj_out, pred_hidden, pred_out = BATCHNORM[cfg.batchnorm]
        # builder.py: [Linear-BN-ReLU] x 2, Linear, BatchNorm1d(dim, affine=False)
        self.projector = mlp([backbone.out_dim, cfg.proj_hidden_dim, cfg.proj_hidden_dim,
                              cfg.dim], norm="bn" if proj_hidden else "none",
                             last_norm="bn_noaffine" if proj_out else None)
        if cfg.predictor == "none":
            self.predictor = nn.Identity()
        else:
            # builder.py: Linear(dim, pred_dim)-BN-ReLU, Linear(pred_dim, dim) with bias
            self.predictor = mlp([cfg.dim, cfg.pred_dim, cfg.dim], norm="bn" if pred_hidden else "none",
                                 last_norm="bn" if pred_out else None)
            if cfg.predictor == "fixed_random":
                self.predictor.requires_grad_(False)  # the optimiser skips frozen parameters

    def fixed_lr_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser keeps at the initial lr (official `fix_lr` groups)."""
        return list(self.predictor.parameters()) if self.cfg.fix_pred_lr else []

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_1, x_2 = views[:2]
        z_1 = self.projector(self.backbone(x_1))  # NxD
        z_2 = self.projector(self.backbone(x_2))  # NxD
        p_1, p_2 = self.predictor(z_1), self.predictor(z_2)  # NxD
        # L = D(p_1, sg(z_2)) / 2 + D(p_2, sg(z_1)) / 2; simsiam_loss applies sg(.), unless
        # the config removes it (the ablation of paper Sec. 4.1: the encoder collapses)
        sg = self.cfg.stop_gradient
        loss_12, terms_12 = simsiam_loss(p_1, z_2, stop_gradient=sg, return_terms=True)
        loss_21, terms_21 = simsiam_loss(p_2, z_1, stop_gradient=sg, return_terms=True)
        loss, terms = 0.5 * (loss_12 + loss_21), mean_terms(terms_12, terms_21)
        if self.cfg.std_coeff or self.cfg.cov_coeff:  # off by default: see SimSiamConfig
            regulariser, vc_terms = vicreg_loss(z_1, z_2, sim_coeff=0.0, std_coeff=self.cfg.std_coeff,
                                                cov_coeff=self.cfg.cov_coeff, return_terms=True)
            loss = loss + regulariser
            terms.update(variance=vc_terms["variance"], covariance=vc_terms["covariance"])
        return StepOutput(loss, terms, z_1.detach())

    def after_optimizer_step(self, step: int) -> None:
        pass  # nothing besides the optimiser: no EMA, the two branches share the encoder


SPEC = MethodSpec(
    config=SimSiamConfig,
    module=SimSiam,
    paper="Chen & He 2020, SimSiam (arXiv 2011.10566)",
    train_defaults={
        # 500 steps on 16 px views (the profile's 150 on whole 32 px images; kNN still sees
        # them whole) for the same CPU time: a slow starter. Shapes, seed 0, kNN (untrained
        # 0.211), about 32 CPU-s at one thread each: 150 steps 0.185 (lr 1e-3 0.224, 2e-2
        # 0.167; 4x wider heads at lr 1e-3 0.227), 270 steps at 24 px 0.398, 500 at 16 px
        # 0.706 (issue 12, benchmarks/README.md)
        "smoke": dict(view_size=16, steps=500,
                      method_args=dict(proj_hidden_dim=256, dim=256, pred_dim=64)),
        # 4x narrower than the paper for 2 CPU cores; the 4:1 bottleneck kept
        "cpu": dict(method_args=dict(proj_hidden_dim=512, dim=512, pred_dim=128)),
        # main_simsiam.py: SGD, lr 0.05 per 256 images, momentum 0.9, wd 1e-4, cosine decay,
        # no warm-up (paper Sec. 4 baseline settings). Deviation: our optimiser takes no
        # weight decay on biases and norm parameters; the official SGD decays all of them
        # The README's recipe adds --fix-pred-lr.
        "gpu": dict(optimizer="sgd", lr=0.05, weight_decay=1e-4, warmup_steps=0,
                    method_args=dict(fix_pred_lr=True)),
    },
)
