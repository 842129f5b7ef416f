"""Barlow Twins (sslkit.methods.barlow_twins): training, the projector switches, and the
cross-correlation matrix chapter 9 shows."""

import math

import pytest
import torch
from torch import nn

import sslkit.methods as methods
from sslkit.data import load
from sslkit.losses import barlow_twins_loss, cross_correlation
from sslkit.methods.barlow_twins import SPEC, BarlowTwins, BarlowTwinsConfig
from sslkit.models import build_backbone
from sslkit.train import TrainConfig, train


@pytest.fixture(scope="module")
def shapes32():
    return load("shapes", n=256), load("shapes", split="test", n=128)


def tiny(**kw) -> TrainConfig:
    base = dict(method="barlowtwins", profile="smoke", steps=6, batch_size=32, train_size=256,
                eval_train_size=256, eval_test_size=128, log_every=2)
    return TrainConfig(**{**base, **kw})


def small(**kw) -> BarlowTwins:
    torch.manual_seed(0)
    return BarlowTwins(build_backbone("smallcnn", widths=(8, 8, 16, 16)),
                       BarlowTwinsConfig(projector=(32, 32, 32), **kw))


def views(n=16, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


@pytest.mark.parametrize("projector_norm", ["bn", "none"])
def test_trains_at_smoke_with_finite_terms_and_no_collapse(shapes32, projector_norm):
    result = train(tiny(method_args={"projector_norm": projector_norm}),
                   train_data=shapes32[0], test_data=shapes32[1], progress=False)
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
