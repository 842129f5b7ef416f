import pytest
import torch

from sslkit.losses import simsiam_loss

from .reference import simsiam_symmetric_loss


def _inputs(n=16, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
            for _ in range(4)]


def test_matches_official_symmetric_loss_values_and_gradients():
    p1, p2, z1, z2 = _inputs()
    ours = 0.5 * (simsiam_loss(p1, z2) + simsiam_loss(p2, z1))
    ours_grads = torch.autograd.grad(ours, (p1, p2))
    ref = simsiam_symmetric_loss(p1, p2, z1, z2)
    ref_grads = torch.autograd.grad(ref, (p1, p2))
    torch.testing.assert_close(ours, ref)
    for a, b in zip(ours_grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_identical_views_give_minus_one_and_opposite_views_plus_one():
    p = torch.randn(8, 5, dtype=torch.float64)
    torch.testing.assert_close(simsiam_loss(p, p.clone()), torch.tensor(-1.0, dtype=torch.float64))
    torch.testing.assert_close(simsiam_loss(p, -p), torch.tensor(1.0, dtype=torch.float64))


def test_stop_gradient_target_gets_no_gradient():
    p, _, z, _ = _inputs()
    simsiam_loss(p, z).backward()
    assert z.grad is None
    assert p.grad is not None and p.grad.abs().sum() > 0


def test_without_stop_gradient_the_target_gets_gradient():
    p, _, z, _ = _inputs()
    simsiam_loss(p, z, stop_gradient=False).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    torch.testing.assert_close(simsiam_loss(p, z, stop_gradient=False), simsiam_loss(p, z))


def test_terms_give_mean_cosine():
    p, _, z, _ = _inputs()
    loss, terms = simsiam_loss(p, z, return_terms=True)
    torch.testing.assert_close(loss, -terms["cos_sim"])


def test_gradcheck():
    p, _, z, _ = _inputs(n=4, d=3)
    z = z.detach()  # no gradient into the stop-gradient branch: check p's only
    assert torch.autograd.gradcheck(lambda p: simsiam_loss(p, z), (p,))


def _sgd_step(params, loss, lr):
    # plain SGD by hand: torch.optim's first step costs ~2 s of lazy imports on a CPU
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for q, g in zip(params, grads):
            q -= lr * g


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    w_encoder = (0.3 * torch.randn(10, 8, generator=g)).requires_grad_()
    w_predictor = (0.3 * torch.randn(8, 8, generator=g)).requires_grad_()
    losses = []
    for _ in range(20):
        z1 = (x + 0.1 * torch.randn(x.shape, generator=g)) @ w_encoder
        z2 = (x + 0.1 * torch.randn(x.shape, generator=g)) @ w_encoder
        loss = 0.5 * (simsiam_loss(z1 @ w_predictor, z2) + simsiam_loss(z2 @ w_predictor, z1))
        _sgd_step([w_encoder, w_predictor], loss, lr=0.5)
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.2


@pytest.mark.parametrize("p_shape, z_shape, match", [
    ((8, 4), (8, 5), r"p and z of the same shape"),
    ((8,), (8,), r"1-D tensor"),
    ((2, 3, 4), (2, 3, 4), r"flatten"),
])
def test_bad_shapes_raise_a_helpful_error(p_shape, z_shape, match):
    with pytest.raises(ValueError, match=match):
        simsiam_loss(torch.randn(p_shape), torch.randn(z_shape))
