from functools import partial

import pytest
import torch

from sslkit.losses import covariance_loss, invariance_loss, variance_loss, vicreg_loss

from .helpers import assert_same_values_and_grads, bad_pair_shapes, correlated_views, sgd_losses
from .reference import vicreg_forward


_views = partial(correlated_views, scale=0.5, noise=0.3)


@pytest.mark.parametrize("coeffs", [(25.0, 25.0, 1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                                    (0.0, 0.0, 1.0)])
def test_matches_official_values_and_gradients(coeffs):
    # one coefficient at a time checks each term on its own, against the official forward
    z_a, z_b = _views()
    assert_same_values_and_grads(vicreg_loss(z_a, z_b, *coeffs),
                                 vicreg_forward(z_a, z_b, *coeffs), (z_a, z_b))


def test_terms_are_the_unweighted_pure_functions():
    z_a, z_b = _views()
    loss, terms = vicreg_loss(z_a, z_b, 2.0, 3.0, 4.0, return_terms=True)
    torch.testing.assert_close(terms["invariance"], invariance_loss(z_a, z_b).detach())
    torch.testing.assert_close(terms["variance"],
                               ((variance_loss(z_a) + variance_loss(z_b)) / 2).detach())
    torch.testing.assert_close(terms["covariance"],
                               (covariance_loss(z_a) + covariance_loss(z_b)).detach())
    torch.testing.assert_close(loss, 2.0 * terms["invariance"] + 3.0 * terms["variance"]
                               + 4.0 * terms["covariance"])


def test_identical_views_have_zero_invariance():
    z_a, _ = _views()
    _, terms = vicreg_loss(z_a, z_a.clone(), return_terms=True)
    assert terms["invariance"] == 0


def test_constant_embeddings_pay_the_full_variance_hinge_averaged_over_views():
    # std = sqrt(0 + 1e-4) = 0.01, hinge 1 - 0.01 = 0.99 in every dimension. The official
    # code averages the two views (`/ 2`), so the term is 0.99, not 1.98 (solo-learn).
    z = torch.ones(16, 8, dtype=torch.float64)
    loss, terms = vicreg_loss(z, z.clone(), return_terms=True)
    torch.testing.assert_close(terms["variance"], torch.tensor(0.99, dtype=torch.float64))
    assert terms["invariance"] == 0 and terms["covariance"] == 0
    torch.testing.assert_close(loss, torch.tensor(25.0 * 0.99, dtype=torch.float64))


def test_variance_hinge_is_zero_once_every_std_exceeds_one():
    z_a, _ = _views()
    assert variance_loss(3.0 * z_a / z_a.std(dim=0)) == 0


def test_covariance_is_zero_for_decorrelated_dimensions():
    # columns of an 8x8 Hadamard matrix: orthogonal and zero-mean, so Cov is diagonal
    h = torch.tensor([[1.0]], dtype=torch.float64)
    for _ in range(3):
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    assert covariance_loss(h[:, 1:]) < 1e-30


def test_symmetric_in_the_two_views():
    z_a, z_b = _views()
    torch.testing.assert_close(vicreg_loss(z_a, z_b), vicreg_loss(z_b, z_a))


def test_gradcheck():
    z_a, z_b = _views(n=5, d=3)
    assert torch.autograd.gradcheck(vicreg_loss, (z_a, z_b))


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 10, generator=g)
    w = (0.1 * torch.randn(10, 6, generator=g)).requires_grad_()  # starts nearly collapsed

    def loss_fn():
        z_a = (x + 0.2 * torch.randn(x.shape, generator=g)) @ w
        z_b = (x + 0.2 * torch.randn(x.shape, generator=g)) @ w
        return vicreg_loss(z_a, z_b)

    losses = sgd_losses(loss_fn, [w], lr=0.01, steps=20)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("fn", [
    lambda z: vicreg_loss(z, z),
    lambda z: variance_loss(z),
    lambda z: covariance_loss(z),
])
def test_batch_of_one_raises_a_helpful_error(fn):
    with pytest.raises(ValueError, match=r"needs at least 2 samples per batch to estimate "
                                         r"the (co)?variance; got N=1.*Use a batch size >= 2 "
                                         r"\(the paper uses 2048\)"):
        fn(torch.randn(1, 4))


@pytest.mark.parametrize("a_shape, b_shape, match", bad_pair_shapes())
def test_bad_shapes_raise_a_helpful_error(a_shape, b_shape, match):
    with pytest.raises(ValueError, match=match):
        vicreg_loss(torch.randn(a_shape), torch.randn(b_shape))
