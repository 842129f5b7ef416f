"""A small CNN backbone fast enough to train SSL methods on a laptop CPU.

Four conv blocks (3x3 conv, norm, ReLU); blocks 2-4 downsample with stride 2, the spatial
layout of a CIFAR ResNet's four stages at a fraction of the cost: 0.39 M parameters, about
15 M multiply-adds per 32 px image (ResNet-18: 0.56 G). Strided convolutions rather than
max-pooling: on a 2-core CPU the max-pool variant ran at a third of the speed in
channels_last.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .norm import check_norm, conv_layer, norm_layer


class SmallCNN(nn.Module):
    """widths (32, 64, 128, 256): stage i outputs (N, widths[i], 32 / 2^i, 32 / 2^i) at 32 px.

    norm: "bn", "gn_ws" (GroupNorm + weight-standardised convs) or "none".
    """

    def __init__(self, *, norm: str = "bn", widths: Sequence[int] = (32, 64, 128, 256)):
        super().__init__()
        check_norm(norm)
        conv = conv_layer(norm)
        blocks = []
        in_channels = 3
        for i, width in enumerate(widths):
            blocks.append(nn.Sequential(
                # no conv bias when a norm follows: its mean subtraction would cancel it
                conv(in_channels, width, 3, stride=1 if i == 0 else 2, padding=1,
                     bias=norm == "none"),
                norm_layer(norm, width),
                nn.ReLU(inplace=True),
            ))
            in_channels = width
        self.stages = nn.ModuleList(blocks)
        self.stage_dims = tuple(widths)
        self.out_dim = self.stage_dims[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        stages = []
        for stage in self.stages:
            x = stage(x)
            stages.append(x)
        return stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[-1].mean(dim=(2, 3))  # global average pool: NxC
