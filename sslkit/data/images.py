"""ImageData: a whole data set held in memory as one uint8 tensor.

Everything the course trains on fits in memory (CIFAR-10 is 150 MB as uint8), so the
training loop indexes a batch, moves it to the device and augments it there; there is no
DataLoader and no per-image Python work (ARCHITECTURE.md, "Data").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

Index = torch.Tensor | slice | Sequence[int]


@dataclass(eq=False)
class ImageData:
    """A labelled image data set in memory.

    images: (N, 3, H, W) uint8, channels first, H == W.
    labels: (N,) int64 in [0, len(classes)); -1 marks an unlabelled image (STL-10 "unlabeled").
    classes: class names; labels index into it.
    name: short name shown in logs and plots ("shapes", "cifar10", ...).
    factors: ground-truth nuisance factors of the synthetic data, each an (N,) tensor
        (`hue`, `rotation`, ...; see sslkit.data.shapes); empty for real data.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str
    factors: dict[str, torch.Tensor] = field(default_factory=dict)
    _mean_std: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_images(self.images)
        _check_labels(self.labels, len(self.images), self.classes)
        for key, value in self.factors.items():
            if not isinstance(value, torch.Tensor) or value.shape != (len(self.images),):
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(
                    f"factor {key!r} must be a ({len(self.images)},) tensor, one value per "
                    f"image; got {got}"
                )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        factors = f", factors={sorted(self.factors)}" if self.factors else ""
        return f"ImageData({self.name!r}, {n} images of {h}x{w}, {len(self.classes)} classes{factors})"

    @property
    def image_size(self) -> int:
        """Side length H (= W) in pixels."""
        return self.images.shape[-1]

    def subset(self, index: Index) -> ImageData:
        """The images (and labels, factors) at `index`: an index tensor, a boolean mask, a
        slice or a list of ints. A slice shares memory with this data set."""
        if not isinstance(index, (torch.Tensor, slice)):
            index = torch.as_tensor(index, dtype=torch.long)
        return ImageData(
            images=self.images[index],
            labels=self.labels[index],
            classes=list(self.classes),
            name=self.name,
            factors={key: value[index] for key, value in self.factors.items()},
        )

    def mean_std(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """Per-channel mean and standard deviation of the pixels, in [0, 1] (the numbers a
        normalisation transform needs). Computed once, in chunks, in float64."""
        if self._mean_std is None:
            total = torch.zeros(3, dtype=torch.float64)
            total_sq = torch.zeros(3, dtype=torch.float64)
            for chunk in self.images.split(4096):
                x = chunk.to(torch.float64) / 255.0  # n x 3 x H x W
                total += x.sum(dim=(0, 2, 3))
                total_sq += x.square().sum(dim=(0, 2, 3))
            count = self.images.numel() / 3
            mean = total / count
            std = (total_sq / count - mean.square()).clamp_min(0.0).sqrt()
            self._mean_std = (tuple(mean.tolist()), tuple(std.tolist()))
        return self._mean_std


def _check_images(images: object) -> None:
    if not isinstance(images, torch.Tensor):
        fix = "torch.from_numpy(x).permute(0, 3, 1, 2)" if hasattr(images, "shape") else "torch.stack"
        raise ValueError(
            f"images must be a uint8 torch.Tensor of shape (N, 3, H, W); got "
            f"{type(images).__name__}: convert with {fix}"
        )
    shape = tuple(images.shape)
    fixes = []
    channels_last = images.ndim == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3)
    if channels_last:
        fixes.append("permute to channels-first with x.permute(0, 3, 1, 2)")
    elif images.ndim == 4 and shape[1] == 1:
        fixes.append("repeat grayscale to 3 channels with x.expand(-1, 3, -1, -1)")
    elif images.ndim == 4 and shape[1] == 4:
        fixes.append("drop the alpha channel with x[:, :3]")
    elif images.ndim == 3:
        fixes.append("add the batch dimension with x.unsqueeze(0)")
    if images.dtype.is_floating_point:
        fixes.append("convert [0, 1] floats with (x*255).round().to(torch.uint8)")
    elif images.dtype != torch.uint8:
        fixes.append("convert with x.clamp(0, 255).to(torch.uint8)")
    bad_shape = images.ndim != 4 or shape[1] != 3
    if fixes or bad_shape:
        raise ValueError(
            f"images must be uint8 (N, 3, H, W); got {str(images.dtype).removeprefix('torch.')} "
            f"{shape}" + (": " + " and ".join(fixes) if fixes else "")
        )
    if shape[2] != shape[3]:
        raise ValueError(
            f"images must be square (the augmentation recipes take one image_size); got "
            f"{shape[2]}x{shape[3]}: centre-crop or resize them to a common square size"
        )


def _check_labels(labels: object, n: int, classes: list[str]) -> None:
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.ndim != 1:
        got = (
            f"{str(labels.dtype).removeprefix('torch.')} {tuple(labels.shape)}"
            if isinstance(labels, torch.Tensor) else type(labels).__name__
        )
        raise ValueError(
            f"labels must be an int64 tensor of shape (N,); got {got}: convert with "
            f"torch.as_tensor(labels, dtype=torch.long).flatten()"
        )
    if len(labels) != n:
        raise ValueError(
            f"labels has {len(labels)} entries for {n} images: give one label per image"
        )
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"classes must be a list of class names (str); got {classes!r}")
    if n and (labels.min() < -1 or labels.max() >= len(classes)):
        raise ValueError(
            f"labels must lie in [0, {len(classes)}) (one per class name; -1 = unlabelled); got "
            f"values in [{labels.min().item()}, {labels.max().item()}] with {len(classes)} classes"
        )
