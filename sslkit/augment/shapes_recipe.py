"""The "shapes" recipe: a joint-embedding method's own views, plus augmentations that redraw
the style factors of the embedded shapes data set.

Content and style (von Kuegelgen et al. 2021, arXiv 2106.04619, the Causal3DIdent data):
SSL with augmentations recovers what the two views share (content) and discards what the
augmentations change (style). On the shapes the class (the shape) should be the content and
the colours and the background the style. The photo recipes leave them in place: hue jitter
0.1 moves the object's and the background's hue by the same small amount, and no photo
augmentation changes a background texture. Each image then keeps its own colours and
background in both views, the network matches views by them, and the kNN by shape falls
below the untrained network's (issue 12; `sslkit.evaluate.factor_probes` shows the trained
VICReg reading the background hue better than the untrained one, the shape worse).

Like Causal3DIdent, which renders a second view with new style factors, each view of the
"shapes" recipe is repainted with new style factors, drawn as the generator draws them:

    recolour    with this probability (default 1.0) the object gets a new colour;
    background  with this probability (default 1.0) it is put on a new background (texture
                kind, hue, saturation, brightness, pattern);
    rotation    a rotation by U(-rotation, rotation) degrees about the centre, the corners
                repeating the border pixels (default 0: the data set is upright; with
                `load("shapes", rotation=True)` use 180 to make rotation style too).
    occlusion   with this probability (default 0) a textured rectangle is drawn over the
                view (`sslkit.data.shapes.occlude`).

The object is found in the image itself (every object is brighter than every background,
`sslkit.data.shapes.object_alpha`), so the recipe keeps the `recipe(x, generator)` contract
and needs no factors. Then comes the base recipe's view (crop, flip, ...) with the crop area
at `crop_scale` (default (0.9, 1)) and the photo colour ops (color_jitter, grayscale,
solarize) off: the repainting is the colour augmentation. SHAPES_DEFAULTS gives the measured
effect of each choice.

Build it with ``build_recipe("shapes", image_size, mean, std, base="vicreg", **overrides)``;
``recolour``, ``background``, ``rotation`` are overrides like the base's own (``crop_scale``,
``color_jitter``, ...). A run on the shapes picks it by itself (`TrainConfig.resolved`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as TF
from torch import Tensor

from sslkit.augment import batched as B
from sslkit.augment import functional as F

# Recipes a run on the shapes does not extend by itself: "aae" must keep the pose (what its
# code carries), so its style changes are asked for by name (base="aae": they then repaint
# the augmented input only, never the clean target); "none" is the no-augmentation baseline.
NOT_EXTENDED = ("aae", "none")


def shapes_recipe_for(base: str) -> bool:
    """Whether a run of a method whose recipe is `base` trains with the "shapes" recipe on
    the shapes data (every joint-embedding recipe does)."""
    from sslkit.augment.recipes import RECIPES

    return base in RECIPES and base not in NOT_EXTENDED
# Measured at the smoke size (benchmarks/README.md, issue 12): VICReg on the upright shapes,
# 300 steps, kNN 0.21 untrained -> 0.83 with these; crop_scale (0.5, 1) -> 0.61; the photo
# recipe's colour jitter, grayscale and solarize on top of a (0.5, 1) crop -> 0.18.
SHAPES_DEFAULTS = {"rotation": 0.0, "recolour": 1.0, "background": 1.0, "occlusion": 0.0,
                   "crop_scale": (0.9, 1.0), "color_jitter": 0.0, "grayscale": 0.0, "solarize": 0.0}


def rotate_border(x: Tensor, angle_deg: Tensor) -> Tensor:
    """Rotate float (N, 3, H, W) counter-clockwise by angle_deg (N,) about the centre; the
    corners repeat the border pixels (grid_sample padding "border") instead of black."""
    n, _, h, w = x.shape
    zeros = torch.zeros(n, 2, dtype=x.dtype, device=x.device)
    theta = F._affine_theta(-angle_deg.to(x.dtype), zeros, torch.ones_like(angle_deg, dtype=x.dtype), h, w)
    return TF.grid_sample(x, F._grid(theta, h, w), mode="bilinear", padding_mode="border",
                          align_corners=False)


class ShapesStyle:
    """The style changes of one view: rotation, then a new object colour and a new background,
    then an occluder (see the module docstring). Works on any batch of the shapes: the object
    is found by its brightness (`sslkit.data.shapes.object_alpha`), so no factors are needed."""

    def __init__(self, rotation: float, recolour: float, background: float, occlusion: float = 0.0):
        if rotation < 0 or not all(0 <= p <= 1 for p in (recolour, background, occlusion)):
            raise ValueError(f"need rotation >= 0 degrees and probabilities 0 <= recolour, "
                             f"background, occlusion <= 1; got rotation={rotation}, "
                             f"recolour={recolour}, background={background}, occlusion={occlusion}")
        self.rotation, self.recolour, self.background = float(rotation), float(recolour), float(background)
        self.occlusion = float(occlusion)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """uint8 (N, 3, H, W) -> uint8, every sample its own parameters."""
        from sslkit.data.shapes import object_alpha, occlude, random_backgrounds, random_foregrounds

        n, size = x.shape[0], x.shape[-1]
        rand = lambda: torch.rand(n, generator=generator, device=x.device)  # noqa: E731
        angle = (2 * rand() - 1) * self.rotation
        new_colour = (rand() < self.recolour)[:, None, None, None]
        new_background = (rand() < self.background)[:, None, None, None]
        colour, background = random_foregrounds(n, generator), random_backgrounds(n, size, generator)
        out = x.float().div_(255.0)
        if self.rotation > 0:
            out = rotate_border(out, angle)
        if self.recolour > 0 or self.background > 0:
            alpha = object_alpha(out)  # N x 1 x H x W
            # the object's own colour: the mean of the pixels it covers fully
            full = (alpha > 0.99).float()
            own = (out * full).sum(dim=(2, 3), keepdim=True) / full.sum(dim=(2, 3), keepdim=True).clamp_min(1)
            # the old background where it is kept: the image with the object removed is not
            # known, so a kept background keeps the pixels outside the object as they are
            fg = torch.where(new_colour, colour, own)
            out = torch.where(new_background, torch.lerp(background, fg, alpha),
                              torch.lerp(out, fg, alpha))
        if self.occlusion > 0:
            out = occlude(out, generator, self.occlusion)
        return out.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)

    def __repr__(self) -> str:
        return (f"ShapesStyle(rotation={self.rotation}, recolour={self.recolour}, "
                f"background={self.background}, occlusion={self.occlusion})")


class ShapesRecipe:
    """``recipe(x, generator) -> list[Tensor]``: per view, ShapesStyle then the base view (a
    view whose style is None, the AAE's clean target, is the base view alone)."""

    def __init__(self, base: str, styles: list[ShapesStyle | None], views: list, mean: Sequence[float],
                 std: Sequence[float]):
        from sslkit.augment.recipes import batched_view

        self.name = "shapes"
        self.base = base
        self.views = views
        self.styles = styles
        self.pipelines = [batched_view(spec, mean, std) for spec in views]

    def __len__(self) -> int:
        return len(self.views)

    def __call__(self, x: Tensor, generator: torch.Generator) -> list[Tensor]:
        B.check_images(x)
        B.check_generator(generator, x)
        return [pipeline(x if style is None else style(x, generator), generator)
                for style, pipeline in zip(self.styles, self.pipelines)]

    def __repr__(self) -> str:
        return f"ShapesRecipe(base={self.base!r}, {len(self)} views, {self.styles[0]!r})"


def build_shapes_recipe(image_size: int, mean: Sequence[float], std: Sequence[float], *,
                        base: str = "vicreg", **overrides) -> ShapesRecipe:
    """The "shapes" recipe on top of recipe `base` (a joint-embedding recipe, or "aae").

    overrides: `rotation` (degrees), `recolour`, `background`, `occlusion` (probabilities),
    and anything the base recipe takes (`crop_scale`, `color_jitter`, ...), applied to every
    view. DINO's local crops keep their own crop scale unless `local_crop_scale` is given.
    With base="aae" the style changes repaint the augmented input only: the target stays
    the clean image, as the augmented autoencoder needs (chapter 2).
    """
    from sslkit.augment.recipes import recipe_views

    if base == "aae":
        options = {**SHAPES_DEFAULTS, **overrides}
        style = ShapesStyle(*(options.pop(k) for k in ("rotation", "recolour", "background", "occlusion")))
        options.pop("crop_scale")  # the AAE recipe shifts and zooms; it does not crop
        return ShapesRecipe(base, [style, None], recipe_views("aae", image_size, **options), mean, std)
    if not shapes_recipe_for(base):
        from sslkit.augment.recipes import RECIPES

        valid = [r for r in RECIPES if shapes_recipe_for(r)]
        raise ValueError(f"the shapes recipe extends one of {', '.join(valid)}; got "
                         f"base={base!r} ({' and '.join(NOT_EXTENDED)} are not extended)")
    options = {**SHAPES_DEFAULTS, **overrides}
    style = ShapesStyle(*(options.pop(k) for k in ("rotation", "recolour", "background", "occlusion")))
    crop_scale = options.pop("crop_scale")
    views = recipe_views(base, image_size, **options)
    n_global = 2  # DINO's local views keep their small crops
    views = [replace(v, crop_scale=tuple(crop_scale)) if i < n_global and v.crop_scale is not None
             and crop_scale is not None else v for i, v in enumerate(views)]
    return ShapesRecipe(base, [style] * len(views), views, mean, std)
