"""Per-view augmentation recipes of the joint-embedding methods, batched and per-image.

A recipe is written per view, with the official code's asymmetry, as ``ViewSpec``s: plain
parameter records that are the single source of truth for both implementations built from
them, ``build_recipe`` (batched on the device, ``sslkit.augment.batched``) and
``torchvision_recipe`` (per image, ``torchvision.transforms.v2``: the reference, and what a
DataLoader would run).

Recipe table. Every crop view also flips (p=0.5), jitters colour with p=0.8 and greys with
p=0.2 (aae: no grey). "a / b" = image_size > 64 / <= 64 (CIFAR size); "v1, v2" per view.

    recipe       views                       crop scale     jitter b, c, s, h        blur p         solarize p
    simclr       2 identical                 (0.08, 1)      .8 .8 .8 .2 / .4 .4 .4 .1  .5, .5 / 0     0, 0
    simsiam      2 identical                 (0.2, 1)       .4 .4 .4 .1              .5, .5 / 0     0, 0
    byol         2 asymmetric                (0.08, 1)      .4 .4 .2 .1              1, .1 / 0      0, .2
    barlowtwins  2 asymmetric (as byol)      (0.08, 1)      .4 .4 .2 .1              1, .1 / 0      0, .2
    vicreg       2 asymmetric (as byol)      (0.08, 1)      .4 .4 .2 .1              1, .1 / 0      0, .2
    dino         2 global                    (0.4, 1)       .4 .4 .2 .1              1, .1 / 0      0, .2
                 + n_local=8 local, ~96/224  (0.05, 0.4)    .4 .4 .2 .1              .5 / 0         0
                 of the size (16 px at 32)
    aae          [augmented, clean]          none: shift 1/8, zoom (0.9, 1.1)  .4 .4 .4 .1   .5 / 0    0
    none         [image, image]              -              -                        -              -

CIFAR-size adaptation (image_size <= 64): blur is switched off in every view. SimCLR's own
README trains CIFAR-10 with ``--use_blur=False --color_jitter_strength=0.5``
(google-research/simclr); solo-learn's CIFAR configs for BYOL, Barlow Twins and DINO use
scripts/pretrain/cifar/augmentations/asymmetric.yaml (``gaussian_blur.prob: 0.0``,
solarization 0.0 / 0.2) and its VICReg config disables blur too. (solo-learn's symmetric.yaml,
used by its SimCLR config, keeps blur 0.5 at 32 px; we follow SimCLR's own CIFAR command.)
Blurring a 32 px image with sigma up to 2 px erases most of it.

Deviations shared by all recipes, relative to the official (PIL) pipelines:
bilinear instead of bicubic resizing in the crops (the official BYOL / Barlow Twins / VICReg /
DINO code pass ``interpolation=BICUBIC``); a truncated Gaussian kernel of SimCLR's size
(10% of the view) instead of PIL's ``ImageFilter.GaussianBlur(radius=sigma)``; the batched
ColorJitter draws one order of its four adjustments per batch, not per image (see
``batched.ColorJitter``); SimCLR's crop is torchvision's RandomResizedCrop (10 tries, central
fallback) rather than TensorFlow's ``sample_distorted_bounding_box`` (100 tries, whole-image
fallback, and a ``min_object_covered=0.1`` constraint that is always met without boxes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from sslkit.augment import batched as B
from sslkit.augment import functional as F

RECIPES = ("simclr", "byol", "barlowtwins", "vicreg", "dino", "aae", "none", "simsiam")

# Above this image side the recipes are the ImageNet ones; at or below it, the CIFAR ones.
CIFAR_MAX_SIZE = 64


@dataclass(frozen=True)
class ViewSpec:
    """The augmentation parameters of one view. Defaults are "off": a spec lists what it uses.

    Probabilities are the names a recipe override uses: ``flip``, ``color_jitter``,
    ``grayscale``, ``blur``, ``solarize``, ``noise`` (0 switches the op off).
    """

    size: int
    crop_scale: tuple[float, float] | None = None  # RandomResizedCrop area range; None: whole image
    crop_ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    flip: float = 0.0
    rotation: float = 0.0  # degrees, angle ~ U(-rotation, rotation)
    translate: float = 0.0  # fraction of the side, RandomAffine
    affine_scale: tuple[float, float] | None = None  # RandomAffine zoom range
    elastic_alpha: float = 0.0  # ElasticTransform strength; 0 is off
    elastic_sigma: float = 5.0
    color_jitter: float = 0.0  # probability of the jitter block
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    grayscale: float = 0.0
    blur: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize: float = 0.0
    noise: float = 0.0  # probability of additive Gaussian noise
    noise_std: float = 0.1
    randaugment: float = 0.0  # probability of RandAugment (Cubuk et al. 2020), after the flip
    randaugment_ops: int = 2  # its N: operations per image (torchvision's default)
    randaugment_magnitude: int = 9  # its M, of 31 bins (torchvision's default)


PROBABILITIES = ("flip", "color_jitter", "grayscale", "blur", "solarize", "noise", "randaugment")
RECIPE_OPTIONS = ("n_local", "local_size", "local_crop_scale")  # dino only


def _views(name: str, image_size: int, n_local: int, local_size: int | None,
           local_crop_scale: tuple[float, float]) -> tuple[list[ViewSpec], list[bool]]:
    """The official views of a recipe, and which of them take the overrides."""
    small = image_size <= CIFAR_MAX_SIZE
    # flip, jitter p=0.8 with (0.4, 0.4, 0.2, 0.1), gray p=0.2: BYOL paper Table 6 and the
    # official Barlow Twins (main.py Transform), VICReg (augmentations.py TrainTransform) and
    # DINO (main_dino.py DataAugmentationDINO) code.
    byol_like = ViewSpec(image_size, crop_scale=(0.08, 1.0), flip=0.5, color_jitter=0.8, brightness=0.4,
                         contrast=0.4, saturation=0.2, hue=0.1, grayscale=0.2)
    if name == "simclr":
        # google-research/simclr data_util.py: crop area (0.08, 1), flip, color_jitter with
        # strength s (0.8s, 0.8s, 0.8s, 0.2s) p=0.8, to_grayscale p=0.2, blur p=0.5 on both views.
        # s = 1.0 by default (ImageNet); the README's CIFAR-10 command uses s = 0.5, no blur.
        s = 0.5 if small else 1.0
        view = ViewSpec(image_size, crop_scale=(0.08, 1.0), flip=0.5, color_jitter=0.8, brightness=0.8 * s,
                        contrast=0.8 * s, saturation=0.8 * s, hue=0.2 * s, grayscale=0.2, blur=0.5)
        views = [view, view]
    elif name == "simsiam":
        # facebookresearch/simsiam main_simsiam.py (MoCo v2's aug): crop area (0.2, 1), jitter
        # (0.4, 0.4, 0.4, 0.1) p=0.8 ("not strengthened"), grayscale p=0.2, blur p=0.5,
        # flip; the same pipeline for both views
        view = ViewSpec(image_size, crop_scale=(0.2, 1.0), flip=0.5, color_jitter=0.8, brightness=0.4,
                        contrast=0.4, saturation=0.4, hue=0.1, grayscale=0.2, blur=0.5)
        views = [view, view]
    elif name in ("byol", "barlowtwins", "vicreg"):
        # Asymmetric views: blur 1.0 / 0.1, solarize 0.0 / 0.2 (BYOL Table 6; Barlow Twins
        # main.py Transform / transform_prime; VICReg augmentations.py TrainTransform).
        views = [replace(byol_like, blur=1.0, solarize=0.0), replace(byol_like, blur=0.1, solarize=0.2)]
    elif name == "dino":
        # main_dino.py DataAugmentationDINO: global_crops_scale (0.4, 1) default, global view 1
        # blur 1.0, view 2 blur 0.1 + solarize 0.2; local views (96 px at 224) with
        # local_crops_scale (0.05, 0.4) default and blur 0.5; local_crops_number default 8.
        global_view = replace(byol_like, crop_scale=(0.4, 1.0))
        if local_size is None:
            # the official 96/224 of the global size, rounded to a multiple of 8 (16 px at 32)
            local_size = max(8, round(image_size * 96 / 224 / 8) * 8)
        local = replace(global_view, size=local_size, crop_scale=tuple(local_crop_scale), blur=0.5)
        views = [replace(global_view, blur=1.0), replace(global_view, blur=0.1, solarize=0.2)] + [local] * n_local
    elif name == "aae":
        # Augmented autoencoder (Sundermeyer et al., IJCV 2019, arXiv:1902.01275): the input is
        # translated / scaled and recoloured, the target is the clean image. No rotation and
        # no flip: orientation is what the code must keep. Occlusion is left out.
        augmented = ViewSpec(image_size, translate=0.125, affine_scale=(0.9, 1.1), color_jitter=0.8,
                             brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, blur=0.5)
        return [_cifar(augmented, small), ViewSpec(image_size)], [True, False]
    elif name == "none":
        views = [ViewSpec(image_size), ViewSpec(image_size)]
    else:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return [_cifar(v, small) for v in views], [True] * len(views)


def _cifar(view: ViewSpec, small: bool) -> ViewSpec:
    """At CIFAR size (<= 64 px) blur is off (SimCLR README, solo-learn asymmetric.yaml)."""
    return replace(view, blur=0.0) if small else view


def recipe_views(name: str, image_size: int, **overrides) -> list[ViewSpec]:
    """The ViewSpecs of recipe ``name`` at ``image_size``, with ``overrides`` applied.

    An override is a ViewSpec field name (``color_jitter=0.0``, ``crop_scale=None``,
    ``brightness=0.8``...) and applies to every view, except the clean target of "aae".
    A probability (flip, color_jitter, grayscale, blur, solarize, noise) may also be a list
    with one value per view, e.g. ``blur=[1.0, 0.1]``. "dino" also takes ``n_local``
    (default 8), ``local_size`` and ``local_crop_scale`` (default (0.05, 0.4)).
    ``view_size`` (default ``image_size``) sets the side of the views, to train at a lower
    resolution than the images and the evaluation (FixRes-style; fewer pixels per step).
    Overrides win over the CIFAR adaptation.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    spec_fields = {f.name for f in fields(ViewSpec)} - {"size"}
    allowed = spec_fields | {"view_size"} | (set(RECIPE_OPTIONS) if name == "dino" else set())
    unknown = set(overrides) - allowed
    if unknown:
        raise ValueError(
            f"unknown override(s) {sorted(unknown)} for recipe {name!r}; valid: {', '.join(sorted(allowed))}"
        )
    view_size = int(overrides.pop("view_size", image_size))
    if view_size < 1:
        raise ValueError(f"view_size must be a positive int, got {view_size!r}")
    n_local = int(overrides.pop("n_local", 8))
    if n_local < 0:
        raise ValueError(f"n_local must be >= 0, got {n_local}")
    local_size = overrides.pop("local_size", None)
    local_crop_scale = tuple(overrides.pop("local_crop_scale", (0.05, 0.4)))
    views, takes_overrides = _views(name, view_size, n_local, local_size, local_crop_scale)
    out = []
    for index, (view, takes) in enumerate(zip(views, takes_overrides)):
        if takes:
            changes = {}
            for key, value in overrides.items():
                if key in PROBABILITIES and isinstance(value, (list, tuple)):
                    if len(value) != len(views):
                        raise ValueError(f"{key} has {len(value)} values but recipe {name!r} has {len(views)} views")
                    value = value[index]
                elif isinstance(value, list):
                    value = tuple(value)  # ranges arrive as JSON lists from the command line
                changes[key] = value
            view = replace(view, **changes)
        out.append(view)
    return out


