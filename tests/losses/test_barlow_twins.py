import pytest
import torch

from sslkit.losses import barlow_twins_loss, cross_correlation

from .helpers import assert_same_values_and_grads, bad_pair_shapes, correlated_views, sgd_losses
from .reference import BarlowTwinsLoss


@pytest.mark.parametrize("lambd", [0.0051, 0.5])
def test_matches_official_values_and_gradients(lambd):
    z_a, z_b = correlated_views()
    assert_same_values_and_grads(barlow_twins_loss(z_a, z_b, lambd),
                                 BarlowTwinsLoss(z_a.shape[1], lambd)(z_a, z_b), (z_a, z_b))


def test_terms_add_up_to_the_loss():
    z_a, z_b = correlated_views()
    loss, terms = barlow_twins_loss(z_a, z_b, 0.1, return_terms=True)
    torch.testing.assert_close(loss, terms["on_diag"] + 0.1 * terms["off_diag"])


def test_symmetric_in_the_twocorrelated_views():
    z_a, z_b = correlated_views()
    torch.testing.assert_close(barlow_twins_loss(z_a, z_b), barlow_twins_loss(z_b, z_a))


def test_identical_decorrelated_standardised_views_give_zero():
    # columns of an 8x8 Hadamard matrix other than the constant one: zero mean, unit
    # (biased) variance, mutually orthogonal, so C = I up to BatchNorm's eps
    h = torch.tensor([[1.0]], dtype=torch.float64)
    for _ in range(3):
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    z = h[:, 1:5]  # (8, 4)
    loss, terms = barlow_twins_loss(z, z.clone(), return_terms=True)
    assert terms["off_diag"] < 1e-20
    assert loss < 1e-9  # on_diag = 4 * (1 - 1/(1 + 1e-5))^2 ~ 4e-10


def test_cross_correlation_of_a_view_with_itself_has_unit_diagonal():
    z_a, _ = correlated_views(n=32)
    c = cross_correlation(z_a, z_a)
    assert c.shape == (8, 8)
    torch.testing.assert_close(torch.diagonal(c), torch.ones(8, dtype=torch.float64),
                               rtol=0, atol=1e-4)


def test_invariant_to_an_affine_map_of_each_dimension():
    # the batch standardisation removes any per-dimension scale and shift
    z_a, z_b = correlated_views()
    scale, shift = torch.linspace(0.5, 4.0, 8, dtype=torch.float64), torch.arange(8.0)
    torch.testing.assert_close(barlow_twins_loss(z_a * scale + shift, z_b),
                               barlow_twins_loss(z_a, z_b), rtol=1e-4, atol=0)


def test_gradcheck():
    z_a, z_b = correlated_views(n=5, d=3)
    assert torch.autograd.gradcheck(barlow_twins_loss, (z_a, z_b))


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 10, generator=g)
    # a nearly rank-one map: the 6 output dimensions start strongly correlated
    w = torch.randn(10, 1, generator=g) + 0.1 * torch.randn(10, 6, generator=g)
    w.requires_grad_()

    def loss_fn():
        z_a = (x + 0.2 * torch.randn(x.shape, generator=g)) @ w
        z_b = (x + 0.2 * torch.randn(x.shape, generator=g)) @ w
        return barlow_twins_loss(z_a, z_b, lambd=0.1)

    losses = sgd_losses(loss_fn, [w], lr=0.5, steps=20)
    assert losses[-1] < 0.3 * losses[0]


def test_batch_of_one_raises_a_helpful_error():
    with pytest.raises(ValueError, match=r"barlow_twins_loss needs at least 2 samples per "
                                         r"batch.*got N=1.*batch size >= 2 \(the paper "
                                         r"uses 2048\)"):
        barlow_twins_loss(torch.randn(1, 4), torch.randn(1, 4))


@pytest.mark.parametrize("a_shape, b_shape, match", bad_pair_shapes())
def test_bad_shapes_raise_a_helpful_error(a_shape, b_shape, match):
    with pytest.raises(ValueError, match=match):
        barlow_twins_loss(torch.randn(a_shape), torch.randn(b_shape))
