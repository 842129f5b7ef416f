"""TWIST (sslkit.methods.twist): training, the official head with its final affine-free BN,
and the class distributions the diagnostics read."""

import math

import pytest
import torch
from torch import nn

import sslkit.methods as methods
from sslkit.data import load
from sslkit.losses.twist import twist_loss
from sslkit.methods.twist import SPEC, TWIST, TWISTConfig
from sslkit.models import build_backbone
from sslkit.train import TrainConfig, train


@pytest.fixture(scope="module")
def shapes32():
    return load("shapes", n=256), load("shapes", split="test", n=128)


def small(**kw) -> TWIST:
    torch.manual_seed(0)
    return TWIST(build_backbone("smallcnn", widths=(8, 8, 16, 16)),
                 TWISTConfig(hidden_dim=32, num_classes=10, **kw))


def views(n=16, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def test_trains_at_smoke_with_finite_terms_and_no_collapse(shapes32):
    cfg = TrainConfig(method="twist", profile="smoke", steps=6, batch_size=32, train_size=256,
                      eval_train_size=256, eval_test_size=128, log_every=2)
    result = train(cfg, train_data=shapes32[0], test_data=shapes32[1], progress=False)
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
