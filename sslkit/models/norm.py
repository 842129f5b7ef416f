"""Normalisation choices shared by the CNN backbones: BatchNorm, GroupNorm + WS, or none.

`norm="gn_ws"` is the batch-independent variant of Richemond et al. 2020, "BYOL works even
without batch statistics" (arXiv 2010.10241): every BatchNorm becomes a GroupNorm and every
convolution standardises its weights (Qiao et al. 2019, arXiv 1903.10520) in its forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("bn", "gn_ws", "none")
GN_GROUPS = 16  # channels per group: 2 in the SmallCNN stem (32 ch), 4 in ResNet's (64 ch)


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")


class WSConv2d(nn.Conv2d):
    """Conv2d whose weight is standardised per output channel in every forward.

    W_hat[o] = (W[o] - mean(W[o])) / sqrt(var(W[o]) + eps), mean and (biased) variance taken
    over the fan-in (in_channels x kh x kw). The stored parameter stays unstandardised, so
    the optimiser and an EMA target see the raw weights.
    """

    def __init__(self, *args, eps: float = 1e-5, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps = eps

    def standardized_weight(self) -> torch.Tensor:
        var, mean = torch.var_mean(self.weight, dim=(1, 2, 3), keepdim=True, unbiased=False)
        return (self.weight - mean) * torch.rsqrt(var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


def norm_layer(norm: str, channels: int) -> nn.Module:
    """The normalisation after a convolution: BatchNorm2d, GroupNorm (for gn_ws) or Identity."""
    check_norm(norm)
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "gn_ws":
        return nn.GroupNorm(GN_GROUPS, channels)
    return nn.Identity()


def conv_layer(norm: str) -> type[nn.Conv2d]:
    """The convolution class that goes with `norm`: WSConv2d for gn_ws, else nn.Conv2d."""
    check_norm(norm)
    return WSConv2d if norm == "gn_ws" else nn.Conv2d


def standardize_convs(module: nn.Module) -> nn.Module:
    """Replace every nn.Conv2d inside `module` by a WSConv2d holding the same parameters.

    Used on torchvision's ResNet, whose conv3x3/conv1x1 helpers build nn.Conv2d directly.
    """
    for name, child in module.named_children():
        if type(child) is nn.Conv2d:
            ws = WSConv2d(child.in_channels, child.out_channels, child.kernel_size,
                          stride=child.stride, padding=child.padding, dilation=child.dilation,
                          groups=child.groups, bias=child.bias is not None,
                          padding_mode=child.padding_mode)
            ws.load_state_dict(child.state_dict())
            setattr(module, name, ws)
        else:
            standardize_convs(child)
    return module
