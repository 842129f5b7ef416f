"""The lightly (https://github.com/lightly-ai/lightly, PyPI `lightly`) equivalent of five
sslkit methods, for side-by-side benchmarks: lightly's losses, heads, EMA helpers and
per-image transforms in a torch DataLoader, the way its documentation and its CIFAR-10
benchmark (benchmarks/cifar10_benchmark.py) build them.

What is held equal to the sslkit run it is compared with: the backbone (passed in), the
batch size, the optimiser and its learning-rate schedule, the head widths, the EMA rate, and
the wall-clock budget. What differs is each library's own: loss and head code, and the
augmentation pipeline (lightly: torchvision per image, PIL in, in DataLoader workers;
sslkit: batched on the device). Gaussian blur is off on both sides at 32 px, as in lightly's
CIFAR-10 benchmark.

Needs `pip install lightly` (benchmarks only; not a dependency of sslkit).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

try:
    from lightly.loss import (BarlowTwinsLoss, DINOLoss, NegativeCosineSimilarity,
                              VICRegLoss)
    from lightly.models.modules import heads
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.transforms import (BYOLTransform, BYOLView1Transform, BYOLView2Transform,
                                    DINOTransform, SimSiamTransform, VICRegTransform)
    from lightly.utils.scheduler import cosine_schedule
except ImportError as error:  # pragma: no cover - only the benchmark imports this
    raise ImportError("the lightly side-by-side needs lightly: pip install lightly") from error


class _TwoView(nn.Module):
    """Backbone + head(s) for the symmetric two-view methods; `loss(views, step)`."""

    ema = False

    def before_optimizer_step(self, step: int) -> None:
        pass

    def after_optimizer_step(self, step: int, total: int) -> None:
        pass


class BYOL(_TwoView):
    """lightly's BYOL example: BYOL heads, negative cosine, update_momentum."""

    ema = True

    def __init__(self, backbone: nn.Module, dim: int, hidden: int = 1024, out: int = 256,
                 tau: float = 0.99):
        super().__init__()
        self.backbone = backbone
        self.projection_head = heads.BYOLProjectionHead(dim, hidden, out)
        self.prediction_head = heads.BYOLPredictionHead(out, hidden, out)
        self.backbone_momentum = copy.deepcopy(backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = NegativeCosineSimilarity()
        self.tau = tau

    def _online(self, x):
        return self.prediction_head(self.projection_head(self.backbone(x)))

    @torch.no_grad()
    def _target(self, x):
        return self.projection_head_momentum(self.backbone_momentum(x)).detach()

    def loss(self, views, step):
        x0, x1 = views
        p0, p1 = self._online(x0), self._online(x1)
        z0, z1 = self._target(x0), self._target(x1)
        return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))

    def after_optimizer_step(self, step, total):
        m = cosine_schedule(step, total, self.tau, 1.0)
        update_momentum(self.backbone, self.backbone_momentum, m=m)
        update_momentum(self.projection_head, self.projection_head_momentum, m=m)


class SimSiam(_TwoView):
    def __init__(self, backbone: nn.Module, dim: int, proj_hidden: int = 1024,
                 out: int = 1024, pred_hidden: int = 256):
        super().__init__()
        self.backbone = backbone
        self.projection_head = heads.SimSiamProjectionHead(dim, proj_hidden, out)
        self.prediction_head = heads.SimSiamPredictionHead(out, pred_hidden, out)
        self.criterion = NegativeCosineSimilarity()

    def loss(self, views, step):
        z0, z1 = (self.projection_head(self.backbone(v)) for v in views)
        p0, p1 = self.prediction_head(z0), self.prediction_head(z1)
        return 0.5 * (self.criterion(p0, z1.detach()) + self.criterion(p1, z0.detach()))


class BarlowTwins(_TwoView):
    def __init__(self, backbone: nn.Module, dim: int, hidden: int = 1024, out: int = 1024):
        super().__init__()
        self.backbone = backbone
        self.projection_head = heads.BarlowTwinsProjectionHead(dim, hidden, out)
        self.criterion = BarlowTwinsLoss()

    def loss(self, views, step):
        z0, z1 = (self.projection_head(self.backbone(v)) for v in views)
        return self.criterion(z0, z1)


