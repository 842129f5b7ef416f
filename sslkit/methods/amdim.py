"""AMDIM: InfoNCE between one view's global feature and the other view's local features.

Bachman, Hjelm & Buchwalter 2019, "Learning Representations by Maximizing Mutual Information
Across Views", arXiv 1906.00910; official code Philip-Bachman/amdim-public (model.py:
`Encoder`, `FakeRKHSConvNet`; costs.py: `LossMultiNCE`; task_self_supervised.py: how the
costs are summed, the optimiser). Each view gives a global feature (the pooled last stage,
projected to D) and local features (the last stages' maps, projected to D per position by
1x1 convolutions). For every image, the global feature of view a must pick out the local
features of view b of the same image among the local features of all other images
(InfoNCE, a lower bound on their mutual information), in both directions and at every scale,
plus one local-to-local task. Collapse is ruled out by the negatives: features that do not
tell images apart cannot score the positive above the negatives. Local features from an
earlier stage put the objective, and its gradient, in the middle of the network too.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sslkit.losses.amdim import amdim_loss_multiscale
from sslkit.methods.spec import MethodSpec, StepOutput

__all__ = ["AMDIM", "AMDIMConfig", "SPEC"]

# names for forward_stages indices; an int in `scales` selects any stage
SCALE_NAMES = {"last": -1, "prev": -2}


@dataclass
class AMDIMConfig:
    n_rkhs: int = 1024  # D of the global and local features, official train.py --n_rkhs
    # stage maps the global feature is contrasted with: "last" (stage -1, 4x4 at 32 px),
    # "prev" (stage -2, 8x8), or a stage index of the backbone's forward_stages. Official:
    # the 5x5 and 7x7 maps of its encoder (tasks 1t5, 1t7), i.e. the last two scales.
    scales: tuple = ("last", "prev")
    # official 5t5 task: a random position of the deepest map vs the other view's whole map
    local_to_local: bool = True
    tclip: float = 20.0       # soft clip of the scores, official --tclip 20
    # penalty on the raw scores, official `lgt_reg`: 5e-2 in costs.py (today's code); 4e-2
    # kept, the value the book's stored results were trained with
    reg_weight: float = 4e-2


class _Project(nn.Module):
    """Official `FakeRKHSConvNet`: a residual 1x1-conv MLP (shortcut + conv-ReLU-conv), then
    BN. Maps a (N, C, H, W) map to (N, D, H, W); the global feature uses it on a 1x1 map.
    Deviation: the shortcut starts as a plain 1x1 conv, not the official near-identity."""

    def __init__(self, c_in: int, dim: int):
        super().__init__()
        self.residual = nn.Sequential(nn.Conv2d(c_in, dim, 1, bias=False), nn.ReLU(inplace=True),
                                      nn.Conv2d(dim, dim, 1, bias=False))
        self.shortcut = nn.Conv2d(c_in, dim, 1)
        self.norm = nn.BatchNorm2d(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.shortcut(x) + self.residual(x))


class AMDIM(nn.Module):
    # Deviation: the official CIFAR transform (datasets.py TransformsC10) has no resized crop:
    # flip, 4 px reflect-padded translation p=0.8, jitter (.4, .4, .4, .2) p=0.8, grayscale
    # p=0.25. "simclr" (crop (0.08, 1), jitter .4/.4/.4/.1, gray .2) is the nearest recipe we
    # have; the book's stored AMDIM results were trained with it
    recipe = "simclr"

    def __init__(self, backbone: nn.Module, cfg: AMDIMConfig):
        super().__init__()
        if not hasattr(backbone, "forward_stages"):
            raise ValueError(
                f"AMDIM contrasts local feature maps, so it needs a CNN backbone with "
                f"forward_stages (smallcnn, resnet18, resnet50); {type(backbone).__name__} "
                f"has none (a ViT has tokens, not stage maps). Pick a CNN backbone.")
        self.cfg = cfg
        self.backbone = backbone
        dims = backbone.stage_dims
        self.stage_index = {}  # scale name -> stage index, shallow to deep (the loss's order)
        for scale in cfg.scales:
            index = SCALE_NAMES.get(scale, scale)
            if not isinstance(index, int) or not -len(dims) <= index < len(dims):
                raise ValueError(f"unknown AMDIM scale {scale!r}; use 'last', 'prev' or a stage "
                                 f"index in [-{len(dims)}, {len(dims)})")
            name = scale if isinstance(scale, str) else f"stage{index % len(dims)}"
            self.stage_index[name] = index % len(dims)
        if len(set(self.stage_index.values())) != len(cfg.scales) or not cfg.scales:
            raise ValueError(f"AMDIM scales {cfg.scales} must name one or more distinct stages")
        self.stage_index = dict(sorted(self.stage_index.items(), key=lambda kv: kv[1]))
        self.global_head = _Project(dims[-1], cfg.n_rkhs)
        self.local_heads = nn.ModuleDict(
            {name: _Project(dims[i], cfg.n_rkhs) for name, i in self.stage_index.items()})

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def _features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        stages = self.backbone.forward_stages(x)
        pooled = stages[-1].mean(dim=(2, 3), keepdim=True)  # NxCx1x1, the backbone's output
        glb = self.global_head(pooled).flatten(1)  # NxD
        locs = [self.local_heads[name](stages[i])  # NxDxHxW, shallow to deep
                for name, i in self.stage_index.items()]
        return glb, locs

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        x_a, x_b = views[:2]
        g_a, locals_a = self._features(x_a)
        g_b, locals_b = self._features(x_b)
        # the local-to-local source positions come from the global RNG, seeded per step
        loss, terms = amdim_loss_multiscale(
            g_a, g_b, locals_a, locals_b, local_to_local=self.cfg.local_to_local,
            tclip=self.cfg.tclip, reg_weight=self.cfg.reg_weight, return_terms=True)
        # name the per-scale terms after the scales ("nce_g2l_prev") instead of list indices
        names = {f"nce_g2l_{k}": f"nce_g2l_{name}" for k, name in enumerate(self.stage_index)}
        terms = {names.get(key, key): value for key, value in terms.items()}
        return StepOutput(loss, terms, g_a.detach())

    def after_optimizer_step(self, step: int) -> None:
        pass


SPEC = MethodSpec(
    config=AMDIMConfig,
    module=AMDIM,
    paper="Bachman et al. 2019, AMDIM (arXiv 1906.00910)",
    train_defaults={
        # lr 1e-2 per 256 (the profile's 5e-3; official 2.5e-4, gpu below): 150 steps need the
        # larger steps. Shapes, seed 0, kNN (untrained 0.211): 1e-3 -> 0.177, 5e-3 -> 0.260,
        # 1e-2 -> 0.381, 2e-2 -> 0.331, 5e-2 -> 0.172 (benchmarks/README.md, issue 12)
        "smoke": dict(lr=1e-2, method_args=dict(n_rkhs=64)),
        # the scores cost N * N * H * W * D per task: D=128 keeps a CPU step near VICReg's
        "cpu": dict(method_args=dict(n_rkhs=128)),
        # official: Adam lr 2e-4 at batch 200 (2.5e-4 per 256), betas (0.8, 0.999), wd 1e-5
        # (task_self_supervised.py); AdamW here, with the default betas
        "gpu": dict(optimizer="adamw", lr=2.5e-4, weight_decay=1e-5),
    },
)
