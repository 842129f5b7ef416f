"""Backbones, the MLP head builder, DINO's head and the AAE decoder.

`build_backbone(name)` returns a module with `out_dim` whose forward maps (N, 3, H, W)
normalised images to (N, out_dim). CNNs also have `forward_stages` and `stage_dims`; the
ViT has `get_last_selfattention` and `attention_maps`.
"""

from __future__ import annotations

from torch import nn

from .decoder import ConvDecoder
from .heads import DINOHead, mlp
from .norm import NORMS, WSConv2d, check_norm, shuffled_dbn
from .resnet import ResNet, resnet18, resnet50
from .small_cnn import SmallCNN
from .vit import VisionTransformer, vit_micro, vit_tiny

VITS = {"vit_tiny": vit_tiny, "vit_micro": vit_micro}
BACKBONES = ("smallcnn", "resnet18", "resnet50", *VITS)


def build_backbone(name: str, *, norm: str = "bn", image_size: int = 32, **kwargs) -> nn.Module:
    """Build a backbone by name; extra keyword arguments go to its constructor.

    norm: "bn", "gn_ws" or "none" for the CNNs. The ViT always uses LayerNorm (no batch
        statistics either way), so `norm` is checked but not used for it.
    image_size: ResNets use the CIFAR stem up to 64 px and torchvision's ImageNet stem above
        (solo-learn's choice for STL-10's 96 px); the ViT learns its position embedding at
        this size.
    """
    check_norm(norm)
    if name == "smallcnn":
        return SmallCNN(norm=norm, **kwargs)
    if name in ("resnet18", "resnet50"):
        kwargs.setdefault("cifar_stem", image_size <= 64)
        return ResNet(int(name[len("resnet"):]), norm=norm, **kwargs)
    if name in VITS:
        return VITS[name](image_size=image_size, **kwargs)
    raise ValueError(f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)}")


__all__ = [
    "BACKBONES", "NORMS", "ConvDecoder", "DINOHead", "ResNet", "SmallCNN", "VisionTransformer",
    "WSConv2d", "build_backbone", "mlp", "resnet18", "resnet50", "shuffled_dbn", "vit_micro",
    "vit_tiny",
]
