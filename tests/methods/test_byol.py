"""BYOL (sslkit.methods.byol): training, the target's stop-gradient, the EMA, and the claim
that removing BatchNorm from the projector and predictor collapses BYOL."""

import math
from functools import partial

import pytest
import torch
from torch import nn

from sslkit.methods.byol import BYOL, BYOLConfig
from sslkit.train.optim import build_optimizer
from sslkit.train.schedules import ema_momentum

from .helpers import (assert_ema_update, assert_float32_loss_under_bf16, assert_not_optimised,
                      assert_sync_batchnorm_converts, assert_target_is_a_copy,
                      assert_vc_regulariser, random_views, small_model, smoke_run)

views = random_views


def small_byol(**kw) -> BYOL:
    return small_model(BYOL, BYOLConfig, projector_hidden=32, projector_out=16,
                       predictor_hidden=32, **kw)


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
    result = smoke_run("byol", shapes32)
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
    assert_not_optimised(build_optimizer("lars", m, lr=0.1, weight_decay=1e-6), target_params(m))


def test_target_starts_as_a_copy_of_the_online_network():
    m = small_byol()
    assert_target_is_a_copy(target_params(m), online_params(m))


def test_ema_update_is_tau_xi_plus_one_minus_tau_theta():
    m = small_byol()
    m.on_train_start(10)
    step = 3
    tau = float(ema_momentum(m.cfg.tau_base, 10)[step])
    assert 0.996 < tau < 1.0
    assert_ema_update(m, step, tau, partial(online_params, m), partial(target_params, m))


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
    m = assert_sync_batchnorm_converts(small_byol())
    assert not any(p.requires_grad for p in target_params(m))


def test_loss_is_float32_under_bf16_autocast():
    m = small_byol()
    m.on_train_start(3)
    assert_float32_loss_under_bf16(m, views())


def test_heads_without_batchnorm_collapse_with_batchnorm_not_at_10x_the_profile_lr(shapes16):
    """The article's claim (chapter 5): BYOL without BatchNorm in the projector and predictor
    collapses, and with it does not. Seeded. Measured on this setting with seeds 0-7 (std of
    the l2-normalised projection x sqrt(d); 1 is isotropic, 0 complete collapse): 0.70-0.83
    with BN heads, 0.022-0.044 without, which collapse within 6-12 steps (effective rank
    1.4-1.7 against 7.7-10.7).

    Not the book's setting: AdamW at lr 0.02, 10x the profile's 2e-3 that the chapter's runs
    use (for 700 steps), so that 20 steps on 16 px images show the collapse and the test
    takes seconds. At 2e-3 (seed 0) the heads without BN are still at 0.23 after 20 steps and
    0.14 after 60 (with BN 0.84 and 0.80): collapsing, but slower than a test can wait."""
    std_sqrt_d = {}
    for norm in ("bn", "none"):
        r = smoke_run("byol", shapes16, steps=20, batch_size=64, train_size=512,
                      optimizer="adamw", lr=0.02, warmup_steps=0, log_every=20,
                      method_args=dict(projector_norm=norm, predictor_norm=norm))
        d = r.config.method_args["projector_out"]
        std_sqrt_d[norm] = r.history[-1]["std_l2"] * math.sqrt(d)
    assert std_sqrt_d["bn"] > 0.5, std_sqrt_d
    assert std_sqrt_d["none"] < 0.1, std_sqrt_d


def test_variance_covariance_terms_add_vicregs_regulariser_on_the_projections():
    """std_coeff/cov_coeff add VICReg's v and c terms on z (chapter 10); at 0 the method is
    the published one."""
    assert_vc_regulariser(small_byol, views())
