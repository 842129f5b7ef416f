"""Frozen-backbone features for kNN, the linear probe and the collapse diagnostics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


@torch.no_grad()
def extract_features(backbone: nn.Module, images_uint8: torch.Tensor,
                     mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor,
                     *, batch_size: int = 512,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Backbone outputs (N, D) float32 of uint8 images (N, 3, H, W), on `device`.

    Each batch is moved to `device` (default: the backbone's) and normalised as
    (x / 255 - mean) / std, the evaluation transform (mean, std per channel in [0, 1] units).
    The backbone runs in eval mode (BatchNorm running statistics) without gradients; its
    train/eval mode is restored afterwards.
    """
    if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4:
        raise ValueError(f"expected uint8 (N, 3, H, W) images, got {images_uint8.dtype} "
                         f"{tuple(images_uint8.shape)}")
    if device is None:
        device = next(backbone.parameters()).device
    mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    was_training = backbone.training
    backbone.eval()
    try:
        features = []
        for start in range(0, len(images_uint8), batch_size):
            x = images_uint8[start:start + batch_size].to(device, non_blocking=True)
            x = (x.float() / 255.0 - mean) / std
            features.append(backbone(x).float())
    finally:
        backbone.train(was_training)
    return torch.cat(features)
