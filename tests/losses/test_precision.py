"""Every loss a method calls runs in float32 (sslkit.losses._precision.in_float32)."""

import pytest
import torch

from sslkit import losses
from sslkit.losses._precision import in_float32

from .helpers import random_inputs

# every loss a method calls, and inputs in its argument layout
LOSSES = {
    "byol_loss": lambda z: losses.byol_loss(z[0], z[1]),
    "simsiam_loss": lambda z: losses.simsiam_loss(z[0], z[1]),
    "barlow_twins_loss": lambda z: losses.barlow_twins_loss(z[0], z[1]),
    "vicreg_loss": lambda z: losses.vicreg_loss(z[0], z[1]),
    "twist_loss": lambda z: losses.twist_loss(z[0], z[1]),
    "wmse_loss": lambda z: losses.wmse_loss(z[0], z[1], w_size=None),
    "corinfomax_loss": lambda z: losses.corinfomax_loss(
        z[0], z[1], losses.corinfomax_state(z[0].shape[1]))[0],
    "dino_loss": lambda z: losses.dino_loss(z[:3], z[:2], torch.zeros(1, z[0].shape[1])),
    "self_classifier_loss": lambda z: losses.self_classifier_loss(z[:2]),
    "siamese_ce_loss": lambda z: losses.siamese_ce_loss(z[:2]),
}


@pytest.mark.parametrize("name", LOSSES)
def test_under_bf16_autocast_a_loss_is_its_float32_value(name):
    """bf16 inputs under autocast give, to the bit, the loss of the same values in float32
    outside autocast: what the methods computed before, with `.float()` and autocast off."""
    z = [t.detach().to(torch.bfloat16) for t in random_inputs(k=3, n=32, d=8)]
    torch.manual_seed(0)  # W-MSE draws its sub-batches from the global generator
    expected = LOSSES[name]([t.float() for t in z])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(0)
        got = LOSSES[name](z)
    assert got.dtype == torch.float32
    assert torch.equal(got, expected)


def test_float64_and_float32_pass_unchanged():
    seen = []
    record = in_float32(lambda *args, **kwargs: seen.append((args, kwargs)))
    a = torch.ones(2, dtype=torch.float64)
    b = torch.ones(2, dtype=torch.float32)
    record(a, [b], key=b)
    (args, kwargs), = seen
    assert args[0] is a and args[1][0] is b and kwargs["key"] is b


def test_half_tensors_are_cast_inside_lists_tuples_and_named_tuples():
    seen = []
    record = in_float32(lambda *args: seen.append(args))
    h = torch.ones(2, dtype=torch.bfloat16)
    state = losses.corinfomax_state(2)._replace(mu_a=h)
    record([h, h], (h,), state)
    (lists, tuples, named), = seen
    assert [t.dtype for t in lists] == [torch.float32] * 2 and isinstance(tuples, tuple)
    assert type(named) is type(state) and named.mu_a.dtype == torch.float32
    assert named.R_a is state.R_a  # float64 state stays as it is


def test_the_decorated_loss_shows_its_own_source():
    import inspect

    source = inspect.getsource(losses.byol_loss)
    assert source.startswith("@in_float32\ndef byol_loss(")
