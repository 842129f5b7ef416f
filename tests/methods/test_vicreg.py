"""VICReg (sslkit.methods.vicreg): training, and chapter 10's collapse claims as seeded runs.

The claims, measured on 256 held-out shapes (16 px, eval mode) after 60 steps at a 40x smoke
learning rate, seeds 0 / 1 / 2 (the tests run seed 0; thresholds leave a wide margin):

    run                       per-dim std        std_l2             effective rank
    full VICReg               0.35  0.35  0.37   0.115 0.111 0.116  15.2 12.5 14.8
    no variance (std 0)       0.013 0.014 0.017  0.051 0.063 0.053  18.0 21.8 21.7
    no covariance (cov 0)     0.54  0.61  0.56   0.122 0.118 0.117   7.1  5.5  9.6
    MSE alone (std 0, cov 0)  0.015 0.015 0.017  0.047 0.070 0.068  16.6 25.1 22.9

Without the variance term the embedding collapses in SCALE: every dimension's std falls
~25x, all images map close to one point (the origin, where weight decay and the invariance
term pull). The l2-normalised std only halves, because the tiny residual spread is still
spread over many directions, and the effective rank (scale-free too) does not fall at all:
collapse to a point is read off the raw spread here, not off these two diagnostics. Without
the covariance term the spread survives (the variance hinge keeps it) but concentrates in
fewer directions: the effective rank falls to about half (dimensional collapse).
"""

import math
from functools import lru_cache

import pytest
import torch

from sslkit import evaluate
from sslkit.augment import normalize
from sslkit.data import load
from sslkit.losses import vicreg_loss
from sslkit.methods.vicreg import VICReg, VICRegConfig

from .helpers import small_model, smoke_run

VARIANTS = {
    "full": {},
    "no_variance": {"std_coeff": 0.0},
    "no_covariance": {"cov_coeff": 0.0},
    "mse_only": {"std_coeff": 0.0, "cov_coeff": 0.0},
}


@lru_cache(maxsize=None)
def shapes16():
    # 16 px keeps each collapse run to a few seconds on a shared CPU; 256 training images
    # (not the shapes16 fixture's 512) and 256 held-out images for the diagnostics
    return load("shapes", n=256, image_size=16), load("shapes", split="test", n=256,
                                                       image_size=16)


@lru_cache(maxsize=None)
def run(variant: str, seed: int = 0):
    """Train one variant (cached: several tests read the same run); return the run and the
    diagnostics of its embedding of the 256 test images."""
    train_data, test_data = shapes16()
    result = smoke_run("vicreg", shapes16(), steps=60, seed=seed, lr=0.08, log_every=5,
                       method_args={"expander": (64, 64, 64), **VARIANTS[variant]})
    method = result.method.eval()
    mean, std = train_data.mean_std()
    with torch.no_grad():
        z = method.expander(method.backbone(normalize(test_data.images, mean, std)))
    return result, {"std": z.std(dim=0).mean().item(),
                    "std_l2": evaluate.std_of_l2_normalized(z),
                    "rank": evaluate.effective_rank(z)}


def test_trains_at_smoke_with_finite_terms_and_no_collapse():
    result, diag = run("full")
    for h in result.history:
        assert {"invariance", "variance", "covariance", "std_l2", "rank"} <= h.keys()
        assert all(math.isfinite(h[k]) for k in ("loss", "invariance", "variance",
                                                 "covariance"))
        assert h["loss"] == pytest.approx(
            25 * h["invariance"] + 25 * h["variance"] + h["covariance"], rel=1e-4)
    assert diag["std_l2"] > 0.5 / math.sqrt(64)  # isotropic: 1/8 = 0.125; measured 0.115
    assert 0.0 <= result.metrics["knn_top1"] <= 1.0


def test_without_the_variance_term_the_embedding_collapses():
    full, no_var = run("full")[1], run("no_variance")[1]
    assert no_var["std"] < 0.2 * full["std"]  # measured 0.013 vs 0.35
    assert no_var["std_l2"] < 0.8 * full["std_l2"]  # measured 0.051 vs 0.115
    # the variance hinge mean(relu(1 - std)) the run logs: near 1 = no spread left
    assert run("no_variance")[0].history[-1]["variance"] > 0.95  # measured 0.98


def test_without_the_covariance_term_the_rank_falls():
    full, no_cov = run("full")[1], run("no_covariance")[1]
    assert no_cov["rank"] < 0.75 * full["rank"]  # measured 7.1 vs 15.2: dimensional collapse
    assert no_cov["std"] > 0.5 * full["std"]  # ... but not complete collapse


def test_the_mse_alone_collapses():
    full, mse = run("full")[1], run("mse_only")[1]
    assert mse["std"] < 0.2 * full["std"]  # measured 0.015 vs 0.35
    assert mse["std_l2"] < 0.8 * full["std_l2"]  # measured 0.047 vs 0.115


# ---- backbone_b: branches that share neither weights nor architecture (chapter 10) ----

def _two_branch(**kw):
    return small_model(VICReg, VICRegConfig, widths=(8, 8, 16, 32), expander=(32, 32, 32), **kw)


def test_default_shares_one_network_for_both_views():
    m = _two_branch()
    assert m.backbone_b is None and m.expander_b is None
    g = torch.Generator().manual_seed(0)
    x_a, x_b = (torch.randn(16, 3, 16, 16, generator=g) for _ in range(2))
    out = m([x_a, x_b], step=0)
    z_a, z_b = m.expander(m.backbone(x_a)), m.expander(m.backbone(x_b))
    torch.testing.assert_close(out.loss, vicreg_loss(z_a, z_b))


def test_backbone_b_gives_view_b_its_own_network_of_another_architecture():
    m = _two_branch(backbone_b="smallcnn", backbone_b_args={"widths": (8, 8, 16, 16)})
    assert m.backbone_b.out_dim == 16 != m.backbone.out_dim  # another architecture
    assert m.expander_b[0].in_features == 16 and m.expander_b is not m.expander
    own = {id(p) for p in m.backbone.parameters()} | {id(p) for p in m.expander.parameters()}
    assert not own & {id(p) for p in m.backbone_b.parameters()}  # no shared weights
    g = torch.Generator().manual_seed(0)
    x_a, x_b = (torch.randn(16, 3, 16, 16, generator=g) for _ in range(2))
    out = m([x_a, x_b], step=0)
    z_a, z_b = m.expander(m.backbone(x_a)), m.expander_b(m.backbone_b(x_b))
    torch.testing.assert_close(out.loss, vicreg_loss(z_a, z_b))
    out.loss.backward()
    for net in (m.backbone, m.expander, m.backbone_b, m.expander_b):
        assert all(p.grad is not None for p in net.parameters())


def test_separate_branches_train_without_collapse():
    result = smoke_run("vicreg", shapes16(), steps=30, lr=0.08, log_every=10,
                       method_args={"expander": (64, 64, 64), "backbone_b": "smallcnn",
                                    "backbone_b_args": {"widths": [16, 16, 32, 64]}})
    last = result.history[-1]
    assert math.isfinite(last["loss"])
    # hinge mean(relu(1 - std)): measured 0.73 (shared network: 0.66); collapse gives ~0.98
    assert last["variance"] < 0.85
    assert last["std_l2"] > 0.5 / math.sqrt(64)  # measured 0.110 (shared: 0.115)
