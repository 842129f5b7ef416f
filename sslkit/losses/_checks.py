"""Input checks shared by the loss functions.

A loss fed the wrong shapes either fails deep inside a matmul or, worse, broadcasts and
returns a number. These checks fail early instead, with a message that names the function,
says what was wrong and how to fix it. Each check takes `fn`, the name of the calling
function, so the message points at the call the user wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_matrix(fn: str, name: str, x: Tensor) -> None:
    """Raise unless `x` is a floating-point tensor of shape (N, D)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn} expects {name} to be a torch.Tensor of shape (N, D); "
                        f"got {type(x).__name__}.")
    if x.dim() != 2:
        if x.dim() < 2:
            hint = "stack the samples of a batch into one (N, D) tensor"
        else:
            hint = f"flatten the feature dimensions first, e.g. {name}.flatten(1)"
        raise ValueError(f"{fn} expects {name} of shape (N, D); got a {x.dim()}-D tensor "
                         f"of shape {tuple(x.shape)}. Fix: {hint}.")
    if not torch.is_floating_point(x):
        raise TypeError(f"{fn} expects {name} to be a floating-point tensor; got {x.dtype}. "
                        f"Fix: cast it, e.g. {name}.float().")


def check_same_shape(fn: str, name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Raise unless `a` and `b` have the same shape (both views of one batch, one head)."""
    if a.shape != b.shape:
        raise ValueError(f"{fn} expects {name_a} and {name_b} of the same shape (N, D); got "
                         f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)}. Both must "
                         f"hold the same N samples and come from heads with the same output "
                         f"size D.")


def check_batch_size(fn: str, name: str, x: Tensor, *, min_n: int, why: str,
                     paper_batch: int | None = None) -> None:
    """Raise unless `x` has at least `min_n` rows; `why` says what the batch is needed for."""
    n = x.shape[0]
    if n < min_n:
        paper = f" (the paper uses {paper_batch})" if paper_batch else ""
        raise ValueError(f"{fn} needs at least {min_n} samples per batch {why}; got N={n} "
                         f"in {name}. Use a batch size >= {min_n}{paper}.")


def check_pair(fn: str, a: Tensor, b: Tensor, *, names: tuple[str, str] = ("z_a", "z_b"),
               min_n: int = 1, why: str = "", paper_batch: int | None = None) -> None:
    """The usual two-view check: both (N, D), floating point, same shape, N >= `min_n`."""
    check_matrix(fn, names[0], a)
    check_matrix(fn, names[1], b)
    check_same_shape(fn, names[0], a, names[1], b)
    if min_n > 1:
        check_batch_size(fn, names[0], a, min_n=min_n, why=why, paper_batch=paper_batch)


def check_views(fn: str, name: str, views: Sequence[Tensor], *, min_views: int = 1) -> None:
    """Raise unless `views` is a list of at least `min_views` tensors, all (N, K), one shape."""
    if isinstance(views, Tensor) or not isinstance(views, Sequence):
        raise TypeError(f"{fn} expects {name} to be a list of (N, K) tensors, one per view; "
                        f"got {type(views).__name__}. Fix: if you hold the views concatenated "
                        f"as one (V*N, K) tensor, pass list(t.chunk(V)).")
    if len(views) < min_views:
        raise ValueError(f"{fn} expects at least {min_views} view(s) in {name}; "
                         f"got {len(views)}.")
    for i, v in enumerate(views):
        check_matrix(fn, f"{name}[{i}]", v)
        check_same_shape(fn, f"{name}[0]", views[0], f"{name}[{i}]", v)
