"""Normalisation choices shared by the CNN backbones: BatchNorm, GroupNorm + WS, or none.

`norm="gn_ws"` is the batch-independent variant of Richemond et al. 2020, "BYOL works even
without batch statistics" (arXiv 2010.10241): every BatchNorm becomes a GroupNorm and every
convolution standardises its weights (Qiao et al. 2019, arXiv 1903.10520) in its forward.
"""

from __future__ import annotations

import math

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


def shuffled_dbn(z: torch.Tensor, num_groups: int | None = None, *,
                 generator: torch.Generator | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Shuffled decorrelated batch normalisation (Shuffled-DBN) of a batch z: (N, D) -> (N, D).

    Hua et al. 2021, "On Feature Decorrelation in Self-Supervised Learning", ICCV 2021,
    arXiv:2105.00470; official code PatrickHua/FeatureDecorrelationSSL,
    models/utils/shuffled_group_whitening.py (`ShuffledGroupWhitening.forward`) and the
    paper's pseudo-code (models/utils/pseudo_code_for_paper.py, `ShuffledDBN`).

    The D dimensions are put in a random order, split into G groups of D/G, and each group
    is centred and ZCA-whitened over the batch, x_g <- x_g U S^(-1/2) U^T with
    U S U^T = cov(x_g) (biased, / N, as the official code); then the order is restored.
    Within a group the output has identity covariance; a new permutation at every call
    decorrelates, over training, every pair of dimensions, at the cost of D/G x D/G
    eigendecompositions instead of one D x D. G defaults to the official automatic choice,
    ceil(2D / N): groups of about N/2 dimensions, so that each covariance is well estimated.

    Deviation: `eps` is added to the eigenvalues before the inverse square root (the
    official code takes rsqrt of the raw eigenvalues, which fails on a rank-deficient
    group).
    """
    if z.dim() != 2:
        raise ValueError(f"shuffled_dbn expects z of shape (N, D), got {tuple(z.shape)}")
    n, d = z.shape
    groups = num_groups or math.ceil(2 * d / n)
    if d % groups:
        raise ValueError(f"D = {d} dimensions do not split into {groups} groups; choose "
                         f"num_groups among the divisors of {d}")
    if d // groups >= n:
        raise ValueError(f"groups of {d // groups} dimensions need more than {n} samples to "
                         f"whiten; raise num_groups or the batch size")
    order = torch.randperm(d, generator=generator, device=generator.device if generator
                           else "cpu").to(z.device)
    x = z[:, order].reshape(n, groups, d // groups)                  # N x G x D/G
    x = (x - x.mean(dim=0, keepdim=True)).transpose(0, 1)             # G x N x D/G
    covs = x.transpose(1, 2) @ x / n                                  # G x D/G x D/G
    eigenvalues, eigenvectors = torch.linalg.eigh(covs)
    whitening = eigenvectors @ torch.diag_embed((eigenvalues + eps).rsqrt()) \
        @ eigenvectors.transpose(1, 2)
    x = (x @ whitening).transpose(0, 1).reshape(n, d)                 # N x D, shuffled
    return x[:, torch.argsort(order)]
