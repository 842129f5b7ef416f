"""CorInfoMax (sslkit.methods.corinfomax): training, and the moving correlation estimates R
and mu: buffers (checkpointed, no gradient) updated after the optimiser step as the official
code updates them."""

import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F

from sslkit.losses.corinfomax import corinfomax_loss
from sslkit.methods.corinfomax import CorInfoMax, CorInfoMaxConfig
from sslkit.train.optim import build_optimizer

from .helpers import random_views, small_model, smoke_run

BUFFERS = ("R_a", "R_b", "mu_a", "mu_b")
views = partial(random_views, n=32)


def small(**kw) -> CorInfoMax:
    return small_model(CorInfoMax, CorInfoMaxConfig, projector=(32, 8), **kw)


def test_trains_at_smoke_with_finite_terms_and_no_collapse(shapes32):
    result = smoke_run("corinfomax", shapes32)
    alpha = result.config.method_args["alpha"]
    for h in result.history:
        assert {"invariance", "covariance", "std_l2", "rank"} <= h.keys()
        assert all(math.isfinite(h[k]) for k in ("loss", "invariance", "covariance"))
        assert h["loss"] == pytest.approx(alpha * h["invariance"] + h["covariance"], rel=1e-4)
    d = result.config.method_args["projector"][-1]
    assert result.history[-1]["std_l2"] > 0.5 / math.sqrt(d)
    assert torch.all(torch.isfinite(result.method.R_a))


def test_estimates_are_float64_buffers_in_the_state_dict_without_gradient():
    m = small()
    state = m.state_dict()
    names = {n for n, _ in m.named_parameters()}
    for name in BUFFERS:
        assert name in state and name not in names
        assert getattr(m, name).dtype == torch.float64
        assert not getattr(m, name).requires_grad
    torch.testing.assert_close(m.R_a, torch.eye(8, dtype=torch.float64))  # R_ini * I


def test_forward_backward_leaves_the_buffers_and_gives_them_no_gradient():
    m = small()
    before = {n: getattr(m, n).clone() for n in BUFFERS}
    out = m(views(), step=0)
    out.loss.backward()
    for name in BUFFERS:
        assert getattr(m, name).grad is None
        torch.testing.assert_close(getattr(m, name), before[name])  # not yet committed
    assert all(p.grad is not None for p in m.backbone.parameters())


def test_buffers_update_after_the_step_as_the_official_moving_average():
    m = small(la_R=0.3, la_mu=0.2)
    x_a, x_b = views()
    with torch.no_grad():
        z_a = F.normalize(m.projector(m.backbone(x_a)), dim=1).double()
        z_b = F.normalize(m.projector(m.backbone(x_b)), dim=1).double()
    opt = build_optimizer("sgd", m, lr=0.1, weight_decay=0.0)
    out = m([x_a, x_b], step=0)
    opt.zero_grad()
    out.loss.backward()
    opt.step()
    m.after_optimizer_step(0)
    # official CovarianceLoss.forward: mu <- la_mu mu + (1 - la_mu) mean(z),
    # R <- la_R R + (1 - la_R) (z - mu)^T (z - mu) / N, with R, mu from the previous step
    R_prev, mu_prev = torch.eye(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    for z, R, mu in ((z_a, m.R_a, m.mu_a), (z_b, m.R_b, m.mu_b)):
        mu_new = 0.2 * mu_prev + 0.8 * z.mean(dim=0)
        zc = z - mu_new
        torch.testing.assert_close(mu, mu_new)
        torch.testing.assert_close(R, 0.3 * R_prev + 0.7 * zc.T @ zc / 32)
    # the next step starts from the committed state
    state_before = m.state
    out2 = m(views(seed=1), step=1)
    with torch.no_grad():
        z2_a = F.normalize(m.projector(m.backbone(views(seed=1)[0])), dim=1)
        z2_b = F.normalize(m.projector(m.backbone(views(seed=1)[1])), dim=1)
        expected, _ = corinfomax_loss(z2_a, z2_b, state_before, alpha=m.cfg.alpha,
                                      la_R=0.3, la_mu=0.2, eps=m.cfg.eps)
    torch.testing.assert_close(out2.loss.detach(), expected)
