"""sslkit.augment: batched ops against torchvision, distributions, recipes, errors.

Tolerances. The batched ops do the same arithmetic as torchvision.transforms.v2.functional
in a different order (a luma mean as the luma of channel means, the HSV round trip in closed
form, a resampling matrix instead of interpolate), so they agree to float32 rounding:
``ATOL = 1e-5`` on [0, 1] images. The grid_sample ops (rotate, affine, elastic) build their
sampling grid in another order too, so coordinates differ by ~1e-6 px; times a neighbour
difference of up to 1 that is ``GRID_ATOL = 1e-4``.
"""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from sslkit.augment import (
    RECIPES,
    ColorJitter,
    ElasticTransform,
    GaussianBlur,
    HorizontalFlip,
    RandAugment,
    RandomGrayscale,
    RandomResizedCrop,
    Solarize,
    ViewPipeline,
    build_recipe,
    normalize,
    recipe_views,
    torchvision_recipe,
)
from sslkit.augment import functional as A

ATOL = 1e-5
GRID_ATOL = 1e-4
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
BILINEAR = v2.InterpolationMode.BILINEAR


def per_image(fn, x, *args):
    """torchvision applied image by image, with the i-th value of every (N,) argument."""
    out = []
    for i in range(len(x)):
        values = [a[i].tolist() if isinstance(a, torch.Tensor) else a for a in args]
        out.append(fn(x[i], *values))
    return torch.stack(out)


