"""The "scan" recipe: a slice and its neighbour as two views (sslkit.augment.scan_recipe)."""

from __future__ import annotations

import pytest
import torch

from sslkit import augment
from sslkit.augment.scan_recipe import ScanRecipe
from sslkit.data import make_scan_slices, scan_neighbour_stacks

MEAN, STD = (0.2, 0.2, 0.2), (0.25, 0.25, 0.25)


@pytest.fixture(scope="module")
def stacks():
    return scan_neighbour_stacks(make_scan_slices(8, slices=6, size=16, seed=0))


def _grey(x: torch.Tensor, channel: torch.Tensor) -> torch.Tensor:
    """Channel `channel[i]` of image i, normalised and repeated in three channels."""
    picked = x[torch.arange(len(x)), channel][:, None].expand(-1, 3, -1, -1)
    return augment.normalize(picked.contiguous(), MEAN, STD)


def test_neighbour_views_are_the_slice_and_one_of_its_neighbours(stacks):
    recipe = augment.build_recipe("scan", 16, MEAN, STD)
    assert isinstance(recipe, ScanRecipe) and len(recipe) == 2
    x = stacks.images
    a, b = recipe(x, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (len(x), 3, 16, 16)
    assert torch.equal(a, _grey(x, torch.zeros(len(x), dtype=torch.long)))
    below, above = _grey(x, torch.ones(len(x), dtype=torch.long)), _grey(x, torch.full((len(x),), 2))
    is_below = (b == below).flatten(1).all(1)
    is_above = (b == above).flatten(1).all(1)
    assert (is_below | is_above).all() and is_below.any() and is_above.any()
    # the same generator seed, the same views
    again = recipe(x, torch.Generator().manual_seed(0))
    assert torch.equal(again[1], b)


def test_neighbour_zero_is_the_single_slice_recipe(stacks):
    x = stacks.images
    same = augment.build_recipe("scan", 16, MEAN, STD, neighbour=0.0)
    a, b = same(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    # with a base recipe the two views of one slice differ by its augmentations only
    cropped = augment.build_recipe("scan", 16, MEAN, STD, neighbour=0.0, base="vicreg",
                                   view_size=12, blur=[1.0, 0.1])
    assert cropped.views[0].blur == 1.0 and cropped.views[1].blur == 0.1
    a, b = cropped(x, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (len(x), 3, 12, 12) and not torch.equal(a, b)
    assert torch.equal(a[:, 0], a[:, 1])  # still grey


def test_scan_recipe_bad_arguments_say_what_to_fix(stacks):
    with pytest.raises(ValueError, match="neighbour is the probability"):
        augment.build_recipe("scan", 16, MEAN, STD, neighbour=1.5)
    with pytest.raises(ValueError, match="two views"):
        augment.build_recipe("scan", 16, MEAN, STD, base="dino")
    with pytest.raises(ValueError, match="unknown override"):
        augment.build_recipe("scan", 16, MEAN, STD, recolour=1.0)
    with pytest.raises(ValueError, match="uint8"):
        augment.build_recipe("scan", 16, MEAN, STD)(stacks.images.float(), torch.Generator())


def test_a_run_trains_on_neighbouring_slices(stacks):
    from sslkit.train import TrainConfig, train

    cfg = TrainConfig(method="vicreg", profile="smoke", recipe="scan", batch_size=16, steps=2,
                      eval_train_size=32, eval_test_size=16, log_every=1)
    result = train(cfg, train_data=stacks, test_data=stacks, progress=False)
    assert result.config.recipe == "scan" and len(result.history) == 2
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in result.history)
    assert 0.0 <= result.metrics["knn_top1"] <= 1.0
