import pytest
import torch

from sslkit.losses import simsiam_loss

from .helpers import (assert_same_values_and_grads, bad_pair_shapes, gradcheck_of_p,
                      random_inputs, sgd_losses)
from .reference import simsiam_symmetric_loss


def test_matches_official_symmetric_loss_values_and_gradients():
    p1, p2, z1, z2 = random_inputs()
    ours = 0.5 * (simsiam_loss(p1, z2) + simsiam_loss(p2, z1))
    assert_same_values_and_grads(ours, simsiam_symmetric_loss(p1, p2, z1, z2), (p1, p2))


def test_identical_views_give_minus_one_and_opposite_views_plus_one():
    p = torch.randn(8, 5, dtype=torch.float64)
    torch.testing.assert_close(simsiam_loss(p, p.clone()), torch.tensor(-1.0, dtype=torch.float64))
    torch.testing.assert_close(simsiam_loss(p, -p), torch.tensor(1.0, dtype=torch.float64))


def test_stop_gradient_target_gets_no_gradient():
    p, _, z, _ = random_inputs()
    simsiam_loss(p, z).backward()
    assert z.grad is None
    assert p.grad is not None and p.grad.abs().sum() > 0


def test_without_stop_gradient_the_target_gets_gradient():
    p, _, z, _ = random_inputs()
    simsiam_loss(p, z, stop_gradient=False).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    torch.testing.assert_close(simsiam_loss(p, z, stop_gradient=False), simsiam_loss(p, z))


def test_terms_give_mean_cosine():
    p, _, z, _ = random_inputs()
    loss, terms = simsiam_loss(p, z, return_terms=True)
    torch.testing.assert_close(loss, -terms["cos_sim"])


def test_gradcheck():
    assert gradcheck_of_p(simsiam_loss)


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    w_encoder = (0.3 * torch.randn(10, 8, generator=g)).requires_grad_()
    w_predictor = (0.3 * torch.randn(8, 8, generator=g)).requires_grad_()

    def loss_fn():
        z1 = (x + 0.1 * torch.randn(x.shape, generator=g)) @ w_encoder
        z2 = (x + 0.1 * torch.randn(x.shape, generator=g)) @ w_encoder
        return 0.5 * (simsiam_loss(z1 @ w_predictor, z2) + simsiam_loss(z2 @ w_predictor, z1))

    losses = sgd_losses(loss_fn, [w_encoder, w_predictor], lr=0.5, steps=20)
    assert losses[-1] < losses[0] - 0.2


@pytest.mark.parametrize("p_shape, z_shape, match", bad_pair_shapes("p", "z"))
def test_bad_shapes_raise_a_helpful_error(p_shape, z_shape, match):
    with pytest.raises(ValueError, match=match):
        simsiam_loss(torch.randn(p_shape), torch.randn(z_shape))