@pytest.fixture
def x():
    return torch.rand(6, 3, 20, 24, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def images():
    return torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- ops vs torchvision


BOXES = torch.tensor([[0, 0, 20, 24], [3, 4, 10, 12], [5, 1, 15, 23], [0, 0, 5, 7], [10, 2, 10, 22], [1, 1, 19, 20]])


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("size", [(32, 32), (12, 16)])  # up-sampling everywhere / down-sampling some crops
def test_resized_crop_matches_torchvision(x, antialias, size):
    ours = A.resized_crop(x, BOXES, size, antialias=antialias)
    ref = torch.stack([TF.resized_crop(x[i], *BOXES[i].tolist(), list(size), antialias=antialias) for i in range(6)])
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_resized_crop_fuses_flip_and_uint8(x):
    flip = torch.tensor([True, False, True, True, False, True])
    images = (x * 255).round().to(torch.uint8)
    ours = A.resized_crop(images, BOXES, 16, antialias=True, flip=flip)
    ref = torch.stack([
        TF.resized_crop(images[i].float() / 255, *BOXES[i].tolist(), [16, 16], antialias=True) for i in range(6)
    ])
    ref = torch.where(flip[:, None, None, None], ref.flip(-1), ref)
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_hflip_matches_torchvision(x):
    mask = torch.tensor([True, False, True, False, False, True])
    ref = torch.stack([TF.horizontal_flip(x[i]) if mask[i] else x[i] for i in range(6)])
    torch.testing.assert_close(A.hflip(x, mask), ref, atol=0, rtol=0)


def test_rotate_affine_scale_match_torchvision(x):
    angle = torch.tensor([10.0, -33.0, 45.0, 0.5, 170.0, -100.0])
    translate = torch.tensor([[1.0, 2.0], [-3.0, 0.0], [0.0, 0.0], [5.0, -4.0], [2.0, 2.0], [0.0, 1.0]])
    scale = torch.tensor([1.0, 0.8, 1.2, 1.1, 0.9, 1.0])
    ref = per_image(lambda img, a: TF.rotate(img, a, interpolation=BILINEAR), x, angle)
    torch.testing.assert_close(A.rotate(x, angle), ref, atol=GRID_ATOL, rtol=0)
    ref = per_image(lambda img, a, t, s: TF.affine(img, a, t, s, [0.0, 0.0], interpolation=BILINEAR),
                    x, angle, translate, scale)
    torch.testing.assert_close(A.affine(x, angle, translate, scale), ref, atol=GRID_ATOL, rtol=0)
    ref = per_image(lambda img, s: TF.affine(img, 0.0, [0, 0], s, [0.0, 0.0], interpolation=BILINEAR), x, scale)
    torch.testing.assert_close(A.scale(x, scale), ref, atol=GRID_ATOL, rtol=0)


def test_elastic_matches_torchvision(x):
    displacement = 0.05 * torch.randn(6, 20, 24, 2, generator=gen(1))
    ref = torch.stack([TF.elastic(x[i], displacement[i:i + 1], interpolation=BILINEAR) for i in range(6)])
    torch.testing.assert_close(A.elastic(x, displacement), ref, atol=GRID_ATOL, rtol=0)


FACTORS = torch.tensor([0.3, 1.0, 1.5, 0.0, 2.0, 0.9])


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
def test_colour_factors_match_torchvision(x, name):
    ours = getattr(A, f"adjust_{name}")(x, FACTORS)
    ref = per_image(getattr(TF, f"adjust_{name}"), x, FACTORS)
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize("quantised", [False, True])  # quantised: ties between channels, grey pixels
def test_hue_matches_torchvision(x, quantised):
    if quantised:
        x = (x * 4).round() / 4
    hue = torch.tensor([-0.5, -0.2, 0.0, 0.1, 0.37, 0.5])
    torch.testing.assert_close(A.adjust_hue(x, hue), per_image(TF.adjust_hue, x, hue), atol=ATOL, rtol=0)


def test_color_jitter_order_matches_sequential_torchvision(x):
    b, c, s, h = FACTORS, FACTORS.flip(0), FACTORS.roll(1), torch.linspace(-0.3, 0.3, 6)
    fns = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    for order in [(0, 1, 2, 3), (3, 1, 0, 2)]:
        ref = x.clone()
        for index in order:
            ref = per_image(fns[index], ref, (b, c, s, h)[index])
        torch.testing.assert_close(A.color_jitter(x, b, c, s, h, order), ref, atol=ATOL, rtol=0)


def test_grayscale_solarize_match_torchvision(x):
    mask = torch.tensor([True, True, False, True, False, True])
    ref = torch.stack([TF.rgb_to_grayscale(x[i], 3) if mask[i] else x[i] for i in range(6)])
    torch.testing.assert_close(A.grayscale(x, mask), ref, atol=ATOL, rtol=0)
    ref = torch.stack([TF.solarize(x[i], 0.5) if mask[i] else x[i] for i in range(6)])
    torch.testing.assert_close(A.solarize(x, mask), ref, atol=0, rtol=0)


def test_gaussian_blur_matches_torchvision(x):
    sigma = torch.tensor([0.1, 0.5, 1.0, 2.0, 1.5, 0.3])
    mask = torch.tensor([True, True, True, True, False, True])
    ref = torch.stack([TF.gaussian_blur(x[i], [5, 5], [sigma[i].item()] * 2) if mask[i] else x[i] for i in range(6)])
    torch.testing.assert_close(A.gaussian_blur(x, sigma, 5, mask), ref, atol=ATOL, rtol=0)


def test_gaussian_noise_matches_torchvision(x):
    std = torch.linspace(0.0, 0.5, 6)
    refs, noises = [], []
    for i in range(6):
        torch.manual_seed(i)
        refs.append(TF.gaussian_noise(x[i], mean=0.0, sigma=std[i].item(), clip=True))
        torch.manual_seed(i)
        noises.append(torch.randn_like(x[i]))
    torch.testing.assert_close(A.gaussian_noise(x, std, torch.stack(noises)), torch.stack(refs), atol=ATOL, rtol=0)


def test_randaugment_is_torchvisions_per_image_seeded_from_the_generator(x):
    """Each image gets torchvision's RandAugment under its own seed drawn from the recipe's
    generator: equal to calling v2.RandAugment image by image with those seeds, the same
    generator seed gives the same batch, and the global random state is untouched."""
    op = RandAugment(num_ops=2, magnitude=9, p=1.0)
    params = op.sample_params(len(x), gen(0))
    state = torch.random.get_rng_state()
    out = op.apply(x, params)
    assert torch.equal(torch.random.get_rng_state(), state)
    reference = v2.RandAugment(num_ops=2, magnitude=9)
    for i in range(len(x)):
        torch.manual_seed(int(params["seed"][i]))
        torch.testing.assert_close(out[i], reference(x[i]), atol=0, rtol=0)
    assert torch.equal(op.apply(x, op.sample_params(len(x), gen(0))), out)
    assert not torch.equal(op.apply(x, op.sample_params(len(x), gen(1))), out)
    skipped = op.apply(x, {**params, "mask": torch.zeros(len(x), dtype=torch.bool)})
    assert torch.equal(skipped, x)
    with pytest.raises(ValueError, match="magnitude"):
        RandAugment(magnitude=40)


def test_randaugment_is_a_recipe_option(images):
    views = build_recipe("simclr", 32, MEAN, STD, randaugment=1.0, color_jitter=0.0)(images, gen(0))
    assert len(views) == 2 and views[0].shape == (len(images), 3, 32, 32)
    assert "RandAugment" in repr(build_recipe("simclr", 32, MEAN, STD, randaugment=0.5))
    assert "RandAugment" in repr(torchvision_recipe("simclr", 32, MEAN, STD, randaugment=0.5).transforms[0])


def test_normalize_matches_torchvision(images):
    ref = torch.stack([TF.normalize(TF.to_dtype(img, torch.float32, scale=True), MEAN, STD) for img in images])
    torch.testing.assert_close(normalize(images, MEAN, STD), ref, atol=ATOL, rtol=0)


def test_ops_leave_their_input_alone(x):
    before = x.clone()
    mask = torch.ones(6, dtype=torch.bool)
    for out in [A.adjust_brightness(x, FACTORS), A.adjust_contrast(x, FACTORS), A.adjust_saturation(x, FACTORS),
                A.adjust_hue(x, FACTORS / 4), A.grayscale(x, mask), A.solarize(x, mask), A.hflip(x, mask)]:
        assert out.data_ptr() != x.data_ptr()
    assert torch.equal(x, before)


# ----------------------------------------------------------------------------- per-sample parameters


def test_every_sample_gets_its_own_parameters():
    # one image repeated: a batch-level augmentation would give identical views
    image = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8, generator=gen(0)).expand(64, -1, -1, -1)
    for name in ["simclr", "byol", "dino"]:
        for view in build_recipe(name, 32, MEAN, STD)(image.contiguous(), gen(1)):
            flat = view.flatten(1)
            assert torch.cdist(flat, flat).fill_diagonal_(1.0).min() > 0, name  # no two samples equal
    params = RandomResizedCrop(32).sample_params(64, gen(2), "cpu", (32, 32))
    assert len(set(map(tuple, params["boxes"].tolist()))) > 50