# ----------------------------------------------------------------------------- batched


def batched_view(spec: ViewSpec, mean: Sequence[float], std: Sequence[float],
                 structure: ViewSpec | None = None) -> B.ViewPipeline:
    """The batched ViewPipeline of one ViewSpec, ops in the official order.

    An op is present when its probability in ``structure`` (default: ``spec``) is > 0, and
    draws with the probability of ``spec`` (possibly 0): pipelines built on one structure
    have the same ops, so their parameters can be merged (see ``Recipe``).
    """
    structure = structure or spec
    augs: list[B.BatchedAugmentation] = []
    if spec.crop_scale is not None:
        augs.append(B.RandomResizedCrop(spec.size, scale=spec.crop_scale, ratio=spec.crop_ratio))
    else:
        augs.append(B.Resize(spec.size))
    if structure.flip > 0:
        augs.append(B.HorizontalFlip(spec.flip))
    if spec.rotation > 0 or spec.translate > 0 or spec.affine_scale is not None:
        augs.append(B.RandomAffine(spec.rotation, (spec.translate, spec.translate) if spec.translate > 0 else None,
                                   spec.affine_scale))
    if spec.elastic_alpha > 0:
        augs.append(B.ElasticTransform(spec.elastic_alpha, spec.elastic_sigma))
    if structure.randaugment > 0:
        augs.append(B.RandAugment(spec.randaugment_ops, spec.randaugment_magnitude, spec.randaugment))
    if structure.color_jitter > 0 and (spec.brightness or spec.contrast or spec.saturation or spec.hue):
        augs.append(B.ColorJitter(spec.brightness, spec.contrast, spec.saturation, spec.hue, p=spec.color_jitter))
    if structure.grayscale > 0:
        augs.append(B.RandomGrayscale(spec.grayscale))
    if structure.blur > 0:
        augs.append(B.GaussianBlur(spec.blur, spec.blur_sigma, F.blur_kernel_size(spec.size)))
    if structure.solarize > 0:
        augs.append(B.Solarize(spec.solarize))
    if structure.noise > 0:
        augs.append(B.GaussianNoise(spec.noise_std, spec.noise))
    return B.ViewPipeline(augs, mean, std)


