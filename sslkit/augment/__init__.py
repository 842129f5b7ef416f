"""Batched per-sample augmentation on the device, per-view recipes, and the torchvision reference.

``build_recipe(name, image_size, mean, std, **overrides)`` returns ``recipe(x, generator) ->
list[Tensor]`` (x uint8 (N, 3, H, W) on the device; every sample its own parameters);
``normalize`` is the evaluation transform; ``torchvision_recipe`` the per-image equivalent.
"""

from sslkit.augment import functional
from sslkit.augment.batched import (
    ColorJitter,
    ElasticTransform,
    GaussianBlur,
    GaussianNoise,
    HorizontalFlip,
    RandAugment,
    RandomAffine,
    RandomGrayscale,
    RandomResizedCrop,
    RandomRotation,
    Resize,
    Solarize,
    ViewPipeline,
)
from sslkit.augment.recipes import (
    RECIPES,
    Recipe,
    ViewSpec,
    build_recipe,
    normalize,
    recipe_views,
    torchvision_recipe,
)

__all__ = [
    "RECIPES",
    "ColorJitter",
    "ElasticTransform",
    "GaussianBlur",
    "GaussianNoise",
    "HorizontalFlip",
    "RandAugment",
    "RandomAffine",
    "RandomGrayscale",
    "RandomResizedCrop",
    "RandomRotation",
    "Recipe",
    "Resize",
    "Solarize",
    "ViewPipeline",
    "ViewSpec",
    "build_recipe",
    "functional",
    "normalize",
    "recipe_views",
    "torchvision_recipe",
]