def test_same_seed_same_views_and_other_seed_other_views(images):
    recipe = build_recipe("byol", 32, MEAN, STD)
    first, again, other = recipe(images, gen(7)), recipe(images, gen(7)), recipe(images, gen(8))
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert not torch.equal(first[0], other[0])


# ----------------------------------------------------------------------------- distributions


def crop_area_mean_analytic(a: float, ratio_high: float) -> float:
    """E[area fraction] of RandomResizedCrop(scale=(a, 1), ratio=(1/r, r)) on a large square image.

    The kept try is uniform over the accepted region {s * e^u <= 1, s * e^-u <= 1} of
    s ~ U(a, 1), u ~ U(-L, L), L = log r (the 10-try fallback has probability < 1e-9).
    """
    L = math.log(ratio_high)
    numerator = 2 * ((1 - math.exp(-2 * L)) / 4 - a * a * L / 2)
    denominator = 2 * ((1 - math.exp(-L)) - a * L)
    return numerator / denominator


def test_crop_area_and_ratio_follow_the_analytic_distribution():
    n, side = 40_000, 512  # large image: integer rounding is negligible
    boxes = RandomResizedCrop(224).sample_params(n, gen(0), "cpu", (side, side))["boxes"]
    area = boxes[:, 2] * boxes[:, 3] / side**2
    assert abs(area.mean().item() - crop_area_mean_analytic(0.08, 4 / 3)) < 0.005  # ~4 standard errors
    log_ratio = torch.log(boxes[:, 3] / boxes[:, 2])
    assert abs(log_ratio.mean().item()) < 0.005 and log_ratio.abs().max() <= math.log(4 / 3) + 0.01
    assert (boxes[:, :2] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= side).all() and (boxes[:, 1] + boxes[:, 3] <= side).all()


