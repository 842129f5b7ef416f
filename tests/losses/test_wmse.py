"""W-MSE loss and whitening: the official Whitening2d / WMSE, closed forms, gradients, bad input."""

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from sslkit.losses.wmse import whiten, wmse_loss

from .helpers import correlated_views, noisy_linear_views, sgd_losses
from .reference_extra import whitening2d, wmse


views = partial(correlated_views, d=4)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_whiten_matches_official_layer(eps):
    x, _ = views(n=12, d=5)
    ours, ref = whiten(x, eps=eps), whitening2d(x, eps=eps)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    w = torch.randn_like(ours)  # compare the gradients of an arbitrary function of the output
    for a, b in zip(torch.autograd.grad((ours * w).sum(), x),
                    torch.autograd.grad((ref * w).sum(), x)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_whitened_batch_has_zero_mean_and_identity_covariance():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g,
                                                                           dtype=torch.float64)
    x = x + 3.0  # correlated, off-centre
    w = whiten(x)
    torch.testing.assert_close(w.mean(0), torch.zeros(6, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.cov(w.T), torch.eye(6, dtype=torch.float64),
                               atol=1e-10, rtol=0)


def test_whiten_batched_equals_one_at_a_time():
    x = torch.randn(3, 10, 4, dtype=torch.float64)
    torch.testing.assert_close(whiten(x), torch.stack([whiten(xi) for xi in x]))


def test_matches_official_full_batch():
    z_a, z_b = views()
    loss, terms = wmse_loss(z_a, z_b, return_terms=True)
    ref = wmse(torch.cat([z_a, z_b]), bs=16, w_size=16, perms=[torch.randperm(16)])
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    assert terms["mse"].item() == loss.item()
    for a, b in zip(torch.autograd.grad(loss, (z_a, z_b)), torch.autograd.grad(ref, (z_a, z_b))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("normalize", [True, False])
def test_matches_official_sub_batches_and_iterations(normalize):
    z_a, z_b = views(n=24, d=3)
    loss = wmse_loss(z_a, z_b, w_size=8, w_iter=2, eps=0.01, normalize=normalize,
                     generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)  # the same partitions, drawn the same way
    perms = [torch.randperm(24, generator=gen) for _ in range(2)]
    ref = wmse(torch.cat([z_a, z_b]), bs=24, w_size=8, perms=perms, eps=0.01,
               **({} if normalize else {"loss_f": F.mse_loss}))
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(loss, (z_a, z_b)), torch.autograd.grad(ref, (z_a, z_b))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_identical_views_give_zero_and_symmetry():
    z_a, z_b = views()
    assert wmse_loss(z_a, z_a).abs().item() < 1e-12
    torch.testing.assert_close(wmse_loss(z_a, z_b), wmse_loss(z_b, z_a))
    # whitening removes scale and offset: an affine map of a view changes nothing
    torch.testing.assert_close(wmse_loss(z_a, 3.0 * z_a + 1.0), wmse_loss(z_a, z_a), atol=1e-12,
                               rtol=0)


def test_seeded_partitions_are_reproducible():
    z_a, z_b = views(n=32)
    a = wmse_loss(z_a, z_b, w_size=8, generator=torch.Generator().manual_seed(0))
    b = wmse_loss(z_a, z_b, w_size=8, generator=torch.Generator().manual_seed(0))
    assert a.item() == b.item()


def test_gradcheck():
    z_a, z_b = views(n=6, d=2)
    assert torch.autograd.gradcheck(lambda a, b: wmse_loss(a, b), (z_a, z_b))
    assert torch.autograd.gradcheck(lambda x: whiten(x, eps=0.1), (z_a,))


def test_optimiser_steps_lower_the_loss():
    lin, embed = noisy_linear_views(out_dim=4, noise=0.3)
    losses = sgd_losses(lambda: wmse_loss(*embed()), lin.parameters(), lr=0.05, steps=11)
    assert losses[10] < losses[0]  # after 10 steps


def test_bad_input_raises():
    z = torch.randn(16, 4)
    with pytest.raises(ValueError, match="same shape"):
        wmse_loss(z, z[:, :3])
    with pytest.raises(ValueError, match="divide the batch size"):
        wmse_loss(z, z, w_size=5)
    with pytest.raises(ValueError, match="w_size > D"):
        wmse_loss(z, z, w_size=4)
    with pytest.raises(ValueError, match="w_size > D"):
        wmse_loss(z[:3], z[:3])  # batch of 3 in 4 dimensions
    with pytest.raises(ValueError, match="at least 2"):
        wmse_loss(z[:1], z[:1], eps=0.1)
    with pytest.raises(ValueError, match="singular covariance"):
        whiten(z[:4])
    with pytest.raises(torch.linalg.LinAlgError, match="eps > 0"):
        whiten(torch.ones(16, 4))  # collapsed: every sample identical
