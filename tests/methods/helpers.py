"""What the method tests share: a small seeded model, random views, a smoke run through the
loop, and the checks every method with a target network or BatchNorm repeats. Imported as
`from .helpers import ...`, as the loss tests import theirs. The data sets are the fixtures
`shapes32` and `shapes16` in tests/conftest.py."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from sslkit.models import build_backbone
from sslkit.train import TrainConfig, train

# a short smoke-profile run on `shapes32`: 6 steps at batch 32 on its 256 images
SMOKE_RUN = dict(profile="smoke", steps=6, batch_size=32, train_size=256, eval_train_size=256,
                 eval_test_size=128, log_every=2)


def small_model(module: type[nn.Module], config: type, *, widths=(8, 8, 16, 16),
                **cfg) -> nn.Module:
    """`module(SmallCNN(widths), config(**cfg))`, seeded: every call builds the same weights."""
    torch.manual_seed(0)
    return module(build_backbone("smallcnn", widths=widths), config(**cfg))


def random_views(n: int = 8, sizes: Iterable[int] = (16, 16),
                 seed: int = 0) -> list[torch.Tensor]:
    """One seeded (n, 3, s, s) batch of noise per size in `sizes`: what a recipe returns."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, s, s, generator=g) for s in sizes]


def smoke_run(method: str, data, **overrides):
    """Train `method` through the loop on `data` = (train, test) with SMOKE_RUN's settings,
    updated by `overrides`; returns the RunResult."""
    cfg = TrainConfig(**{**SMOKE_RUN, "method": method, **overrides})
    return train(cfg, train_data=data[0], test_data=data[1], progress=False)


def assert_not_optimised(opt: torch.optim.Optimizer, params: Iterable[torch.Tensor]) -> None:
    """None of `params` (a target network, a frozen head) is in any of `opt`'s groups."""
    seen = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not seen & {id(p) for p in params}


def assert_target_is_a_copy(target: list[torch.Tensor], online: list[torch.Tensor]) -> None:
    """The target's weights equal the online network's, in their own memory."""
    for xi, theta in zip(target, online, strict=True):
        torch.testing.assert_close(xi, theta)
        assert xi.data_ptr() != theta.data_ptr()


def assert_ema_update(m: nn.Module, step: int, tau: float, online, target) -> None:
    """After a stand-in for an optimiser step on the online weights, `m.after_optimizer_step`
    moves the target to tau * xi + (1 - tau) * theta. `online()` and `target()` list the
    weights."""
    with torch.no_grad():
        for p in online():
            p.add_(torch.randn_like(p))
    xi_before = [p.detach().clone() for p in target()]
    theta = [p.detach().clone() for p in online()]
    m.after_optimizer_step(step)
    for xi_new, xi, th in zip(target(), xi_before, theta, strict=True):
        torch.testing.assert_close(xi_new, tau * xi + (1 - tau) * th)


def assert_sync_batchnorm_converts(m: nn.Module) -> nn.Module:
    """Converting `m` for DistributedDataParallel leaves no plain BatchNorm; returns it."""
    m = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert not any(type(x) in (nn.BatchNorm1d, nn.BatchNorm2d) for x in m.modules())
    return m


def assert_float32_loss_under_bf16(m: nn.Module, views: list[torch.Tensor]) -> None:
    """Under bf16 autocast the loss still comes out in float32, and finite."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(views, 0)
    assert out.loss.dtype == torch.float32 and math.isfinite(float(out.loss.detach()))


def assert_vc_regulariser(build, x) -> None:
    """A method built with std_coeff=1, cov_coeff=0.04 adds exactly VICReg's variance and
    covariance terms of its projections z to the loss of the same method without them, and
    the gradient reaches the projector (BYOL and SimSiam, chapter 10)."""
    from sslkit.losses import vicreg_loss

    torch.manual_seed(0)
    plain = build()
    torch.manual_seed(0)
    regularised = build(std_coeff=1.0, cov_coeff=0.04)
    out_plain, out_vc = plain(x, 0), regularised(x, 0)
    assert "variance" not in out_plain.terms and "variance" in out_vc.terms
    z_a, z_b = (regularised.projector(regularised.backbone(v)) for v in x[:2])
    expected = vicreg_loss(z_a, z_b, sim_coeff=0.0, std_coeff=1.0, cov_coeff=0.04)
    torch.testing.assert_close(out_vc.loss - out_plain.loss, expected, rtol=1e-4, atol=1e-5)
    out_vc.loss.backward()
    assert all(p.grad is not None for p in regularised.projector.parameters() if p.requires_grad)
