"""What the loss tests share: seeded inputs, the value-and-gradient comparison with a
reference, and a few steps of plain SGD. Imported as `from .helpers import ...`, like
`reference.py`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def random_inputs(k: int = 4, n: int = 16, d: int = 8, seed: int = 0) -> list[torch.Tensor]:
    """`k` independent (n, d) float64 leaves, seeded."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
            for _ in range(k)]


def correlated_views(n: int = 16, d: int = 8, seed: int = 0, *, scale: float = 1.0,
                     noise: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float64 leaves (n, d): z_a = scale * N(0, 1), z_b = z_a + noise * N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    z_a = scale * torch.randn(n, d, generator=g, dtype=torch.float64)
    z_b = z_a + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z_a.requires_grad_(), z_b.requires_grad_()


def noisy_linear_views(out_dim: int, noise: float):
    """A linear map to train and its two views of one fixed input, seeded (global RNG 0):
    x (32, 8), `lin` = nn.Linear(8, out_dim), and two fixed noise draws of std `noise`.
    Returns `lin` and `embed()`, which gives (lin(x + noise_a), lin(x + noise_b))."""
    torch.manual_seed(0)
    x = torch.randn(32, 8)
    lin = torch.nn.Linear(8, out_dim)
    noise_a, noise_b = (noise * torch.randn_like(x) for _ in range(2))
    return lin, lambda: (lin(x + noise_a), lin(x + noise_b))


def gradcheck_of_p(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """`torch.autograd.gradcheck` of loss(p, z) with respect to p, at a small float64 size.
    Only p: the loss stops the gradient into its target z, so z's analytic gradient is 0 by
    design while its numerical one is not."""
    p, _, z, _ = random_inputs(n=4, d=3)
    z = z.detach()
    return torch.autograd.gradcheck(lambda p: loss(p, z), (p,))


def bad_pair_shapes(a: str = "z_a", b: str = "z_b") -> list[tuple[tuple, tuple, str]]:
    """(shape of `a`, shape of `b`, what the error must say) for the pairs of (N, D) inputs
    every loss that checks them with `check_pair` must refuse."""
    return [
        ((8, 4), (8, 5), rf"{a} and {b} of the same shape.*\(8, 4\).*\(8, 5\)"),
        ((8, 4), (7, 4), r"same N samples"),
        ((8,), (8,), r"shape \(N, D\); got a 1-D tensor"),
        ((8, 3, 2), (8, 3, 2), r"flatten"),
    ]


def assert_same_values_and_grads(ours: torch.Tensor, ref: torch.Tensor,
                                 inputs: Sequence[torch.Tensor], **tolerance) -> None:
    """`ours` and `ref` (scalars computed from `inputs`) agree, and so do their gradients with
    respect to every input."""
    ours_grads = torch.autograd.grad(ours, inputs, retain_graph=True)
    ref_grads = torch.autograd.grad(ref, inputs, retain_graph=True)
    torch.testing.assert_close(ours, ref, **tolerance)
    for a, b in zip(ours_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, **tolerance)


def sgd_losses(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], *,
               lr: float, steps: int) -> list[float]:
    """`steps` steps of plain SGD on `params`; returns the loss `loss_fn()` gave before each.

    By hand, not torch.optim: its first step costs ~2 s of lazy imports on a CPU.
    """
    params = list(params)
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for q, g in zip(params, grads):
                q -= lr * g
        losses.append(loss.item())
    return losses
