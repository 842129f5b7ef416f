"""The "shapes" recipe: the method's views plus the style changes of the shapes data set."""

import pytest
import torch

from sslkit.augment import build_recipe
from sslkit.augment.shapes_recipe import ShapesStyle, rotate_border, shapes_recipe_for
from sslkit.data import make_shapes, object_masks
from sslkit.data.shapes import object_alpha
from sslkit.methods import get_method
from sslkit.train import TrainConfig

MEAN, STD = (0.5,) * 3, (0.25,) * 3


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(64, seed=0, rotation=False)


def test_style_changes_colours_and_background_but_keeps_the_object(shapes):
    style = ShapesStyle(rotation=0.0, recolour=1.0, background=1.0)
    x = shapes.images
    y = style(x, torch.Generator().manual_seed(0))
    assert y.dtype == torch.uint8 and y.shape == x.shape
    # the object is where it was: its mask, read off the new image, matches the generator's
    mask = object_masks(shapes) > 0.5
    assert ((object_alpha(y.float() / 255)[:, 0] > 0.5) == mask).float().mean() > 0.98
    # and its colour and the background changed in most images
    fg_before = (x.float() * mask[:, None]).sum((2, 3)) / mask.sum((1, 2))[:, None]
    fg_after = (y.float() * mask[:, None]).sum((2, 3)) / mask.sum((1, 2))[:, None]
    assert ((fg_before - fg_after).abs().amax(1) > 20).float().mean() > 0.7
    bg = ~mask[:, None].expand_as(x)
    assert ((x.float() - y.float()).abs()[bg].mean()) > 20


def test_switched_off_style_is_the_identity_and_same_seed_same_views(shapes):
    x = shapes.images
    assert torch.equal(ShapesStyle(0.0, 0.0, 0.0)(x, torch.Generator()), x)
    recipe = build_recipe("shapes", 32, MEAN, STD, base="vicreg")
    a = recipe(x, torch.Generator().manual_seed(3))
    b = recipe(x, torch.Generator().manual_seed(3))
    assert len(a) == 2 and all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], a[1])  # two views, each its own style


def test_rotation_by_zero_is_the_identity_and_the_corners_are_not_black():
    x = torch.rand(3, 3, 16, 16) * 0.5 + 0.5
    assert torch.allclose(rotate_border(x, torch.zeros(3)), x, atol=1e-5)
    turned = rotate_border(x, torch.full((3,), 45.0))
    assert turned[:, :, 0, 0].min() >= 0.5  # border pixels repeated, no zero fill


def test_dino_keeps_its_local_crops_and_the_overrides_pass_through(shapes):
    recipe = build_recipe("shapes", 32, MEAN, STD, base="dino", n_local=2, crop_scale=(0.4, 1.0))
    views = recipe(shapes.images[:4], torch.Generator().manual_seed(0))
    assert [v.shape[-1] for v in views] == [32, 32, 16, 16]
    assert recipe.views[0].crop_scale == (0.4, 1.0) and recipe.views[2].crop_scale == (0.05, 0.4)
    with pytest.raises(ValueError, match="extends one of"):
        build_recipe("shapes", 32, MEAN, STD, base="none")
    with pytest.raises(ValueError, match="probabilities"):
        build_recipe("shapes", 32, MEAN, STD, recolour=2.0)


def test_a_run_on_the_shapes_picks_the_shapes_recipe_unless_told_otherwise():
    for method in ("vicreg", "dino", "simsiam"):
        cfg = TrainConfig(method=method).resolved(get_method(method).train_defaults)
        assert cfg.recipe == "shapes" and cfg.recipe_args["base"] == get_method(method).module.recipe
    assert TrainConfig(method="aae").resolved().recipe is None  # the AAE keeps its own
    assert TrainConfig(method="vicreg", data="cifar10").resolved().recipe is None
    assert TrainConfig(method="vicreg", recipe="vicreg").resolved().recipe == "vicreg"
    assert shapes_recipe_for("byol") and not shapes_recipe_for("none")


def test_aae_base_repaints_and_occludes_the_input_and_keeps_the_clean_target(shapes):
    """Chapter 2's "AAE as the article tells it": new background and occluder on the input
    only; the target is exactly the base recipe's clean view."""
    x = shapes.images[:16]
    recipe = build_recipe("shapes", 32, MEAN, STD, base="aae", recolour=0.0, background=1.0,
                          occlusion=1.0, translate=0.0, affine_scale=(1.0, 1.0))
    augmented, clean = recipe(x, torch.Generator().manual_seed(0))
    plain_clean = build_recipe("aae", 32, MEAN, STD)(x, torch.Generator().manual_seed(0))[1]
    assert torch.equal(clean, plain_clean)
    outside = object_alpha(x.float() / 255) < 0.01  # N x 1 x H x W background pixels
    changed = (augmented - clean).abs().amax(dim=1, keepdim=True) > 0.05
    assert changed[outside].float().mean() > 0.9  # the background is new nearly everywhere
    with pytest.raises(ValueError, match="occlusion"):
        build_recipe("shapes", 32, MEAN, STD, base="aae", occlusion=1.5)
