"""What every method module returns to the training loop, and how it is registered."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import torch


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


def full_precision(t: torch.Tensor):
    """Context that turns autocast off: batch statistics (covariances, whitening, log-dets)
    lose too much in bf16, so losses run in float32 while the backbone runs in bf16."""
    return torch.autocast(t.device.type, enabled=False)