class Recipe:
    """``recipe(x, generator) -> list[Tensor]``: the normalised float views of a uint8 batch.

    Views that differ only in their probabilities (BYOL's two views, DINO's two global views,
    DINO's local views) run as one batched call on the batch repeated: each view draws its
    parameters from its own spec, the parameters are concatenated, and the ops run once
    (half the op calls for a two-view recipe, and larger ops).
    """

    def __init__(self, name: str, views: list[ViewSpec], mean: Sequence[float], std: Sequence[float]):
        self.name = name
        self.views = views
        by_structure: dict[ViewSpec, list[int]] = {}
        for index, spec in enumerate(views):
            by_structure.setdefault(replace(spec, **{p: 0.0 for p in PROBABILITIES}), []).append(index)
        # (pipeline that applies, one sampling pipeline per view, view indices)
        self.groups: list[tuple[B.ViewPipeline, list[B.ViewPipeline], list[int]]] = []
        for indices in by_structure.values():
            members = [views[i] for i in indices]
            union = replace(members[0], **{p: max(getattr(m, p) for m in members) for p in PROBABILITIES})
            samplers = [batched_view(m, mean, std, structure=union) for m in members]
            self.groups.append((batched_view(union, mean, std), samplers, indices))

    def __len__(self) -> int:
        return len(self.views)

    def __call__(self, x: Tensor, generator: torch.Generator) -> list[Tensor]:
        B.check_images(x)
        B.check_generator(generator, x)
        n, size = x.shape[0], tuple(x.shape[-2:])
        out: list[Tensor | None] = [None] * len(self.views)
        for pipeline, samplers, indices in self.groups:
            params = [s.sample_params(n, generator, x.device, size) for s in samplers]
            if len(samplers) == 1:
                views = [pipeline.apply(x, params[0])]
            else:
                merged = [type(aug).merge_params([p[j] for p in params])
                          for j, aug in enumerate(pipeline.augmentations)]
                views = pipeline.apply(x.repeat(len(samplers), 1, 1, 1), merged).chunk(len(samplers))
            for index, view in zip(indices, views):
                out[index] = view
        return out

    def __repr__(self) -> str:
        groups = "\n".join(f"views {indices}: {pipeline!r}" for pipeline, _, indices in self.groups)
        return f"Recipe({self.name!r}, {len(self)} views,\n{groups})"


