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

`train` is the peer's training loop, with sslkit's stop rule for time budgets (see
sslkit.train.loop): it stops once its training seconds reach the budget, and a step that
starts after s seconds reads the learning-rate and EMA schedules at index
floor(s / budget * steps) (`sslkit.train.schedules.index_at_time`), so they end where the
budget does, as sslkit's do.

Needs `pip install lightly` (benchmarks only; not a dependency of sslkit).
"""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from sslkit.train import build_optimizer, warmup_cosine
from sslkit.train.loop import build_run_backbone
from sslkit.train.schedules import index_at_time

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


class _PILViews(torch.utils.data.Dataset):
    """uint8 (N, 3, H, W) images as PIL images through a lightly multi-view transform."""

    def __init__(self, images: torch.Tensor, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i].permute(1, 2, 0).numpy()))


@dataclass
class PeerRun:
    model: nn.Module
    steps: int                 # optimiser steps taken
    wall_s: float              # training seconds (from the first batch request to the end)
    step_s: list[float]        # each step's seconds, data loading included
    final_loss: float
    schedule_steps: list[int]  # the schedule index each step read


def train(name: str, cfg, train_data, *, seed: int, device: torch.device, workers: int,
          max_steps: int | None = None) -> PeerRun:
    """Train lightly's `name` with the settings of the resolved sslkit config `cfg`.

    Stop rule: with `cfg.max_seconds`, by the clock, sslkit's rule (module docstring);
    otherwise after `cfg.steps` steps. `max_steps` stops earlier (a speed probe). The clock
    starts at the first batch request, so the DataLoader workers' start is training time,
    as sslkit's first augmentation is. On CUDA it gets what sslkit's loop uses there too:
    bf16 autocast and channels_last.
    """
    torch.manual_seed(seed)
    backbone = build_run_backbone(cfg, train_data.image_size)
    mean, std = train_data.mean_std()
    # lightly's transforms crop to the same view size as sslkit's recipe at this profile
    model, transform = build(name, backbone, cfg.view_size or train_data.image_size, mean, std,
                             n_local=cfg.recipe_args.get("n_local", 4))
    cuda = device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last if cuda else torch.preserve_format)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    loader = torch.utils.data.DataLoader(
        _PILViews(train_data.images, transform), batch_size=cfg.batch_size, shuffle=True,
        drop_last=True, num_workers=workers, persistent_workers=workers > 0, pin_memory=cuda,
        generator=torch.Generator().manual_seed(seed))
    total = cfg.steps  # the schedules' length
    lr = warmup_cosine(cfg.lr * cfg.batch_size / 256, 0.0, total, min(cfg.warmup_steps, total))
    optimizer = build_optimizer(cfg.optimizer, model, lr=float(lr[0]),
                                weight_decay=cfg.weight_decay)
    limit = min(max_steps or total, total) if cfg.max_seconds is None else max_steps
    model.train()
    step, times, at_steps, loss = 0, [], [], None
    t0 = t = time.perf_counter()

    def over(elapsed: float) -> bool:
        if limit is not None and step >= limit:
            return True
        return cfg.max_seconds is not None and elapsed >= cfg.max_seconds

    while not over(time.perf_counter() - t0):
        for views in loader:
            at = step if cfg.max_seconds is None else index_at_time(
                time.perf_counter() - t0, cfg.max_seconds, total)
            for group in optimizer.param_groups:
                group["lr"] = float(lr[at])
            views = [v.to(device, non_blocking=True) for v in views]
            with autocast:
                loss = model.loss(views, at)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            model.before_optimizer_step(at)
            optimizer.step()
            model.after_optimizer_step(at, total)
            step += 1
            if cuda:
                torch.cuda.synchronize()
            now = time.perf_counter()
            times.append(now - t)
            at_steps.append(at)
            t = now
            if over(now - t0):
                break
    wall = time.perf_counter() - t0
    if not torch.isfinite(loss.detach()):
        raise FloatingPointError(f"lightly {name}: loss {float(loss)}")
    return PeerRun(model=model, steps=step, wall_s=wall, step_s=times,
                   final_loss=float(loss.detach()), schedule_steps=at_steps)
