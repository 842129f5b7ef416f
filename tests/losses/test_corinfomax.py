"""CorInfoMax loss: the official CovarianceLoss over several steps, state, gradients, bad input."""

import math

from functools import partial

import pytest
import torch

from sslkit.losses.corinfomax import CorInfoMaxState, corinfomax_loss, corinfomax_state

from .helpers import correlated_views, noisy_linear_views, sgd_losses
from .reference_extra import CorInfoMaxCovarianceLoss, corinfomax_step_loss


views = partial(correlated_views, d=4, noise=0.3)


def test_matches_official_over_three_steps():
    d = 4
    official = CorInfoMaxCovarianceLoss(d, R_ini=1.0, la_R=0.01, la_mu=0.01, R_eps_weight=1e-8)
    state = corinfomax_state(d)
    for step in range(3):  # the state carried between steps must match too
        z_a, z_b = views(d=d, seed=step)
        loss, state, terms = corinfomax_loss(z_a, z_b, state, return_terms=True)
        ref, ref_cov, ref_sim = corinfomax_step_loss(official, z_a, z_b, sim_loss_weight=250.0)
        torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(terms["covariance"], ref_cov.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(terms["invariance"], ref_sim.detach(), rtol=1e-12, atol=1e-12)
        for ours, theirs in zip(state, (official.R1, official.R2, official.mu1, official.mu2)):
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
            assert not ours.requires_grad  # the state carries no graph into the next step
        for g1, g2 in zip(torch.autograd.grad(loss, (z_a, z_b)),
                          torch.autograd.grad(ref, (z_a, z_b))):
            torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


def test_state_is_not_modified_and_starts_at_identity():
    state = corinfomax_state(3, R_ini=2.0)
    torch.testing.assert_close(state.R_a, 2.0 * torch.eye(3, dtype=torch.float64))
    assert state.mu_b.abs().sum() == 0 and state.R_a.dtype == torch.float64
    before = [t.clone() for t in state]
    corinfomax_loss(*views(d=3), state)
    assert all(torch.equal(a, b) for a, b in zip(before, state))


def test_closed_form_without_memory():
    # la_R = la_mu = 0: R is the batch covariance (1/N), mu the batch mean. Views that are
    # identical and whitened (covariance I) give invariance 0 and covariance -2 log(1+eps)
    n, d = 8, 4
    z = torch.randn(n, d, dtype=torch.float64)
    z = z - z.mean(0)
    z = z @ torch.linalg.inv(torch.linalg.cholesky(z.T @ z / n)).T  # batch covariance = I
    _, state, terms = corinfomax_loss(z, z, corinfomax_state(d), la_R=0.0, la_mu=0.0,
                                      eps=1e-3, return_terms=True)
    assert terms["invariance"].item() == 0.0
    assert math.isclose(terms["covariance"].item(), -2 * math.log(1 + 1e-3), rel_tol=1e-9)
    torch.testing.assert_close(state.R_a, torch.eye(d, dtype=torch.float64), rtol=0, atol=1e-12)


def test_symmetric_under_swapping_views_and_states():
    z_a, z_b = views()
    state = corinfomax_state(4)._replace(mu_a=torch.ones(4, dtype=torch.float64))
    swapped = CorInfoMaxState(state.R_b, state.R_a, state.mu_b, state.mu_a)
    loss_ab, new_ab = corinfomax_loss(z_a, z_b, state)
    loss_ba, new_ba = corinfomax_loss(z_b, z_a, swapped)
    torch.testing.assert_close(loss_ab, loss_ba)
    torch.testing.assert_close(new_ab.R_a, new_ba.R_b)


def test_float32_inputs_keep_float64_state():
    z_a, z_b = (t.detach().float() for t in views())
    loss, state = corinfomax_loss(z_a, z_b, corinfomax_state(4))
    assert loss.dtype == torch.float32 and state.R_a.dtype == torch.float64


def test_gradcheck():
    z_a, z_b = views(n=5, d=3)
    state = corinfomax_state(3)
    assert torch.autograd.gradcheck(
        lambda a, b: corinfomax_loss(a, b, state, alpha=2.0, eps=1e-3)[0], (z_a, z_b))


def test_optimiser_steps_lower_the_loss():
    lin, embed = noisy_linear_views(out_dim=4, noise=0.3)
    state = corinfomax_state(4)

    def step():
        nonlocal state
        loss, state = corinfomax_loss(*embed(), state, alpha=10.0)
        return loss

    first = step().item()  # advances the state once, without a step
    losses = sgd_losses(step, lin.parameters(), lr=0.01, steps=11)
    assert losses[10] < first  # after 10 steps


def test_bad_input_raises():
    z = torch.randn(8, 4)
    state = corinfomax_state(4)
    with pytest.raises(ValueError, match="same shape"):
        corinfomax_loss(z, z[:, :3], state)
    with pytest.raises(ValueError, match="at least 2 samples"):
        corinfomax_loss(z[:1], z[:1], state)
    with pytest.raises(ValueError, match=r"state.R_a has shape \(4, 4\), expected \(3, 3\)"):
        corinfomax_loss(z[:, :3], z[:, :3], state)
