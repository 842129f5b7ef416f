"""A small Vision Transformer for 32 px images (Dosovitskiy et al. 2021, arXiv 2010.11929).

Follows DINO's vision_transformer.py (facebookresearch/dino): pre-norm blocks, a [CLS] token,
a learned position embedding interpolated bicubically for other image sizes (DINO's 16 px
local crops), `get_last_selfattention` for the attention maps of Caron et al. 2021
(arXiv 2104.14294, Fig. 1). Patch size 4 at 32 px gives 8x8 = 64 patch tokens + [CLS].

Deviation from DINO: the interpolation asks for the target grid size directly
(`size=(h, w)`) instead of DINO's `scale_factor` with its +0.1 work-around for rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        n, t, c = x.shape
        # NxTx3C -> 3xNxheadsxTx(C/heads)
        q, k, v = self.qkv(x).reshape(n, t, 3, self.num_heads, c // self.num_heads).permute(
            2, 0, 3, 1, 4)
        if return_attention:  # the explicit softmax(q k^T / sqrt(d)) the maps are read from
            return (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)
        x = F.scaled_dot_product_attention(q, k, v)  # same result, fused kernel
        return self.proj(x.transpose(1, 2).reshape(n, t, c))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0,
                 drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = drop_path

    def _drop_path(self, x: torch.Tensor) -> torch.Tensor:
        """Stochastic depth: drop the residual branch of whole samples while training."""
        if not self.training or self.drop_path == 0.0:
            return x
        keep = 1.0 - self.drop_path
        mask = x.new_empty(x.shape[0], 1, 1).bernoulli_(keep)
        return x * mask / keep

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> torch.Tensor:
        if return_attention:
            return self.attn(self.norm1(x), return_attention=True)
        x = x + self._drop_path(self.attn(self.norm1(x)))
        return x + self._drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """ViT with a [CLS] token; `forward(x)` is the [CLS] output after the final LayerNorm.

    image_size: the size the position embedding is learned at; other sizes (multiples of
    patch_size) are served by interpolating it.
    """

    def __init__(self, *, image_size: int = 32, patch_size: int = 4, dim: int = 192,
                 depth: int = 12, num_heads: int = 3, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch {patch_size}")
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid**2, dim))
        rates = torch.linspace(0, drop_path_rate, depth).tolist()  # DINO's linear decay rule
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio, r) for r in rates)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.out_dim = dim
        self.num_heads = num_heads

        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def interpolate_pos_encoding(self, h: int, w: int) -> torch.Tensor:
        """Position embedding (1, 1 + h*w, D) for an h x w patch grid; [CLS]'s is kept."""
        if (h, w) == (self.grid, self.grid):
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        dim = patch_pos.shape[-1]
        patch_pos = patch_pos.reshape(1, self.grid, self.grid, dim).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat((cls_pos, patch_pos.flatten(2).transpose(1, 2)), dim=1)

    def prepare_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Nx3xHxW -> Nx(1 + HW/p^2)xD: patch embedding, [CLS] prepended, positions added."""
        n, _, height, width = x.shape
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(f"image {height}x{width} is not a multiple of patch {self.patch_size}")
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # NxTxD
        x = torch.cat((self.cls_token.expand(n, -1, -1), x), dim=1)
        return x + self.interpolate_pos_encoding(height // self.patch_size,
                                                 width // self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_tokens(x)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]

    def get_last_selfattention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of the last block: (N, heads, T, T), T = 1 + number of patches."""
        x = self.prepare_tokens(x)
        for block in self.blocks[:-1]:
            x = block(x)
        return self.blocks[-1](x, return_attention=True)

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """[CLS]-to-patch attention of the last block as images: (N, heads, H/p, W/p)."""
        attn = self.get_last_selfattention(x)
        n, heads = attn.shape[:2]
        return attn[:, :, 0, 1:].reshape(n, heads, x.shape[-2] // self.patch_size,
                                         x.shape[-1] // self.patch_size)


def vit_tiny(*, image_size: int = 32, patch_size: int = 4, **kwargs) -> VisionTransformer:
    """ViT-Tiny (dim 192, depth 12, 3 heads, DINO's vit_tiny) with 4 px patches; keyword
    arguments (dim, depth, num_heads, ...) override the preset."""
    return VisionTransformer(**{"image_size": image_size, "patch_size": patch_size, "dim": 192,
                                "num_heads": 3, **kwargs})


def vit_micro(*, image_size: int = 32, patch_size: int = 4, **kwargs) -> VisionTransformer:
    """The course's CPU-sized ViT (not in DINO's code): dim 96, depth 4, 3 heads, 4 px patches;
    0.46 M parameters (ViT-Tiny: 5.4 M), a tenth of its cost per image. Chapter 7 trains it with DINO
    on the shapes in minutes (benchmarks/README.md, "DINO ViT attention on the shapes")."""
    return VisionTransformer(**{"image_size": image_size, "patch_size": patch_size, "dim": 96,
                                "depth": 4, "num_heads": 3, **kwargs})


def attention_masks(maps: torch.Tensor, patch_size: int, fraction: float = 0.6) -> torch.Tensor:
    """Per map, the patches that hold the top `fraction` of its attention mass, as pixels:
    (N, heads, h, w) maps of a ViT with `patch_size` px patches -> (N, heads, h*p, w*p) bool.

    Official visualize_attention.py (facebookresearch/dino, `--threshold 0.6`): sort each
    map's values, normalise them to sum 1, keep the patches where the cumulative sum of the
    sorted values exceeds 1 - fraction, upsample by the patch size (nearest)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction is the share of attention mass kept, in (0, 1]; got {fraction}")
    flat = maps.flatten(-2)  # N x heads x hw
    values, order = flat.sort(dim=-1)
    values = values / values.sum(dim=-1, keepdim=True)
    keep_sorted = values.cumsum(dim=-1) > 1 - fraction
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted).reshape(maps.shape)
    return keep.repeat_interleave(patch_size, dim=-2).repeat_interleave(patch_size, dim=-1)


def attention_iou(backbone: VisionTransformer, x: torch.Tensor, masks: torch.Tensor, *,
                  fraction: float = 0.6, batch_size: int = 256) -> torch.Tensor:
    """IoU (Jaccard) of each head's [CLS] attention in the last block, thresholded to keep
    `fraction` of its mass (`attention_masks`), with the object masks: x (N, 3, H, W)
    normalised images, masks (N, H, W) bool -> (N, heads). The measure of Caron et al. 2021
    (Fig. 4, Table 7 "Jacc."), there against PASCAL VOC12 segmentations."""
    if masks.shape != (x.shape[0], *x.shape[-2:]) or masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool (N, H, W) = ({x.shape[0]}, {x.shape[-2]}, "
                         f"{x.shape[-1]}); got {masks.dtype} {tuple(masks.shape)} (threshold a "
                         f"coverage mask, e.g. object_masks(data) > 0.5)")
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            maps = backbone.attention_maps(x[start:start + batch_size])
            keep = attention_masks(maps, backbone.patch_size, fraction)
            target = masks[start:start + batch_size, None]  # N x 1 x H x W
            inter = (keep & target).flatten(-2).sum(-1).float()
            union = (keep | target).flatten(-2).sum(-1).float()
            out.append(inter / union)
    return torch.cat(out)
