"""The "scan" recipe: two views of a slice of a 3D scan, the second one possibly its neighbour.

For a scan (CT, MRI), a second view can come from the data rather than from a distortion:
the neighbouring slice shows the same anatomy, slightly moved and reshaped. The recipe reads
the stacks of `sslkit.data.scan_neighbour_stacks`, whose three channels are a slice (red)
and its two neighbours (green, blue), and returns per sample

    view 1  the slice;
    view 2  with probability `neighbour` (default 1.0) one of its two neighbours, the one
            above or below at random; otherwise the slice itself;

each as a grayscale image (the slice repeated in the three channels), followed by the views
of a `base` recipe (sslkit.augment.recipes; "none" by default: the whole slice, nothing
else) with its overrides. So `neighbour=1, base="none"` trains on neighbouring slices alone,
and `neighbour=0, base="vicreg"` is the ordinary recipe on single slices (crop, flip, colour
jitter, ... of one slice), on the very same images. Colour jitter acts on a grey image as
brightness and contrast only; saturation, hue and grayscale change nothing.

Build it with ``build_recipe("scan", image_size, mean, std, neighbour=1.0, base="none",
**overrides)``. The training loop's kNN evaluates whatever images the run is given (the
stacks, three slices per image); to probe single slices, extract features of
`make_scan_slices`' images with the run's mean and std.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sslkit.augment import batched as B


class ScanRecipe:
    """``recipe(x, generator) -> list[Tensor]``: unpack a slice and its partner (see the
    module docstring), then the base recipe's two views."""

    def __init__(self, neighbour: float, base: str, views: list, mean: Sequence[float],
                 std: Sequence[float]):
        from sslkit.augment.recipes import batched_view

        if not 0 <= neighbour <= 1:
            raise ValueError(f"neighbour is the probability that the second view is a "
                             f"neighbouring slice, in [0, 1]; got {neighbour}")
        if len(views) != 2:
            raise ValueError(f"the scan recipe makes two views (a slice and its partner); "
                             f"base recipe {base!r} has {len(views)}")
        self.name = "scan"
        self.neighbour, self.base, self.views = float(neighbour), base, views
        self.pipelines = [batched_view(spec, mean, std) for spec in views]

    def __len__(self) -> int:
        return 2

    def __call__(self, x: Tensor, generator: torch.Generator) -> list[Tensor]:
        B.check_images(x)
        B.check_generator(generator, x)
        n = x.shape[0]
        u = torch.rand(2, n, generator=generator, device=x.device)
        side = 1 + (u[0] < 0.5).long()  # channel 1: the slice below, 2: the one above
        channel = torch.where(u[1] < self.neighbour, side, torch.zeros_like(side))
        partner = x.gather(1, channel.view(n, 1, 1, 1).expand(-1, 1, *x.shape[-2:]))
        grey = [x[:, :1], partner]  # N x 1 x H x W each
        return [pipeline(v.expand(-1, 3, -1, -1).contiguous(), generator)
                for v, pipeline in zip(grey, self.pipelines)]

    def __repr__(self) -> str:
        return f"ScanRecipe(neighbour={self.neighbour}, base={self.base!r})"


def build_scan_recipe(image_size: int, mean: Sequence[float], std: Sequence[float], *,
                      neighbour: float = 1.0, base: str = "none", **overrides) -> ScanRecipe:
    """The "scan" recipe: a slice and (with probability `neighbour`) a neighbouring slice,
    then recipe `base`'s two views with `overrides` (`crop_scale`, `blur`, `view_size`, ...:
    what sslkit.augment.recipe_views takes)."""
    from sslkit.augment.recipes import recipe_views

    return ScanRecipe(neighbour, base, recipe_views(base, image_size, **overrides), mean, std)