def build_recipe(name: str, image_size: int, mean: Sequence[float], std: Sequence[float], **overrides) -> Recipe:
    """The batched recipe ``name`` (one of RECIPES) producing views of ``image_size`` px.

    Returns a callable ``recipe(x, generator) -> list[Tensor]``: x uint8 (N, 3, H, W) on the
    device, generator a torch.Generator on the same device; every view is a normalised float
    (N, 3, h, w). Overrides switch components off or change them (see ``recipe_views``), e.g.
    ``build_recipe("simclr", 32, mean, std, color_jitter=0.0, grayscale=0.0)`` (crop only).
    ``"shapes"`` (sslkit.augment.shapes_recipe) is another recipe's views plus the shapes data
    set's style changes: ``build_recipe("shapes", 32, mean, std, base="vicreg")``; ``"scan"``
    (sslkit.augment.scan_recipe) a slice of a 3D scan and its neighbour.
    """
    if name == "shapes":
        from sslkit.augment.shapes_recipe import build_shapes_recipe

        return build_shapes_recipe(image_size, mean, std, **overrides)
    if name == "scan":  # a slice and its neighbour (sslkit.augment.scan_recipe)
        from sslkit.augment.scan_recipe import build_scan_recipe

        return build_scan_recipe(image_size, mean, std, **overrides)
    return Recipe(name, recipe_views(name, image_size, **overrides), mean, std)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """The evaluation transform: uint8 (N, 3, H, W) -> (x / 255 - mean) / std, float32."""
    B.check_images(x)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return x.float().div_(255.0).sub_(mean_t).div_(std_t)


