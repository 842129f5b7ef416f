"""Checkers for the exercises: call one on your own implementation and read what it says.

Each checker runs your function and sslkit's on the same random inputs (values and
gradients, float64) and prints what matches and what does not, with a hint.
"""

from __future__ import annotations

from typing import Callable

import torch

from sslkit import losses


def _compare(name: str, yours: torch.Tensor, ours: torch.Tensor, atol: float = 1e-6) -> bool:
    if not isinstance(yours, torch.Tensor):
        print(f"✗ {name}: expected a tensor, got {type(yours).__name__}")
        return False
    if yours.shape != ours.shape:
        print(f"✗ {name}: shape {tuple(yours.shape)}, expected {tuple(ours.shape)}")
        return False
    if not torch.allclose(yours.double(), ours.double(), atol=atol, rtol=1e-5):
        diff = (yours.double() - ours.double()).abs().max().item()
        print(f"✗ {name}: differs from sslkit's by up to {diff:.3g}")
        return False
    print(f"✓ {name}")
    return True


def _inputs(n: int = 16, d: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = (a + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64))
    return a.requires_grad_(), b.requires_grad_()


def _check_pair_loss(fn: Callable, reference: Callable, label: str) -> bool:
    ok = True
    for seed in range(3):
        a, b = _inputs(seed=seed)
        a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
        yours, ours = fn(a, b), reference(a2, b2)
        ok &= _compare(f"{label} value (seed {seed})", yours.reshape(()), ours.reshape(()))
        yours.backward()
        ours.backward()
        for name, t, r in (("first input", a, a2), ("second input", b, b2)):
            if (t.grad is None) != (r.grad is None):
                print(f"✗ {label} gradient w.r.t. the {name}: "
                      f"{'missing' if t.grad is None else 'present, but should be blocked'}")
                ok = False
            elif t.grad is not None:
                ok &= _compare(f"{label} gradient w.r.t. the {name} (seed {seed})", t.grad,
                               r.grad)
    print("all good" if ok else "not yet: see the lines marked ✗")
    return bool(ok)


def check_simsiam_loss(fn: Callable) -> bool:
    """Your `fn(p, z)` against `sslkit.losses.simsiam_loss` (value, and no gradient into z)."""
    return _check_pair_loss(fn, losses.simsiam_loss, "simsiam_loss")


def check_byol_loss(fn: Callable) -> bool:
    """Your `fn(p, z)` against `sslkit.losses.byol_loss` (2 - 2 cos, mean over the batch)."""
    return _check_pair_loss(fn, losses.byol_loss, "byol_loss")


def check_variance_loss(fn: Callable) -> bool:
    """Your VICReg variance term `fn(z)` (one view) against sslkit's `variance_loss`."""
    return _check_pair_loss(lambda a, b: fn(a), lambda a, b: losses.variance_loss(a),
                            "variance_loss")


def check_covariance_loss(fn: Callable) -> bool:
    """Your VICReg covariance term `fn(z)` (one view) against sslkit's `covariance_loss`."""
    return _check_pair_loss(lambda a, b: fn(a), lambda a, b: losses.covariance_loss(a),
                            "covariance_loss")


def check_barlow_twins_loss(fn: Callable, lambd: float = 0.0051) -> bool:
    """Your `fn(z_a, z_b)` against `sslkit.losses.barlow_twins_loss` with the same lambda."""
    return _check_pair_loss(fn, lambda a, b: losses.barlow_twins_loss(a, b, lambd=lambd),
                            "barlow_twins_loss")


def check_cross_correlation(fn: Callable) -> bool:
    """Your `fn(z_a, z_b) -> (D, D)` cross-correlation matrix against sslkit's."""
    ok = True
    a, b = _inputs()
    ok &= _compare("cross-correlation matrix", fn(a, b), losses.cross_correlation(a, b))
    print("all good" if ok else "not yet: see the lines marked ✗")
    return bool(ok)


def check_aae_loss(fn: Callable, bootstrap_ratio: int = 4) -> bool:
    """Your bootstrapped L2 `fn(reconstruction, target)` against `sslkit.losses.aae_loss`.

    The reference is the paper's bootstrapped loss: per image, the mean of its largest
    1/bootstrap_ratio squared errors, then the mean over the batch.
    """
    return _check_pair_loss(
        fn, lambda a, b: losses.aae_loss(a, b, bootstrap_ratio=bootstrap_ratio),
        f"aae_loss (bootstrap_ratio={bootstrap_ratio})")
