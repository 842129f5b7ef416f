"""The one MLP builder for projectors and predictors, and DINO's head.

Each method's head as its paper gives it (dims include the backbone's out_dim first):

- SimCLR (arXiv 2002.05709, Sec. 2.1): 2 layers, `mlp([d, 2048, 128])`, hidden BN in
  SimCLR v2 and the official code.
- BYOL (arXiv 2006.07733, Sec. 3.3): projector `mlp([d, 4096, 256])`; predictor the same
  shape, `mlp([256, 4096, 256])`.
- SimSiam (arXiv 2011.10566, Sec. 4): projector 3 layers with BN on the output, which has no
  affine parameters in the official builder: `mlp([d, 2048, 2048, 2048],
  last_norm="bn_noaffine")`; predictor bottleneck `mlp([2048, 512, 2048])`.
- Barlow Twins (arXiv 2103.03230, Sec. 2): `mlp([d, 8192, 8192, 8192], bias_last=False)`.
- VICReg (arXiv 2105.04906, Sec. 4.2): `mlp([d, 8192, 8192, 8192])`.
- DINO (arXiv 2104.14294, Sec. 3.1 and main_dino.py): 3 layers with 2048 hidden units and
  GELU, an l2-normalised 256-d bottleneck and a weight-normalised last layer to K outputs:
  `DINOHead(d, K)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .norm import GN_GROUPS

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def _norm1d(norm: str, dim: int) -> nn.Module:
    if norm == "bn":
        return nn.BatchNorm1d(dim)
    if norm == "bn_noaffine":
        return nn.BatchNorm1d(dim, affine=False)
    if norm == "gn":
        return nn.GroupNorm(GN_GROUPS, dim)
    raise ValueError(f"unknown norm {norm!r}; valid: bn, bn_noaffine, gn")


def mlp(dims: Sequence[int], *, norm: str = "bn", last_norm: str | None = None,
        bias_last: bool = True, activation: str = "relu") -> nn.Sequential:
    """Linear-Norm-Act for each hidden layer, then a last Linear (optionally followed by BN).

    dims: [in, hidden..., out]; len(dims) - 1 Linear layers.
    norm: "bn", "gn" (GroupNorm, GN_GROUPS = 16 groups: no batch statistics) or "none" for
        the hidden layers.
    last_norm: None, "bn" or "bn_noaffine" (SimSiam's projector output) after the last Linear.
    bias_last: bias of the last Linear; it is dropped when last_norm is set, since the BN's
        mean subtraction cancels it (the official SimSiam freezes it for the same reason).
    Hidden Linears have no bias when followed by BN, for the same reason.
    """
    if len(dims) < 2:
        raise ValueError(f"dims needs at least [in, out], got {list(dims)}")
    if norm not in ("bn", "gn", "none"):
        raise ValueError(f"unknown norm {norm!r}; valid: bn, gn, none")
    if last_norm not in (None, "bn", "bn_noaffine"):
        raise ValueError(f"unknown last_norm {last_norm!r}; valid: None, bn, bn_noaffine")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-2], dims[1:-1], strict=True):
        layers.append(nn.Linear(d_in, d_out, bias=norm != "bn"))
        if norm != "none":
            layers.append(_norm1d(norm, d_out))
        layers.append(_ACTIVATIONS[activation]())
    layers.append(nn.Linear(dims[-2], dims[-1], bias=bias_last and last_norm is None))
    if last_norm is not None:
        layers.append(_norm1d(last_norm, dims[-1]))
    return nn.Sequential(*layers)


class DINOHead(nn.Module):
    """DINO's projection head (DINOHead in dino/vision_transformer.py).

    MLP in_dim -> hidden_dim (x nlayers - 1, GELU, no BN by default) -> bottleneck_dim, then
    l2-normalisation, then a bias-free weight-normalised Linear to out_dim = K prototypes.
    norm_last_layer=True freezes the weight norm's magnitude g at 1, so the last layer is a
    cosine similarity to K unit vectors (the official default; it stabilises training).
    Weight norm via torch.nn.utils.parametrizations.weight_norm (the old nn.utils.weight_norm
    the official code calls is deprecated); g is `last_layer.parametrizations.weight.original0`.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 2048,
                 bottleneck_dim: int = 256, norm_last_layer: bool = True, *,
                 nlayers: int = 3, use_bn: bool = False):
        super().__init__()
        if nlayers < 1:
            raise ValueError(f"nlayers must be >= 1, got {nlayers}")
        dims = [in_dim] + [hidden_dim] * (nlayers - 1) + [bottleneck_dim]
        self.mlp = mlp(dims, norm="bn" if use_bn else "none", activation="gelu")
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.last_layer = nn.utils.parametrizations.weight_norm(
            nn.Linear(bottleneck_dim, out_dim, bias=False))
        magnitude = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            magnitude.fill_(1.0)
        magnitude.requires_grad = not norm_last_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(x), dim=-1)  # NxB on the unit sphere
        return self.last_layer(x)  # NxK
