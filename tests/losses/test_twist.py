"""TWIST loss: the official EntLoss, closed forms, gradients, bad input."""

import math

import pytest
import torch

from sslkit.losses.twist import twist_loss

from .helpers import correlated_views, noisy_linear_views, sgd_losses
from .reference_extra import twist_ent_loss


def logits(n=16, k=10, seed=0, scale=2.0):
    return correlated_views(n, k, seed, scale=scale, noise=scale)


@pytest.mark.parametrize("kw", [{}, {"lam1": 0.5, "lam2": 2.0, "tau": 0.5, "eps": 1e-3}])
def test_matches_official(kw):
    a, b = logits()
    loss, terms = twist_loss(a, b, return_terms=True, **kw)
    official_kw = {"lam1": kw.get("lam1", 0.0), "lam2": kw.get("lam2", 1.0),
                   "tau": kw.get("tau", 1.0), "EPS": kw.get("eps", 1e-5)}
    ref = twist_ent_loss(a, b, **official_kw)
    torch.testing.assert_close(loss, ref["final"], rtol=1e-12, atol=1e-12)
    for ours, theirs in [("consistency", "kl"), ("sharpness", "eh"), ("diversity", "he")]:
        torch.testing.assert_close(terms[ours], ref[theirs].detach(), rtol=1e-12, atol=1e-12)
    for g1, g2 in zip(torch.autograd.grad(loss, (a, b)), torch.autograd.grad(ref["final"], (a, b))):
        torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


def test_uniform_identical_views_give_zero():
    # every sample uniform over K: no disagreement, and sharpness = diversity = log K
    z = torch.zeros(8, 5, dtype=torch.float64)
    loss, terms = twist_loss(z, z, eps=0.0, return_terms=True)
    assert terms["consistency"].item() == 0.0
    assert math.isclose(terms["sharpness"].item(), math.log(5), rel_tol=1e-12)
    assert math.isclose(terms["diversity"].item(), math.log(5), rel_tol=1e-12)
    assert abs(loss.item()) < 1e-12


def test_confident_balanced_views_reach_minus_log_k():
    k = 6
    z = 50.0 * torch.eye(k, dtype=torch.float64).repeat(2, 1)  # each class used twice
    loss = twist_loss(z, z, eps=0.0)
    assert math.isclose(loss.item(), -math.log(k), abs_tol=1e-9)
    collapsed = 50.0 * torch.eye(k, dtype=torch.float64)[[0] * 2 * k]  # one class for all
    assert twist_loss(collapsed, collapsed, eps=0.0).item() > -1e-9  # no diversity bonus


def test_symmetric():
    a, b = logits()
    torch.testing.assert_close(twist_loss(a, b), twist_loss(b, a))


def test_gradcheck():
    a, b = logits(n=4, k=3)
    assert torch.autograd.gradcheck(lambda x, y: twist_loss(x, y, tau=0.7), (a, b))


def test_optimiser_steps_lower_the_loss():
    lin, embed = noisy_linear_views(out_dim=5, noise=0.2)
    losses = sgd_losses(lambda: twist_loss(*embed()), lin.parameters(), lr=0.5, steps=11)
    assert losses[10] < losses[0]  # after 10 steps


def test_bad_input_raises():
    z = torch.randn(8, 4)
    with pytest.raises(ValueError, match="same shape"):
        twist_loss(z, z[:, :3])
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        twist_loss(z.flatten(), z.flatten())
    with pytest.raises(ValueError, match="at least 2 samples"):
        twist_loss(z[:1], z[:1])
    with pytest.raises(ValueError, match="2 classes"):
        twist_loss(z[:, :1], z[:, :1])
