import pytest
import torch
import torch.nn.functional as F

from sslkit.losses import byol_loss

from .helpers import (assert_same_values_and_grads, bad_pair_shapes, gradcheck_of_p,
                      random_inputs, sgd_losses)
from .reference import byol_repr_loss


def test_matches_official_both_directions_values_and_gradients():
    p1, p2, z1, z2 = random_inputs()
    ours = byol_loss(p1, z2) + byol_loss(p2, z1)  # the paper's sum
    assert_same_values_and_grads(ours, byol_repr_loss(p1, p2, z1, z2), (p1, p2))


def test_identical_views_give_zero_and_opposite_views_give_four():
    p = torch.randn(8, 5, dtype=torch.float64)
    torch.testing.assert_close(byol_loss(p, p.clone()), torch.tensor(0.0, dtype=torch.float64))
    torch.testing.assert_close(byol_loss(p, -p), torch.tensor(4.0, dtype=torch.float64))


def test_invariant_to_the_scale_of_each_sample():
    p, _, z, _ = random_inputs()
    scale = torch.rand(p.shape[0], 1, dtype=torch.float64) + 0.5
    torch.testing.assert_close(byol_loss(p * scale, z * 3.0), byol_loss(p, z))


def test_terms_give_mean_cosine():
    p, _, z, _ = random_inputs()
    loss, terms = byol_loss(p, z, return_terms=True)
    torch.testing.assert_close(loss, 2 - 2 * terms["cos_sim"])
    assert not terms["cos_sim"].requires_grad


def test_stop_gradient_target_gets_no_gradient():
    p, _, z, _ = random_inputs()
    byol_loss(p, z).backward()
    assert p.grad is not None and p.grad.abs().sum() > 0
    assert z.grad is None


def test_stop_gradient_inside_changes_neither_the_value_nor_the_gradient_to_p():
    """Before sg(.) moved into the loss, BYOL called it as byol_loss(p, z.detach()), the
    loss being 2 - 2 cos. Value and gradient to p are the same to the bit."""
    p, _, z, _ = random_inputs()
    p_before = p.detach().clone().requires_grad_()
    cos = (F.normalize(p_before, dim=1) * F.normalize(z.detach(), dim=1)).sum(dim=1)
    before = (2 - 2 * cos).mean()
    after = byol_loss(p, z)
    before.backward()
    after.backward()
    assert torch.equal(after, before)
    assert torch.equal(p.grad, p_before.grad)


def test_gradcheck():
    assert gradcheck_of_p(byol_loss)


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    w_target = torch.randn(10, 6, generator=g)  # a fixed "target network"
    w_online = (0.3 * torch.randn(10, 6, generator=g)).requires_grad_()

    def loss_fn():
        x1 = x + 0.1 * torch.randn(x.shape, generator=g)
        return byol_loss(x1 @ w_online, x @ w_target)

    losses = sgd_losses(loss_fn, [w_online], lr=0.5, steps=20)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("p_shape, z_shape, match", bad_pair_shapes("p", "z"))
def test_bad_shapes_raise_a_helpful_error(p_shape, z_shape, match):
    with pytest.raises(ValueError, match=match):
        byol_loss(torch.randn(p_shape), torch.randn(z_shape))


def test_integer_input_raises():
    with pytest.raises(TypeError, match=r"floating-point.*\.float\(\)"):
        byol_loss(torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3))