def test_crop_boxes_follow_torchvision_sampler_at_32px():
    torch.manual_seed(0)
    crop = v2.RandomResizedCrop(32, scale=(0.08, 1.0))
    draws = [crop.make_params([torch.zeros(3, 32, 32)]) for _ in range(3000)]
    ref = torch.tensor([[p["height"] * p["width"], p["top"], p["left"]] for p in draws], dtype=torch.float32)
    boxes = RandomResizedCrop(32).sample_params(20_000, gen(0), "cpu", (32, 32))["boxes"]
    ours = torch.stack([boxes[:, 2] * boxes[:, 3], boxes[:, 0], boxes[:, 1]], dim=1)
    # area in pixels and position: means agree within ~4 standard errors of the 3,000 torchvision draws
    tolerance = 4 * ref.std(dim=0) / math.sqrt(len(ref))
    assert ((ours.mean(dim=0) - ref.mean(dim=0)).abs() < tolerance).all()


def test_crop_fallback_is_torchvisions_central_crop():
    # no try can fit: aspect ratio in (3, 4) of a square image at 90 % of its area
    boxes = RandomResizedCrop(8, scale=(0.9, 1.0), ratio=(3.0, 4.0)).sample_params(5, gen(0), "cpu", (30, 30))["boxes"]
    assert boxes.tolist() == [[10.0, 0.0, 10.0, 30.0]] * 5  # torchvision: w = 30, h = round(30 / 3), centred


def test_probabilities_and_ranges_follow_the_recipe():
    n = 20_000
    flip = HorizontalFlip(0.5).sample_params(n, gen(0))["mask"].float().mean()
    assert abs(flip - 0.5) < 0.02
    jitter = ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8).sample_params(n, gen(1))
    assert abs(jitter["apply"].float().mean() - 0.8) < 0.02
    applied = jitter["apply"]
    for key, (low, high) in [("brightness", (0.6, 1.4)), ("contrast", (0.6, 1.4)), ("saturation", (0.8, 1.2)),
                             ("hue", (-0.1, 0.1))]:
        values = jitter[key][applied]
        assert low <= values.min() and values.max() <= high, key
        assert abs(values.mean() - (low + high) / 2) < 0.01 * (high - low) * 10, key
        identity = 0.0 if key == "hue" else 1.0
        assert (jitter[key][~applied] == identity).all(), key
    assert sorted(jitter["order"].tolist()) == [0, 1, 2, 3]
    orders = {tuple(ColorJitter(0.4, p=1.0).sample_params(4, gen(s))["order"].tolist()) for s in range(40)}
    assert len(orders) > 10  # a fresh order per batch
    assert abs(RandomGrayscale(0.2).sample_params(n, gen(2))["mask"].float().mean() - 0.2) < 0.02
    assert abs(Solarize(0.2).sample_params(n, gen(3))["mask"].float().mean() - 0.2) < 0.02
    blur = GaussianBlur(0.5, sigma=(0.1, 2.0)).sample_params(n, gen(4))
    assert abs(blur["mask"].float().mean() - 0.5) < 0.02
    assert 0.1 <= blur["sigma"].min() and blur["sigma"].max() <= 2.0


def test_elastic_field_has_torchvisions_scale():
    field = ElasticTransform(alpha=50.0, sigma=5.0).sample_params(64, gen(0), "cpu", (32, 32))["displacement"]
    torch.manual_seed(0)
    ref = torch.cat([v2.ElasticTransform(50.0, 5.0).make_params([torch.zeros(3, 32, 32)])["displacement"]
                     for _ in range(64)])
    assert field.shape == ref.shape == (64, 32, 32, 2)
    assert abs(field.std() / ref.std() - 1) < 0.2


# ----------------------------------------------------------------------------- recipes


def test_every_recipe_returns_normalised_float_views(images):
    for name in RECIPES:
        views = build_recipe(name, 32, MEAN, STD)(images, gen(0))
        expected = 2 + 8 if name == "dino" else 2
        assert len(views) == expected, name
        for view in views:
            assert view.dtype == torch.float32 and view.is_contiguous()
            assert view.shape[:2] == (8, 3) and view.shape[-1] == view.shape[-2]
            assert torch.isfinite(view).all()
        reference = torchvision_recipe(name, 32, MEAN, STD)(images[0])
        assert [tuple(v.shape) for v in reference] == [tuple(v.shape[1:]) for v in views], name


