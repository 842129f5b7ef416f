"""CIFAR ResNet-18 / ResNet-50 (He et al. 2016, arXiv 1512.03385) as SSL backbones.

torchvision's ResNet with the CIFAR stem used by solo-learn and lightly for 32 px images: a
3x3 stride-1 first convolution and no max-pool, so layer1 runs at full resolution. The
classifier `fc` is removed: `forward` returns the (N, 512) or (N, 2048) pooled feature.
"""

from __future__ import annotations

from functools import partial

import torch
import torchvision
from torch import nn

from .norm import check_norm, norm_layer, standardize_convs

_BUILDERS = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}


class ResNet(nn.Module):
    """ResNet-18/50 trunk without `fc`; `norm` is "bn", "gn_ws" or "none" (see models.norm).

    cifar_stem: 3x3 stride-1 conv1 and no max-pool (32-64 px inputs); False keeps
    torchvision's 7x7 stride-2 conv1 + max-pool (96 px STL-10, 224 px ImageNet).
    zero_init_residual: torchvision's option (last norm of each residual branch starts at 0).
    """

    def __init__(self, depth: int = 18, *, norm: str = "bn", cifar_stem: bool = True,
                 zero_init_residual: bool = False):
        super().__init__()
        check_norm(norm)
        if depth not in _BUILDERS:
            raise ValueError(f"depth must be one of {sorted(_BUILDERS)}, got {depth}")
        if zero_init_residual and norm == "none":
            raise ValueError("zero_init_residual needs a norm layer with a weight")
        net = _BUILDERS[depth](weights=None, norm_layer=partial(norm_layer, norm),
                               zero_init_residual=zero_init_residual)
        if cifar_stem:
            net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
            net.maxpool = nn.Identity()
        if norm == "gn_ws":
            standardize_convs(net)
        # torchvision's attribute names, so its state_dict keys (less fc.*) still apply
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1, net.layer2, net.layer3, net.layer4)
        expansion = 1 if depth == 18 else 4
        self.stage_dims = tuple(c * expansion for c in (64, 128, 256, 512))
        self.out_dim = self.stage_dims[-1]

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four stages' outputs: (N, C_i, H / 2^i, W / 2^i) for i = 0..3 (CIFAR stem)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stages = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            stages.append(x)
        return stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[-1].mean(dim=(2, 3))  # global average pool: NxC


def resnet18(*, norm: str = "bn", **kwargs) -> ResNet:
    return ResNet(18, norm=norm, **kwargs)


def resnet50(*, norm: str = "bn", **kwargs) -> ResNet:
    return ResNet(50, norm=norm, **kwargs)
