"""AAE loss: the official (bootstrapped) L2, closed forms, gradients, bad input."""

import pytest
import torch

from sslkit.losses.aae import aae_loss

from .reference_extra import aae_reconstr_loss


def images(n=4, c=3, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, c, h, w, generator=g, dtype=torch.float64)
    recon = (target + 0.2 * torch.randn(n, c, h, w, generator=g, dtype=torch.float64))
    return recon.requires_grad_(), target


@pytest.mark.parametrize("ratio", [None, 1, 4, 3])
def test_matches_official(ratio):
    recon, target = images()
    loss, terms = aae_loss(recon, target, bootstrap_ratio=ratio, return_terms=True)
    ref = aae_reconstr_loss(recon, target, bootstrap_ratio=ratio or 1)
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(terms["mse"], ((recon - target) ** 2).mean().detach())
    (g1,), (g2,) = torch.autograd.grad(loss, recon), torch.autograd.grad(ref, recon)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


def test_identical_images_give_zero():
    _, target = images()
    assert aae_loss(target, target).item() == 0.0
    assert aae_loss(target, target, bootstrap_ratio=4).item() == 0.0


def test_bootstrap_keeps_the_largest_errors_of_each_image():
    target = torch.zeros(2, 1, 2, 2, dtype=torch.float64)
    recon = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 1.0]],
                         dtype=torch.float64).reshape(2, 1, 2, 2)
    # k = 4 // 2 = 2 per image: {16, 9} and {1, 0}, not the batch's top 4
    assert aae_loss(recon, target, bootstrap_ratio=2).item() == (16 + 9 + 1 + 0) / 4
    assert aae_loss(recon, target).item() == (1 + 4 + 9 + 16 + 1) / 8
    recon.requires_grad_()
    (grad,) = torch.autograd.grad(aae_loss(recon, target, bootstrap_ratio=2), recon)
    assert (grad.flatten(1) != 0).sum(1).tolist() == [2, 1]  # only the kept pixels (0 err: 0)


def test_batch_of_one_is_fine():
    recon, target = images(n=1)
    assert aae_loss(recon, target, bootstrap_ratio=4).item() > 0  # no batch statistic


def test_gradcheck():
    recon, target = images(n=2, c=1, h=3, w=3)
    assert torch.autograd.gradcheck(lambda r: aae_loss(r, target), (recon,))
    assert torch.autograd.gradcheck(lambda r: aae_loss(r, target, bootstrap_ratio=4), (recon,))


def test_optimiser_steps_lower_the_loss():
    torch.manual_seed(0)
    target = torch.rand(8, 1, 6, 6)
    augmented = (target + 0.3 * torch.randn_like(target)).clamp(0, 1)
    ae = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                             torch.nn.Conv2d(8, 1, 3, padding=1))
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    first = aae_loss(ae(augmented), target, bootstrap_ratio=4).item()
    for _ in range(10):
        opt.zero_grad()
        aae_loss(ae(augmented), target, bootstrap_ratio=4).backward()
        opt.step()
    assert aae_loss(ae(augmented), target, bootstrap_ratio=4).item() < first


def test_bad_input_raises():
    recon, target = images()
    with pytest.raises(ValueError, match="same shape"):
        aae_loss(recon, target[:, :, :4])
    with pytest.raises(ValueError, match="same shape"):
        aae_loss(recon.flatten(), target.flatten())
    with pytest.raises(ValueError, match="bootstrap_ratio"):
        aae_loss(recon, target, bootstrap_ratio=0.5)
    with pytest.raises(ValueError, match="bootstrap_ratio"):
        aae_loss(recon, target, bootstrap_ratio=10_000)
    with pytest.raises(TypeError, match="uint8"):
        aae_loss(recon, (target * 255).to(torch.uint8))