class VICReg(_TwoView):
    def __init__(self, backbone: nn.Module, dim: int, hidden: int = 1024, out: int = 1024):
        super().__init__()
        self.backbone = backbone
        self.projection_head = heads.VICRegProjectionHead(dim, hidden, out, num_layers=3)
        self.criterion = VICRegLoss()

    def loss(self, views, step):
        z0, z1 = (self.projection_head(self.backbone(v)) for v in views)
        return self.criterion(z0, z1)


class DINO(_TwoView):
    """lightly's DINO example: student/teacher heads, DINOLoss with its center, EMA teacher."""

    ema = True

    def __init__(self, backbone: nn.Module, dim: int, hidden: int = 1024, bottleneck: int = 256,
                 out: int = 4096, tau: float = 0.99, freeze_last_layer_steps: int = 40):
        super().__init__()
        self.student_backbone = backbone
        self.backbone = backbone  # what kNN evaluates (sslkit evaluates the student too)
        # freeze_last_layer=1: cancel_last_layer_gradients(epoch 0) zeroes the prototypes'
        # gradient; we call it with "epoch" 0 for the first freeze_last_layer_steps steps
        self.student_head = heads.DINOProjectionHead(dim, hidden, bottleneck, out,
                                                     batch_norm=True, freeze_last_layer=1)
        self.teacher_backbone = copy.deepcopy(backbone)
        self.teacher_head = heads.DINOProjectionHead(dim, hidden, bottleneck, out,
                                                     batch_norm=True)
        self.teacher_head.load_state_dict(self.student_head.state_dict())
        deactivate_requires_grad(self.teacher_backbone)
        deactivate_requires_grad(self.teacher_head)
        self.criterion = DINOLoss(output_dim=out, warmup_teacher_temp_epochs=0)
        self.tau = tau
        self.freeze_last_layer_steps = freeze_last_layer_steps

    def loss(self, views, step):
        global_views = views[:2]
        with torch.no_grad():
            teacher = [self.teacher_head(self.teacher_backbone(v)) for v in global_views]
        student = [self.student_head(self.student_backbone(v)) for v in views]
        return self.criterion(teacher, student)

    def before_optimizer_step(self, step):
        # lightly's examples cancel the last layer's gradient during the first epoch
        self.student_head.cancel_last_layer_gradients(
            current_epoch=0 if step < self.freeze_last_layer_steps else 1)

    def after_optimizer_step(self, step, total):
        m = cosine_schedule(step, total, self.tau, 1.0)
        update_momentum(self.student_backbone, self.teacher_backbone, m=m)
        update_momentum(self.student_head, self.teacher_head, m=m)


def build(name: str, backbone: nn.Module, size: int, mean, std, n_local: int = 4):
    """(model, transform) of the lightly equivalent of sslkit method `name`."""
    normalize = {"mean": list(mean), "std": list(std)}
    dim = backbone.out_dim
    # BYOL's asymmetric pair; lightly's Barlow Twins examples use it too
    byol_transform = BYOLTransform(
        view_1_transform=BYOLView1Transform(input_size=size, gaussian_blur=0.0,
                                            normalize=normalize),
        view_2_transform=BYOLView2Transform(input_size=size, gaussian_blur=0.0,
                                            normalize=normalize))
    if name == "byol":
        return BYOL(backbone, dim), byol_transform
    if name == "simsiam":
        return SimSiam(backbone, dim), SimSiamTransform(input_size=size, gaussian_blur=0.0,
                                                        normalize=normalize)
    if name == "barlowtwins":
        return BarlowTwins(backbone, dim), byol_transform
    if name == "vicreg":
        return VICReg(backbone, dim), VICRegTransform(input_size=size, gaussian_blur=0.0,
                                                      normalize=normalize)
    if name == "dino":
        transform = DINOTransform(global_crop_size=size, local_crop_size=size // 2,
                                  n_local_views=n_local, gaussian_blur=(0.0, 0.0, 0.0),
                                  normalize=normalize)
        return DINO(backbone, dim), transform
    raise ValueError(f"no lightly equivalent for {name!r}; choose one of "
                     f"byol, simsiam, barlowtwins, vicreg, dino")


METHODS = ("byol", "simsiam", "barlowtwins", "vicreg", "dino")
