"""Every loss runs in float32, whatever precision the networks ran in."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import torch
from torch import Tensor

Loss = TypeVar("Loss", bound=Callable[..., Any])

_HALF = (torch.bfloat16, torch.float16)


def _to_float32(x: Any) -> Any:
    """x with every bf16/fp16 tensor in it (also inside lists and tuples) cast to float32."""
    if isinstance(x, Tensor):
        return x.float() if x.dtype in _HALF else x
    if isinstance(x, (list, tuple)):
        items = [_to_float32(v) for v in x]
        if hasattr(x, "_fields"):  # a NamedTuple, e.g. CorInfoMaxState
            return type(x)(*items)
        return type(x)(items)
    return x


def _first_tensor(values) -> Tensor | None:
    for v in values:
        if isinstance(v, Tensor):
            return v
        if isinstance(v, (list, tuple)) and (t := _first_tensor(v)) is not None:
            return t
    return None


def in_float32(loss: Loss) -> Loss:
    """Decorator: `loss` runs with autocast off, on bf16/fp16 tensor arguments cast to float32.

    The training loop runs a method's networks under bf16 autocast on CUDA; batch statistics
    (covariances, whitening, log-dets, softmaxes over the batch) lose too much in bf16, so
    every loss computes in float32. float32 and float64 arguments pass unchanged, so outside
    autocast a decorated loss is the plain function.
    """
    @functools.wraps(loss)
    def wrapped(*args, **kwargs):
        args, kwargs = _to_float32(args), {k: _to_float32(v) for k, v in kwargs.items()}
        t = _first_tensor([*args, *kwargs.values()])
        if t is None:
            return loss(*args, **kwargs)  # no tensor: the loss's own checks will say so
        with torch.autocast(t.device.type, enabled=False):
            return loss(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