# ----------------------------------------------------------------------------- torchvision


def torchvision_view(spec: ViewSpec, mean: Sequence[float], std: Sequence[float]) -> Callable[[Tensor], Tensor]:
    """The per-image torchvision.transforms.v2 pipeline of one ViewSpec (same ops, same order).

    Works on float images (converted first), as the batched path does.
    """
    from torchvision.transforms import v2

    bilinear = v2.InterpolationMode.BILINEAR
    ops: list = [v2.ToDtype(torch.float32, scale=True)]
    if spec.crop_scale is not None:
        ops.append(v2.RandomResizedCrop(spec.size, scale=spec.crop_scale, ratio=spec.crop_ratio,
                                        interpolation=bilinear, antialias=True))
    else:
        ops.append(v2.Resize((spec.size, spec.size), interpolation=bilinear, antialias=True))
    if spec.flip > 0:
        ops.append(v2.RandomHorizontalFlip(spec.flip))
    if spec.rotation > 0 or spec.translate > 0 or spec.affine_scale is not None:
        translate = (spec.translate, spec.translate) if spec.translate > 0 else None
        ops.append(v2.RandomAffine(spec.rotation, translate=translate, scale=spec.affine_scale, interpolation=bilinear))
    if spec.elastic_alpha > 0:
        ops.append(v2.ElasticTransform(spec.elastic_alpha, spec.elastic_sigma, interpolation=bilinear))
    if spec.randaugment > 0:
        ops.append(v2.RandomApply([v2.RandAugment(spec.randaugment_ops, spec.randaugment_magnitude)],
                                  p=spec.randaugment))
    if spec.color_jitter > 0 and (spec.brightness or spec.contrast or spec.saturation or spec.hue):
        ops.append(v2.RandomApply([v2.ColorJitter(spec.brightness, spec.contrast, spec.saturation, spec.hue)],
                                  p=spec.color_jitter))
    if spec.grayscale > 0:
        ops.append(v2.RandomGrayscale(spec.grayscale))
    if spec.blur > 0:
        k = F.blur_kernel_size(spec.size)
        ops.append(v2.RandomApply([v2.GaussianBlur(k, sigma=spec.blur_sigma)], p=spec.blur))
    if spec.solarize > 0:
        ops.append(v2.RandomSolarize(0.5, p=spec.solarize))
    if spec.noise > 0:
        ops.append(v2.RandomApply([v2.GaussianNoise(0.0, spec.noise_std, clip=True)], p=spec.noise))
    ops.append(v2.Normalize(list(mean), list(std)))
    return v2.Compose(ops)


class TorchvisionRecipe:
    """``recipe(image) -> list[Tensor]``: the per-image views of a uint8 (3, H, W) image."""

    def __init__(self, name: str, views: list[ViewSpec], mean: Sequence[float], std: Sequence[float]):
        self.name = name
        self.views = views
        self.transforms = [torchvision_view(spec, mean, std) for spec in views]

    def __len__(self) -> int:
        return len(self.transforms)

    def __call__(self, image: Tensor) -> list[Tensor]:
        if not isinstance(image, Tensor) or image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(
                f"expected one uint8 image (3, H, W), got "
                f"{tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__}"
                f"{'' if not isinstance(image, Tensor) else ' ' + str(image.dtype)}; "
                "for a batch use build_recipe, for a float image (x * 255).round().to(torch.uint8)"
            )
        return [t(image) for t in self.transforms]


def torchvision_recipe(name: str, image_size: int, mean: Sequence[float], std: Sequence[float],
                       **overrides) -> TorchvisionRecipe:
    """The per-image torchvision equivalent of ``build_recipe`` (same ViewSpecs)."""
    return TorchvisionRecipe(name, recipe_views(name, image_size, **overrides), mean, std)
