"""CorInfoMax: maximise each view's log-determinant of correlation, align the two views.

Ozsoy, Hamdan, Arik, Yuret & Erdogan 2022, "Self-Supervised Learning with an Information
Maximization Criterion", NeurIPS 2022, arXiv 2209.07999; official code
serdarozsoy/corinfomax-ssl (`CovModel` in extras/ldmi_plot/model_base_resnet.py,
`CovarianceLoss` in cifars-tiny/loss.py, the README's CIFAR-10 command for the defaults).
Two views go through the same backbone and projector, l2-normalised. The loss is an MSE
between the views ("attraction") minus the log-determinant of each view's covariance
("big bang"). The covariance is a moving estimate R <- la_R R + (1 - la_R) R_batch, carried
across steps in buffers; its old part is a constant, the gradient flows through this batch's
part. A collapsed or low-rank embedding has a (near) singular covariance, whose log-det goes
to minus infinity: the loss forbids both complete and dimensional collapse.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.distributed import all_reduce_mean
from sslkit.losses.corinfomax import CorInfoMaxState, corinfomax_loss, corinfomax_state
from sslkit.methods.spec import MethodSpec, StepOutput, global_batch
from sslkit.models import mlp

__all__ = ["CorInfoMax", "CorInfoMaxConfig", "SPEC"]


@dataclass
class CorInfoMaxConfig:
    # official --projector 2048-2048-64 (README, CIFAR-10): Linear(+bias)-ReLU hidden layers
    # without BN, last Linear without bias (`CovModel`)
    projector: tuple[int, ...] = (2048, 2048, 64)
    normalize: bool = True  # l2-normalise the projections, official --normalize_on
    alpha: float = 250.0    # weight of the invariance MSE, official --sim_loss_weight 250
    la_R: float = 0.01      # forgetting factor of R (weight of the OLD estimate), --la_R
    la_mu: float = 0.01     # forgetting factor of the mean, --la_mu
    R_ini: float = 1.0      # R starts at R_ini * I, official --R_ini
    eps: float = 1e-8       # eps * I added before the log-det, official --R_eps_weight
    # compute the loss on the batch gathered from every process (official multi-GPU
    # FullGatherLayer); the buffers are averaged over processes after each step either way
    gather: bool = False


class CorInfoMax(nn.Module):
    # official `PretrainTransform` (transform_utils.py) is VICReg's two-view pipeline
    recipe = "vicreg"

    def __init__(self, backbone: nn.Module, cfg: CorInfoMaxConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        self.projector = mlp([backbone.out_dim, *cfg.projector], norm="none", bias_last=False)
        # float64 as the official code (log-dets of near-singular matrices); buffers so that
        # checkpoints carry them and a resumed run is identical. Not parameters: no gradient.
        state = corinfomax_state(cfg.projector[-1], R_ini=cfg.R_ini)
        for name, value in zip(CorInfoMaxState._fields, state):
            self.register_buffer(name, value)
        self._next_state: CorInfoMaxState | None = None

    @property
    def state(self) -> CorInfoMaxState:
        return CorInfoMaxState(self.R_a, self.R_b, self.mu_a, self.mu_b)

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def _project(self, x: Tensor) -> Tensor:
        z = self.projector(self.backbone(x))  # NxD
        return F.normalize(z, dim=1) if self.cfg.normalize else z

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_a, x_b = views[:2]
        z_a, z_b = self._project(x_a), self._project(x_b)  # NxD each
        z_a, z_b = global_batch(z_a, z_b, gather=self.cfg.gather)  # covariances: all processes
        loss, new_state, terms = corinfomax_loss(
            z_a, z_b, self.state, alpha=self.cfg.alpha, la_R=self.cfg.la_R, la_mu=self.cfg.la_mu,
            eps=self.cfg.eps, return_terms=True)
        # new_state is detached (official `self.R1 = self.new_R1.detach()`): no graph is
        # kept across steps. It is committed after the optimiser step, so an interrupted
        # step leaves the buffers as they were.
        self._next_state = new_state
        return StepOutput(loss, terms, z_a.detach())

    @torch.no_grad()
    def after_optimizer_step(self, step: int) -> None:
        if self._next_state is None:
            return
        for name, value in zip(CorInfoMaxState._fields, self._next_state):
            # identical on every process with gather=True; the mean of the per-process
            # estimates without it. A no-op in one process.
            getattr(self, name).copy_(all_reduce_mean(value))
        self._next_state = None


SPEC = MethodSpec(
    config=CorInfoMaxConfig,
    module=CorInfoMax,
    paper="Ozsoy et al. 2022, CorInfoMax (arXiv 2209.07999)",
    train_defaults={
        # the covariance of a 32-image batch has rank <= 31: keep D well below it. alpha
        # weighs an MSE averaged over D dimensions against a log-det that is not, so it
        # scales with D (official: 250 at D=64, 1000 at D=128 on CIFAR-100): 250 * 16 / 64.
        "smoke": dict(method_args=dict(projector=(256, 256, 16), alpha=62.5)),
        "cpu": dict(method_args=dict(projector=(512, 512, 64))),
        # official CIFAR-10: SGD, lr 0.5 at batch 512 (not rescaled; 0.25 per 256 here),
        # momentum 0.9, wd 1e-4 (--w_decay; the official decays biases too), warm-up cosine
        "gpu": dict(optimizer="sgd", lr=0.25, weight_decay=1e-4),
    },
)
