"""AMDIM loss: the official costs.py, closed forms, gradients, bad input."""

import math

import pytest
import torch

from sslkit.losses.amdim import amdim_loss, amdim_loss_multiscale, random_location, tanh_clip

from .helpers import sgd_losses
from .reference_extra import amdim_loss_g2l, amdim_multi_nce


def features(n=4, d=8, sizes=((3, 3), (2, 2)), seed=0, scale=3.0):
    """Global features and local maps of two views, float64, requiring grad."""
    g = torch.Generator().manual_seed(seed)

    def t(*shape):
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()

    glob = [t(n, d) for _ in range(2)]
    loc = [[t(n, d, h, w) for h, w in sizes] for _ in range(2)]
    return glob, loc


def grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


def test_matches_official_one_direction():
    (g_a, _), (_, (loc_b, _)) = features(scale=8.0)  # scale 8: some scores hit the clip
    loss, terms = amdim_loss(g_a, loc_b, return_terms=True)
    r_trg = loc_b.permute(1, 0, 2, 3).reshape(g_a.shape[1], -1)
    ref_nce, ref_reg = amdim_loss_g2l(g_a, r_trg, torch.eye(4, dtype=torch.float64))
    torch.testing.assert_close(terms["nce"], ref_nce, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(terms["reg"], ref_reg, rtol=1e-12, atol=1e-12)
    for ours, ref in zip(grads(loss, [g_a, loc_b]), grads(ref_nce + ref_reg, [g_a, loc_b])):
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_multiscale_matches_official_1t5_1t7_5t5():
    # official maps: r1 global (1x1), r7 (7x7, shallower), r5 (5x5, deeper); ours are ordered
    # shallow -> deep, and the local-to-local task uses the last (deepest) map.
    (g_a, g_b), ((l7_a, l5_a), (l7_b, l5_b)) = features(sizes=((4, 4), (3, 3)))
    seed = 7
    loss, terms = amdim_loss_multiscale(
        g_a, g_b, [l7_a, l5_a], [l7_b, l5_b],
        generator=torch.Generator().manual_seed(seed), return_terms=True)
    gen = torch.Generator().manual_seed(seed)  # same draws: view a first, then view b
    idx_a, idx_b = torch.randint(9, (4,), generator=gen), torch.randint(9, (4,), generator=gen)
    l1t5, l1t7, l5t5, reg = amdim_multi_nce(
        g_a[:, :, None, None], l5_a, l7_a, g_b[:, :, None, None], l5_b, l7_b, idx_a, idx_b)
    torch.testing.assert_close(terms["nce_g2l_1"], l1t5, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(terms["nce_g2l_0"], l1t7, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(terms["nce_l2l"], l5t5, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(terms["reg"], reg, rtol=1e-12, atol=1e-12)
    ref = l1t5 + l1t7 + l5t5 + reg  # task_self_supervised.py: loss_g2l + lgt_reg
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    leaves = [g_a, g_b, l7_a, l5_a, l7_b, l5_b]
    for ours, theirs in zip(grads(loss, leaves), grads(ref, leaves)):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_orthogonal_features_give_log_of_candidates():
    # all scores 0: each positive competes with (N-1)*L negatives, nce = log(1 + (N-1)L)
    n, d, h, w = 3, 6, 2, 2
    g = torch.zeros(n, d, dtype=torch.float64)
    g[:, 0] = 1.0
    loc = torch.zeros(n, d, h, w, dtype=torch.float64)
    loc[:, 1] = 1.0
    loss, terms = amdim_loss(g, loc, return_terms=True)
    assert math.isclose(terms["nce"].item(), math.log(1 + (n - 1) * h * w), rel_tol=1e-12)
    assert terms["reg"].item() == 0.0
    assert loss.item() == terms["nce"].item()


def test_aligned_features_beat_random_ones():
    n, d = 8, 16
    g = torch.nn.functional.one_hot(torch.arange(n), d).double() * 10  # image i -> axis i
    loc = g[:, :, None, None].expand(n, d, 3, 3)
    aligned = amdim_loss(g, loc, return_terms=True)[1]["nce"]
    shuffled = amdim_loss(g, loc[torch.randperm(n, generator=torch.Generator().manual_seed(0))],
                          return_terms=True)[1]["nce"]
    assert aligned < 0.5 < shuffled


def test_tanh_clip_and_random_location():
    x = torch.linspace(-100, 100, 11, dtype=torch.float64)
    assert tanh_clip(x, 20.0).abs().max() < 20.0
    assert torch.equal(tanh_clip(x, None), x)
    loc = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)
    src = random_location(loc, torch.Generator().manual_seed(0))
    assert src.shape == (2, 3)
    for i in range(2):  # each row is one spatial position of its own image
        assert any(torch.equal(src[i], loc[i, :, y, x]) for y in range(2) for x in range(2))


def test_multiscale_is_symmetric_and_seeded():
    (g_a, g_b), (loc_a, loc_b) = features()

    def run(seed, swap=False):
        args = (g_b, g_a, loc_b, loc_a) if swap else (g_a, g_b, loc_a, loc_b)
        return amdim_loss_multiscale(*args, generator=torch.Generator().manual_seed(seed))

    assert run(0).item() == run(0).item()
    without_l2l = amdim_loss_multiscale(g_a, g_b, loc_a, loc_b, local_to_local=False)
    swapped = amdim_loss_multiscale(g_b, g_a, loc_b, loc_a, local_to_local=False)
    torch.testing.assert_close(without_l2l, swapped, rtol=1e-12, atol=1e-12)
    assert without_l2l < run(0)  # the local-to-local task adds a positive term


def test_gradcheck():
    (g_a, g_b), ((l_a,), (l_b,)) = features(n=3, d=4, sizes=((2, 2),), scale=5.0)
    assert torch.autograd.gradcheck(lambda g, l: amdim_loss(g, l), (g_a, l_b))
    assert torch.autograd.gradcheck(
        lambda *t: amdim_loss_multiscale(t[0], t[1], [t[2]], [t[3]], local_to_local=False),
        (g_a, g_b, l_a, l_b))


def test_optimiser_steps_lower_the_loss():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4)
    conv = torch.nn.Conv2d(3, 16, 1)

    def loss_fn():
        f_a, f_b = conv(x), conv(x + 0.1 * torch.randn_like(x))
        return amdim_loss_multiscale(f_a.mean((2, 3)), f_b.mean((2, 3)), [f_a], [f_b])

    first = loss_fn().item()  # draws its own noise, as each step's loss does
    losses = sgd_losses(loss_fn, conv.parameters(), lr=0.1, steps=21)
    assert losses[20] < first  # after 20 steps


def test_bad_input_raises():
    g, loc = torch.randn(4, 8), torch.randn(4, 8, 2, 2)
    with pytest.raises(ValueError, match=r"\(N, D, H, W\)"):
        amdim_loss(g, loc.flatten(2))
    with pytest.raises(ValueError, match="same D|feature size D"):
        amdim_loss(g, torch.randn(4, 5, 2, 2))
    with pytest.raises(ValueError, match="batch size N"):
        amdim_loss(g, torch.randn(3, 8, 2, 2))
    with pytest.raises(ValueError, match="at least 2 images"):
        amdim_loss(g[:1], loc[:1])
    with pytest.raises(ValueError, match="number of local maps"):
        amdim_loss_multiscale(g, g, [loc], [])
