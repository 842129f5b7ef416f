"""A small convolutional decoder, the second half of the augmented autoencoder (AAE).

Sundermeyer et al. 2018 (arXiv 1902.01275) pair a conv encoder with a mirrored decoder that
reconstructs the clean image from the code of an augmented one. Here any backbone is the
encoder and `ConvDecoder` maps its (N, D) code back to an image.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ConvDecoder(nn.Module):
    """(N, latent_dim) -> (N, 3, image_size, image_size), unbounded (no output activation).

    A Linear to a (width, 4, 4) map, then stride-2 transposed convs (BN, ReLU) doubling the
    side up to image_size, then a 3x3 conv to 3 channels. The output has no squashing so it
    can target normalised images (mean 0, std 1), the backbone's input space.
    """

    def __init__(self, latent_dim: int, image_size: int = 32, *,
                 widths: tuple[int, ...] = (128, 64, 32, 32)):
        super().__init__()
        num_up = math.log2(image_size / 4)
        if image_size < 8 or num_up != int(num_up):
            raise ValueError(f"image_size must be 4 * 2^k with k >= 1, got {image_size}")
        num_up = int(num_up)
        widths = tuple(widths[: num_up + 1]) + (widths[-1],) * max(0, num_up + 1 - len(widths))
        self.image_size = image_size
        self.fc = nn.Linear(latent_dim, widths[0] * 4 * 4)
        layers: list[nn.Module] = [nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(widths[-1], 3, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.widths = widths

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], self.widths[0], 4, 4)  # Nx(C*16) -> NxCx4x4
        return self.net(x)
