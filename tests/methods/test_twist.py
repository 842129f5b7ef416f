"""TWIST (sslkit.methods.twist): training, the official head with its final affine-free BN,
and the class distributions the diagnostics read."""

import math
from functools import partial

import pytest
import torch
from torch import nn

from sslkit.losses.twist import twist_loss
from sslkit.methods.twist import TWIST, TWISTConfig

from .helpers import random_views, small_model, smoke_run

views = partial(random_views, n=16)


def small(**kw) -> TWIST:
    return small_model(TWIST, TWISTConfig, hidden_dim=32, num_classes=10, **kw)


def test_trains_at_smoke_with_finite_terms_and_no_collapse(shapes32):
    result = smoke_run("twist", shapes32)
    k = result.config.method_args["num_classes"]
    for h in result.history:
        assert {"consistency", "sharpness", "diversity", "std_l2", "rank"} <= h.keys()
        assert all(math.isfinite(h[key]) for key in ("loss", "consistency", "sharpness"))
        assert h["loss"] == pytest.approx(h["consistency"] + h["sharpness"] - h["diversity"],
                                          abs=1e-4)
        # the batch uses the classes evenly: not collapsed onto one class
        assert h["diversity"] > 0.5 * math.log(k)
    # not collapsed onto the uniform distribution either: the rows differ
    assert result.history[-1]["std_l2"] > 1e-3


def test_head_ends_in_an_affine_free_batchnorm_over_the_classes():
    m = small()
    assert isinstance(m.head[-1], nn.BatchNorm1d) and not m.head[-1].affine
    assert m.head[-1].num_features == 10


def test_forward_is_the_loss_of_the_logits_and_embeds_class_probabilities():
    m = small(lam2=0.5)
    x_a, x_b = views()
    out = m([x_a, x_b], step=0)
    logits_a, logits_b = m.head(m.backbone(x_a)), m.head(m.backbone(x_b))
    torch.testing.assert_close(out.loss, twist_loss(logits_a, logits_b, lam2=0.5))
    torch.testing.assert_close(out.embedding.sum(dim=1), torch.ones(16))
    torch.testing.assert_close(out.embedding, logits_a.softmax(dim=1).detach())
    out.loss.backward()
    assert all(p.grad is not None for p in m.backbone.parameters())