def test_dino_views_are_two_global_and_n_local_crops(images):
    views = build_recipe("dino", 32, MEAN, STD, n_local=3)(images, gen(0))
    assert [tuple(v.shape[-2:]) for v in views] == [(32, 32)] * 2 + [(16, 16)] * 3
    specs = recipe_views("dino", 224)
    assert [s.size for s in specs] == [224, 224] + [96] * 8
    assert specs[0].crop_scale == (0.4, 1.0) and specs[2].crop_scale == (0.05, 0.4)
    assert [s.blur for s in specs[:3]] == [1.0, 0.1, 0.5] and [s.solarize for s in specs[:3]] == [0.0, 0.2, 0.0]


def test_aae_and_none_return_the_clean_image(images):
    clean = normalize(images, MEAN, STD)
    augmented, target = build_recipe("aae", 32, MEAN, STD)(images, gen(0))
    assert torch.equal(target, clean) and not torch.allclose(augmented, clean)
    for view in build_recipe("none", 32, MEAN, STD)(images, gen(0)):
        assert torch.equal(view, clean)


def test_official_asymmetry_and_cifar_adaptation():
    for name in ["byol", "barlowtwins", "vicreg"]:
        large, small = recipe_views(name, 224), recipe_views(name, 32)
        assert [(v.blur, v.solarize) for v in large] == [(1.0, 0.0), (0.1, 0.2)]
        assert [(v.blur, v.solarize) for v in small] == [(0.0, 0.0), (0.0, 0.2)]
        assert (large[0].brightness, large[0].contrast, large[0].saturation, large[0].hue) == (0.4, 0.4, 0.2, 0.1)
    simclr_large, simclr_small = recipe_views("simclr", 224)[0], recipe_views("simclr", 32)[0]
    assert (simclr_large.brightness, simclr_large.hue, simclr_large.blur) == (0.8, 0.2, 0.5)
    small = (simclr_small.brightness, simclr_small.saturation, simclr_small.hue, simclr_small.blur)
    assert small == (0.4, 0.4, 0.1, 0.0)
    assert A.blur_kernel_size(224) == 23 and A.blur_kernel_size(32) == 3


def test_the_second_byol_view_alone_is_solarised(images):
    # only solarisation left: view 1 is the clean image, view 2 solarised for ~20 % of samples
    recipe = build_recipe("byol", 32, MEAN, STD, crop_scale=None, flip=0.0, color_jitter=0.0, grayscale=0.0)
    batch = images.repeat(64, 1, 1, 1)
    first, second = recipe(batch, gen(0))
    clean = normalize(batch, MEAN, STD)
    assert torch.equal(first, clean)
    changed = (second != clean).flatten(1).any(dim=1).float().mean()
    assert 0.12 < changed < 0.28


def test_overrides_switch_components_off_and_on():
    def ops(recipe):
        return [type(a).__name__ for a in recipe.groups[0][0].augmentations]

    assert ops(build_recipe("simclr", 32, MEAN, STD)) == ["RandomResizedCrop", "HorizontalFlip", "ColorJitter",
                                                          "RandomGrayscale"]
    crop_only = build_recipe("simclr", 32, MEAN, STD, color_jitter=0.0, grayscale=0.0)
    assert ops(crop_only) == ["RandomResizedCrop", "HorizontalFlip"]
    colour_only = build_recipe("simclr", 32, MEAN, STD, crop_scale=None, flip=0.0)
    assert ops(colour_only) == ["Resize", "ColorJitter", "RandomGrayscale"]
    blurred = build_recipe("byol", 32, MEAN, STD, blur=[1.0, 0.1], rotation=15.0, noise=0.5)
    assert [s.blur for s in blurred.views] == [1.0, 0.1]
    assert "GaussianBlur" in ops(blurred) and "RandomAffine" in ops(blurred) and "GaussianNoise" in ops(blurred)


def test_deterministic_recipe_equals_torchvision_recipe(images):
    # with every random choice made certain, the two paths built from one spec agree
    options = {"crop_scale": None, "flip": 0.0, "color_jitter": 0.0, "grayscale": 1.0, "solarize": 1.0}
    ours = build_recipe("simclr", 32, MEAN, STD, **options)(images, gen(0))
    reference = torchvision_recipe("simclr", 32, MEAN, STD, **options)
    for i in range(len(images)):
        for view, ref in zip(ours, reference(images[i])):
            torch.testing.assert_close(view[i], ref, atol=ATOL, rtol=0)


