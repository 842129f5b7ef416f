"""BYOL (sslkit.methods.byol): training, the target's stop-gradient, the EMA, and the claim
that removing BatchNorm from the projector and predictor collapses BYOL."""

import math

import pytest
import torch
from torch import nn

from sslkit.data import load
from sslkit.methods.byol import BYOL, SPEC, BYOLConfig
from sslkit.models import build_backbone
from sslkit.train import TrainConfig, train
from sslkit.train.optim import build_optimizer
from sslkit.train.schedules import ema_momentum


@pytest.fixture(scope="module")
def shapes32():
    return load("shapes", n=256), load("shapes", split="test", n=128)


@pytest.fixture(scope="module")
def shapes16():
    # 16 px keeps the collapse runs to seconds on a shared CPU; SmallCNN works at 16 px
    return load("shapes", n=512, image_size=16), load("shapes", split="test", n=128,
                                                         image_size=16)


def small_byol(**kw) -> BYOL:
    torch.manual_seed(0)
    cfg = BYOLConfig(projector_hidden=32, projector_out=16, predictor_hidden=32, **kw)
    return BYOL(build_backbone("smallcnn", widths=(8, 8, 16, 16)), cfg)


def views(n=8, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def target_params(m: BYOL) -> list[torch.Tensor]:
    return [*m.target_backbone.parameters(), *m.target_projector.parameters()]


def online_params(m: BYOL) -> list[torch.Tensor]:
    return [*m.backbone.parameters(), *m.projector.parameters()]


def one_step(m: BYOL, step: int = 0) -> None:
    """What the loop does in one step: forward, backward, optimiser step, EMA."""
    opt = build_optimizer("sgd", m, lr=0.5, weight_decay=0.0)
    out = m(views(seed=step), step)
    opt.zero_grad()
    out.loss.backward()
    opt.step()
    m.after_optimizer_step(step)


def test_trains_at_smoke_with_finite_loss_terms_and_no_collapse(shapes32):
    cfg = TrainConfig(method="byol", profile="smoke", steps=6, batch_size=32, train_size=256,
                      eval_train_size=256, eval_test_size=128, log_every=2)
    result = train(cfg, train_data=shapes32[0], test_data=shapes32[1], progress=False)
    assert all(math.isfinite(h["loss"]) for h in result.history)
    assert all({"cos_sim", "tau", "std_l2", "rank"} <= h.keys() for h in result.history)
    # loss = 2 (2 - 2 cos_sim): the symmetric sum of both directions
    h = result.history[-1]
    assert h["loss"] == pytest.approx(4 - 4 * h["cos_sim"], abs=1e-4)
    # tau follows the cosine schedule from tau_base (0.99 at smoke) towards 1
    assert result.history[0]["tau"] == pytest.approx(0.99)
    d = result.config.method_args["projector_out"]
    assert h["std_l2"] > 0.5 / math.sqrt(d)  # isotropic: 1/sqrt(d); collapsed: 0
    assert 0.0 <= result.metrics["knn_top1"] <= 1.0


def test_no_gradient_reaches_the_target():
    m = small_byol()
    m.on_train_start(10)
    m(views(), 0).loss.backward()
    for p in target_params(m):
        assert not p.requires_grad and p.grad is None
    assert all(p.grad is not None for p in online_params(m))
    assert all(p.grad is not None for p in m.predictor.parameters())
    # the optimiser only sees the online network
    opt = build_optimizer("lars", m, lr=0.1, weight_decay=1e-6)
    seen = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not seen & {id(p) for p in target_params(m)}


def test_target_starts_as_a_copy_of_the_online_network():
    m = small_byol()
    for xi, theta in zip(target_params(m), online_params(m)):
        torch.testing.assert_close(xi, theta)
        assert xi.data_ptr() != theta.data_ptr()


def test_ema_update_is_tau_xi_plus_one_minus_tau_theta():
    m = small_byol()
    m.on_train_start(10)
    step = 3
    tau = float(ema_momentum(m.cfg.tau_base, 10)[step])
    assert 0.996 < tau < 1.0
    with torch.no_grad():  # stand-in for an optimiser step on the online weights
        for p in online_params(m):
            p.add_(torch.randn_like(p))
    xi_before = [p.detach().clone() for p in target_params(m)]
    theta = [p.detach().clone() for p in online_params(m)]
    m.after_optimizer_step(step)
    for xi_new, xi, th in zip(target_params(m), xi_before, theta):
        torch.testing.assert_close(xi_new, tau * xi + (1 - tau) * th)


def test_tau_one_freezes_the_target():
    m = small_byol(tau_base=1.0, tau_schedule="constant")
    m.on_train_start(5)
    xi_before = [p.detach().clone() for p in target_params(m)]
    for step in range(2):
        one_step(m, step)
    assert any(not torch.equal(p, q) for p, q in zip(online_params(m), xi_before))
    for p, q in zip(target_params(m), xi_before):
        assert torch.equal(p, q)


def test_tau_zero_copies_the_online_network_after_a_step():
    m = small_byol(tau_base=0.0, tau_schedule="constant")
    m.on_train_start(5)
    xi_before = [p.detach().clone() for p in target_params(m)]
    one_step(m)
    assert any(not torch.equal(p, q) for p, q in zip(target_params(m), xi_before))
    for xi, theta in zip(target_params(m), online_params(m)):
        assert torch.equal(xi, theta)


def test_constant_and_cosine_schedules():
    m = small_byol(tau_base=0.9, tau_schedule="constant")
    m.on_train_start(7)
    assert torch.equal(m.tau_schedule, torch.full((7,), 0.9, dtype=torch.float64))
    m = small_byol(tau_base=0.9)
    m.on_train_start(7)
    torch.testing.assert_close(m.tau_schedule, ema_momentum(0.9, 7))


def test_ablation_switches_build_the_right_heads():
    m = small_byol(predictor=False)
    assert isinstance(m.predictor, nn.Identity)
    m.on_train_start(3)
    assert math.isfinite(float(m(views(), 0).loss.detach()))
    m = small_byol(projector_norm="none", predictor_norm="gn")
    assert not any(isinstance(x, nn.BatchNorm1d) for x in m.modules())
    assert any(isinstance(x, nn.GroupNorm) for x in m.predictor.modules())
    with pytest.raises(ValueError, match="projector_norm"):
        small_byol(projector_norm="ln")
    with pytest.raises(ValueError, match="tau_schedule"):
        small_byol(tau_schedule="linear")
    with pytest.raises(RuntimeError, match="on_train_start"):
        small_byol().after_optimizer_step(0)


def test_sync_batchnorm_conversion_keeps_the_target_frozen():
    m = nn.SyncBatchNorm.convert_sync_batchnorm(small_byol())
    assert not any(type(x) in (nn.BatchNorm1d, nn.BatchNorm2d) for x in m.modules())
    assert not any(p.requires_grad for p in target_params(m))


def test_loss_is_float32_under_bf16_autocast():
    m = small_byol()
    m.on_train_start(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(views(), 0)
    assert out.loss.dtype == torch.float32 and math.isfinite(float(out.loss.detach()))


def test_heads_without_batchnorm_collapse_and_with_batchnorm_do_not(shapes16):
    """The article's claim (chapter 5): BYOL without BatchNorm in the projector and predictor
    collapses. Seeded. Measured on this setting with seeds 0-7 (std of the l2-normalised
    projection x sqrt(d); 1 is isotropic, 0 complete collapse): 0.70-0.83 with BN heads,
    0.022-0.044 without, which collapse within 6-12 steps (effective rank 1.4-1.7 against
    7.7-10.7)."""
    std_sqrt_d = {}
    for norm in ("bn", "none"):
        cfg = TrainConfig(method="byol", profile="smoke", steps=20, batch_size=64,
                          train_size=512, eval_train_size=256, eval_test_size=128,
                          optimizer="adamw", lr=0.02, warmup_steps=0, log_every=20,
                          method_args=dict(projector_norm=norm, predictor_norm=norm))
        r = train(cfg, train_data=shapes16[0], test_data=shapes16[1], progress=False)
        d = r.config.method_args["projector_out"]
        std_sqrt_d[norm] = r.history[-1]["std_l2"] * math.sqrt(d)
    assert std_sqrt_d["bn"] > 0.5, std_sqrt_d
    assert std_sqrt_d["none"] < 0.1, std_sqrt_d
