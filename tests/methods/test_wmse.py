"""W-MSE (sslkit.methods.wmse): training, the official head, and clear errors for sub-batch
sizes that cannot be whitened."""

import math
from functools import partial

import pytest
import torch

from sslkit.losses.wmse import wmse_loss
from sslkit.methods.wmse import WMSE, WMSEConfig

from .helpers import random_views, small_model, smoke_run

views = partial(random_views, n=32)


def small(**kw) -> WMSE:
    return small_model(WMSE, WMSEConfig, **{"projector": (32, 8), "w_size": 16, **kw})


def test_trains_at_smoke_with_finite_loss_and_no_collapse(shapes32):
    result = smoke_run("wmse", shapes32)
    for h in result.history:
        assert {"mse", "std_l2", "rank"} <= h.keys() and math.isfinite(h["loss"])
        assert 0.0 <= h["mse"] <= 4.0  # 2 - 2 cos
    d = result.config.method_args["projector"][-1]
    assert result.history[-1]["std_l2"] > 0.5 / math.sqrt(d)


def test_forward_is_the_loss_of_the_projections_and_reaches_the_backbone():
    m = small()
    x_a, x_b = views()
    torch.manual_seed(1)  # the sub-batch partition comes from the global RNG
    out = m([x_a, x_b], step=0)
    z_a, z_b = m.projector(m.backbone(x_a)), m.projector(m.backbone(x_b))
    torch.manual_seed(1)
    torch.testing.assert_close(out.loss, wmse_loss(z_a, z_b, w_size=16))
    out.loss.backward()
    assert all(p.grad is not None for p in m.backbone.parameters())


def test_w_size_that_does_not_divide_the_batch_is_refused_with_the_fix():
    m = small(w_size=12)
    with pytest.raises(ValueError, match=r"divide the batch size 32.*multiple of 12"):
        m(views(), step=0)


def test_w_size_not_larger_than_the_embedding_is_refused():
    m = small(projector=(32, 16), w_size=16)
    with pytest.raises(ValueError, match="w_size > D"):
        m(views(), step=0)
    small(projector=(32, 16), w_size=16, w_eps=0.1)(views(), step=0)  # shrinkage makes it ok


def test_w_size_none_whitens_the_whole_batch():
    m = small(w_size=None)
    out = m(views(), step=0)
    assert math.isfinite(out.loss.item())