def test_recipe_statistics_match_torchvision_recipe():
    # one image, many samples: mean and spread of the per-view statistics agree
    image = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8, generator=gen(3))
    image[:, 0, :16] = 230  # some structure and colour, so hue / crops matter
    n = 64
    ours = torch.cat(build_recipe("byol", 32, MEAN, STD)(image.expand(n, -1, -1, -1).contiguous(), gen(0)))
    torch.manual_seed(0)
    reference = torchvision_recipe("byol", 32, MEAN, STD)
    ref = torch.stack([v for _ in range(n) for v in reference(image[0])])
    for stat in [lambda t: t.mean(dim=(2, 3)), lambda t: t.std(dim=(2, 3))]:
        a, b = stat(ours), stat(ref)  # (2n, 3) per-channel statistics
        assert ((a.mean(0) - b.mean(0)).abs() < 5 * b.std(0) / math.sqrt(len(b))).all()


def test_merged_views_equal_views_run_alone(images):
    # BYOL's two views run as one call; the first view is what its own pipeline gives alone
    from sslkit.augment.recipes import batched_view

    first = build_recipe("byol", 32, MEAN, STD)(images, gen(5))[0]
    alone = batched_view(recipe_views("byol", 32)[0], MEAN, STD)(images, gen(5))
    torch.testing.assert_close(first, alone, atol=ATOL, rtol=0)


def test_views_survive_the_next_call(images):
    # the pipelines reuse scratch memory between calls; what they return must not be part of it
    recipe = build_recipe("byol", 32, MEAN, STD)
    first = recipe(images, gen(0))
    kept = [v.clone() for v in first]
    recipe(images, gen(1))
    assert all(torch.equal(a, b) for a, b in zip(first, kept))


def test_grayscale_applies_to_the_drawn_samples_only(images):
    recipe = build_recipe("simclr", 32, MEAN, STD, crop_scale=None, flip=0.0, color_jitter=0.0, grayscale=0.5)
    batch = images.repeat(16, 1, 1, 1)
    view = recipe(batch, gen(0))[0]
    clean = normalize(batch, MEAN, STD)
    pixels = view * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
    is_clean = (view - clean).flatten(1).abs().amax(1) < ATOL
    is_gray = pixels.std(dim=1).amax(dim=(1, 2)) < ATOL  # R = G = B
    assert (is_clean ^ is_gray).all() and 0.3 < is_gray.float().mean() < 0.7


def test_large_images_blur_and_every_optional_op_runs():
    images = torch.randint(0, 256, (4, 3, 96, 96), dtype=torch.uint8, generator=gen(0))
    views = build_recipe("dino", 96, MEAN, STD, n_local=2)(images, gen(0))
    assert [tuple(v.shape[-2:]) for v in views] == [(96, 96)] * 2 + [(40, 40)] * 2
    recipe = build_recipe("byol", 64, MEAN, STD, rotation=20.0, elastic_alpha=30.0, noise=0.5, noise_std=0.05)
    for view in recipe(images, gen(0)):
        assert view.shape == (4, 3, 64, 64) and torch.isfinite(view).all()


def test_blur_in_a_recipe_equals_torchvision_blur():
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8, generator=gen(0))
    options = {"crop_scale": None, "flip": 0.0, "color_jitter": 0.0, "grayscale": 0.0, "solarize": 0.0,
               "blur": 1.0, "blur_sigma": (1.3, 1.3)}
    ours = build_recipe("byol", 64, MEAN, STD, **options)(images, gen(0))[0]
    reference = torchvision_recipe("byol", 64, MEAN, STD, **options)
    ref = torch.stack([reference(img)[0] for img in images])
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_view_pipeline_normalises(images):
    out = ViewPipeline([], MEAN, STD)(images, gen(0))
    torch.testing.assert_close(out, normalize(images, MEAN, STD), atol=ATOL, rtol=0)


# ----------------------------------------------------------------------------- errors


