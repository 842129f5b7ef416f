"""Barlow Twins (sslkit.methods.barlow_twins): training, the projector switches, and the
cross-correlation matrix chapter 9 shows."""

import math
from functools import partial

import pytest
import torch
from torch import nn

from sslkit.losses import barlow_twins_loss, cross_correlation
from sslkit.methods.barlow_twins import BarlowTwins, BarlowTwinsConfig

from .helpers import random_views, small_model, smoke_run

views = partial(random_views, n=16)


def small(**kw) -> BarlowTwins:
    return small_model(BarlowTwins, BarlowTwinsConfig, projector=(32, 32, 32), **kw)


@pytest.mark.parametrize("projector_norm", ["bn", "none"])
def test_trains_at_smoke_with_finite_terms_and_no_collapse(shapes32, projector_norm):
    # the method's own recipe: the threshold was measured with it, not the shapes recipe
    result = smoke_run("barlowtwins", shapes32, method_args={"projector_norm": projector_norm},
                       recipe="barlowtwins")
    for h in result.history:
        assert {"on_diag", "off_diag", "std_l2", "rank"} <= h.keys()
        assert all(math.isfinite(h[k]) for k in ("loss", "on_diag", "off_diag"))
        lambd = result.config.method_args.get("lambd", 0.0051)
        assert h["loss"] == pytest.approx(h["on_diag"] + lambd * h["off_diag"], rel=1e-4)
    d = result.config.method_args["projector"][-1]
    assert result.history[-1]["std_l2"] > 0.5 / math.sqrt(d)  # isotropic 1/sqrt(d)


def test_projector_is_the_official_one_and_norm_switch_removes_bn():
    with_bn, without = small(), small(projector_norm="none")
    assert any(isinstance(m, nn.BatchNorm1d) for m in with_bn.projector)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in without.projector)
    for m in (with_bn, without):
        last = m.projector[-1]
        assert isinstance(last, nn.Linear) and last.bias is None  # official: bias=False
    with pytest.raises(ValueError, match="projector_norm"):
        BarlowTwinsConfig(projector_norm="gn")


def test_forward_equals_the_loss_of_the_projections():
    m = small(lambd=0.01)
    x_a, x_b = views()
    out = m([x_a, x_b], step=0)
    z_a, z_b = m.projector(m.backbone(x_a)), m.projector(m.backbone(x_b))
    torch.testing.assert_close(out.loss, barlow_twins_loss(z_a, z_b, lambd=0.01))
    torch.testing.assert_close(out.embedding, z_a.detach())
    out.loss.backward()
    assert all(p.grad is not None for p in m.backbone.parameters())


def test_cross_correlation_is_the_matrix_the_loss_pushes_to_the_identity():
    m = small().eval()
    x_a, x_b = views(n=32)
    c = m.cross_correlation(x_a, x_b)
    d = m.cfg.projector[-1]
    assert c.shape == (d, d) and not c.requires_grad
    with torch.no_grad():
        z_a, z_b = m.projector(m.backbone(x_a)), m.projector(m.backbone(x_b))
    torch.testing.assert_close(c, cross_correlation(z_a, z_b))
    # of a view with itself: symmetric, a diagonal of (almost) 1, up to the eps in the
    # standardisation, which matters for this untrained projector's small variances
    c_self = m.cross_correlation(x_a, x_a)
    torch.testing.assert_close(c_self, c_self.T)
    assert torch.all(torch.diagonal(c_self) <= 1) and torch.all(torch.diagonal(c_self) > 0.5)
