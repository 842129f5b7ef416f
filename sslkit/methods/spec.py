"""What every method module returns to the training loop, how it is registered, and two
helpers the forwards share (`mean_terms`, `global_batch`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from sslkit.distributed import gather_with_grad


@dataclass
class StepOutput:
    """One training step's result.

    loss: scalar tensor the loop backpropagates.
    terms: named, detached scalar tensors (what the book plots: invariance, variance, ...).
    embedding: detached (N, D) output read by the collapse diagnostics (std of the
        l2-normalised embedding, effective rank).
    """

    loss: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    embedding: torch.Tensor | None = None


@dataclass(frozen=True)
class MethodSpec:
    """How the CLI and the loop find a method.

    config: the method's @dataclass of hyper-parameters.
    module: the nn.Module class, built as module(backbone, config).
    train_defaults: per profile ("smoke", "cpu", "gpu"), the TrainConfig fields this method
        changes (optimiser, lr, batch size, weight decay, backbone, ...).
    paper: short citation shown by `python -m sslkit list`.
    """

    config: type
    module: Callable[..., torch.nn.Module]
    train_defaults: dict[str, dict[str, Any]]
    paper: str

    def make_config(self, **values: Any):
        """`config(**values)`; a key it does not have is refused with the valid ones listed."""
        valid = [f.name for f in dataclasses.fields(self.config)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            from sslkit.train.config import TrainConfig  # late: train imports the methods
            train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
            hint = [k for k in unknown if k in train_fields]
            note = (f" ({', '.join(hint)}: a run setting, a TrainConfig field, not a method "
                    f"hyper-parameter; give it as TrainConfig({hint[0]}=...) or its own "
                    f"command-line flag)" if hint else "")
            raise ValueError(
                f"{self.config.__name__} has no {', '.join(repr(k) for k in unknown)}"
                f"{note}. Valid method keys (--set KEY=VALUE, method_args): "
                f"{', '.join(valid)}")
        return self.config(**values)


def mean_terms(*terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Key by key, the mean of several losses' terms (the two directions of a symmetric loss)."""
    return {k: sum(t[k] for t in terms) / len(terms) for k in terms[0]}


def global_batch(*z: torch.Tensor, gather: bool) -> tuple[torch.Tensor, ...]:
    """The rows of every process's batch, concatenated, when `gather` is on; `z` otherwise.

    For losses with batch statistics (a cross-correlation, a covariance, a whitening): with
    `gather`, each process computes them on the global batch, as one process would, and the
    gradient flows back to its own rows (`sslkit.distributed.gather_with_grad`). In one
    process it returns `z` either way.
    """
    return tuple(gather_with_grad(t) for t in z) if gather else z