def test_float_input_is_refused_with_a_fix(images):
    recipe = build_recipe("simclr", 32, MEAN, STD)
    with pytest.raises(ValueError, match=r"uint8.*\(x \* 255\)\.round\(\)\.to\(torch\.uint8\)"):
        recipe(images.float() / 255, gen(0))
    with pytest.raises(ValueError, match="uint8"):
        normalize(images.float(), MEAN, STD)


@pytest.mark.parametrize("shape, fix", [((4, 1, 32, 32), r"expand\(-1, 3, -1, -1\)"),
                                        ((4, 32, 32, 3), r"permute\(0, 3, 1, 2\)"),
                                        ((3, 32, 32), r"unsqueeze\(0\)"),
                                        ((4, 4, 32, 32), "RGB")])
def test_wrong_shapes_are_refused_with_a_fix(shape, fix):
    with pytest.raises(ValueError, match=fix):
        build_recipe("byol", 32, MEAN, STD)(torch.zeros(shape, dtype=torch.uint8), gen(0))


def test_bad_names_and_arguments_are_refused(images):
    with pytest.raises(ValueError, match="simclr, byol, barlowtwins, vicreg, dino, aae, none"):
        build_recipe("moco", 32, MEAN, STD)
    with pytest.raises(ValueError, match="color_jitter"):
        build_recipe("simclr", 32, MEAN, STD, colour_jitter=0.0)
    with pytest.raises(ValueError, match="n_local"):
        build_recipe("byol", 32, MEAN, STD, n_local=2)
    with pytest.raises(ValueError, match="2 views"):
        build_recipe("byol", 32, MEAN, STD, blur=[1.0, 0.1, 0.5])
    with pytest.raises(ValueError, match="torch.Generator"):
        build_recipe("byol", 32, MEAN, STD)(images, 0)
    with pytest.raises(ValueError, match="one uint8 image"):
        torchvision_recipe("byol", 32, MEAN, STD)(images)
    with pytest.raises(ValueError, match="float batch"):
        A.adjust_hue(images, torch.zeros(8))


def test_range_overrides_given_as_lists_work_like_tuples():
    # the command line parses --recipe-set crop_scale=[0.3,1.0] as JSON, i.e. a list
    from sslkit.augment import recipe_views

    as_list = recipe_views("vicreg", 32, crop_scale=[0.3, 1.0])
    as_tuple = recipe_views("vicreg", 32, crop_scale=(0.3, 1.0))
    assert as_list == as_tuple and as_list[0].crop_scale == (0.3, 1.0)


@pytest.mark.parametrize("op", [RandomGrayscale(0.5), Solarize(0.5),
                                GaussianBlur(0.5, sigma=(0.1, 2.0))])
def test_blend_path_equals_select_path(op, monkeypatch):
    """The GPU strategy (whole batch, torch.where; no host sync) gives the CPU one's result."""
    import sslkit.augment.batched as B

    x = torch.rand(16, 3, 12, 12, generator=gen(5))
    params = op.sample_params(16, gen(6), image_size=12)
    assert 0 < int(params["mask"].sum()) < 16  # both kept and changed samples
    selected = op.apply(x.clone(), params)
    real = B.apply_to_selected
    monkeypatch.setattr(B, "apply_to_selected",
                        lambda *a, **kw: real(*a, **{**kw, "blend": True}))
    blended = op.apply(x.clone(), params)
    torch.testing.assert_close(blended, selected, atol=1e-6, rtol=0)
    keep = ~params["mask"]
    assert torch.equal(blended[keep], x[keep])  # unselected samples untouched


def test_view_size_trains_at_a_lower_resolution():
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    views = build_recipe("vicreg", 32, (0.5,) * 3, (0.25,) * 3, view_size=16)(x, gen(0))
    assert [tuple(v.shape) for v in views] == [(4, 3, 16, 16)] * 2
    dino = build_recipe("dino", 32, (0.5,) * 3, (0.25,) * 3, view_size=16, n_local=2)(x, gen(0))
    assert [v.shape[-1] for v in dino] == [16, 16, 8, 8]  # local crops scale along
    with pytest.raises(ValueError, match="view_size"):
        build_recipe("vicreg", 32, (0.5,) * 3, (0.25,) * 3, view_size=0)
