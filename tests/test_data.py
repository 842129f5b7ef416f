"""sslkit.data: ImageData, the shapes data set, the 3D volume, and load()."""

from __future__ import annotations

import math
import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets  # imported here so its ~1-3 s import is not charged to one test
from PIL import Image

from sslkit.data import DATASETS, ImageData, load, make_shapes, make_volume_slices
from sslkit.data import aae_pairs, datasets, neighbour_slice_pairs, object_masks, render_shape
from sslkit.data.shapes import (BACKGROUNDS, CLASSES, FIXED_COLOUR, OBJECT_VALUE_THRESHOLD,
                                ROTATION_ASYMMETRIC_CLASSES, ROTATION_ORDER, SCAN_OVERLAPS,
                                SCAN_THICKNESSES, object_alpha,
                                random_backgrounds, random_foregrounds)

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


# ------------------------------------------------------------------------- shapes ----

def test_make_shapes_same_seed_same_images_different_seed_different_images():
    a, b, c = make_shapes(120, seed=0), make_shapes(120, seed=0), make_shapes(120, seed=1)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert all(torch.equal(a.factors[k], b.factors[k]) for k in a.factors)
    assert not torch.equal(a.images, c.images)


def test_make_shapes_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_shapes(20)
    assert torch.equal(torch.rand(3), expected)


def test_make_shapes_chunking_does_not_change_the_images():
    assert torch.equal(make_shapes(50, chunk_size=7).images, make_shapes(50).images)


def test_make_shapes_dtypes_shapes_and_factor_ranges():
    data = make_shapes(200, image_size=40)
    assert data.images.shape == (200, 3, 40, 40) and data.images.dtype == torch.uint8
    assert data.labels.dtype == torch.int64 and 0 <= data.labels.min() and data.labels.max() < 10
    assert data.classes == list(CLASSES) and data.name == "shapes" and data.image_size == 40
    f = data.factors
    assert set(f) == {"hue", "x", "y", "scale", "rotation", "background", "bg_hue"}
    assert all(v.shape == (200,) for v in f.values())
    for key, low, high in [("hue", 0, 1), ("bg_hue", 0, 1), ("x", 0, 1), ("y", 0, 1),
                           ("scale", 0.2, 0.4), ("rotation", 0, 2 * math.pi)]:
        assert low <= f[key].min() and f[key].max() < high, key
    assert set(f["background"].tolist()) == set(range(len(BACKGROUNDS)))
    # the object stays inside the frame
    assert (f["x"] - f["scale"] >= 0).all() and (f["x"] + f["scale"] <= 1).all()


def test_make_shapes_classes_are_balanced():
    assert torch.bincount(make_shapes(500).labels).tolist() == [50] * 10
    counts = torch.bincount(make_shapes(107).labels)
    assert counts.max() - counts.min() <= 1


def test_nuisance_factors_are_independent_of_the_class():
    data = make_shapes(3000)
    # 300 images per class: the mean of a uniform factor has a standard error of ~0.017 of its range
    for key, low, high in [("hue", 0, 1), ("rotation", 0, 2 * math.pi), ("x", 0.25, 0.75),
                           ("background", 0, 4), ("bg_hue", 0, 1)]:
        overall = data.factors[key].float().mean()
        for k in range(10):
            class_mean = data.factors[key][data.labels == k].float().mean()
            assert abs(class_mean - overall) < 0.1 * (high - low), (key, CLASSES[k])


def _changed(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fraction of pixels that differ clearly between two images."""
    return ((a.int() - b.int()).abs().amax(dim=0) > 64).float().mean().item()


@pytest.mark.parametrize("name", CLASSES)
def test_rotation_symmetry_of_each_shape_is_as_documented(name):
    image = lambda angle: render_shape(name, 64, rotation=angle, scale=0.4)  # noqa: E731
    upright = image(0.0)
    order = ROTATION_ORDER[name]
    if order != 1:  # a turn by the symmetry angle leaves the image (nearly) unchanged
        assert _changed(upright, image(2 * math.pi / order if order else 1.0)) < 0.01
    if order == 0:
        return
    # any smaller turn changes it clearly
    for k in range(1, 12 if order == 1 else 2):
        angle = 2 * math.pi * k / 12 if order == 1 else math.pi / order
        assert _changed(upright, image(angle)) > 0.02, angle
    assert (name in ROTATION_ASYMMETRIC_CLASSES) == (order == 1)


def test_render_shape_draws_the_object_where_asked():
    image = render_shape("circle", 32, x=0.25, y=0.75, scale=0.2, hue=0.0, background="flat")
    red = image[0].int() - image[2].int()  # a red object on a bluish background
    assert red[24, 8] > 100 and red[8, 24] < 0  # row, column: bottom-left has it, top-right not
    with pytest.raises(ValueError, match="circle"):
        render_shape("hexagon")


def test_controlled_variants_keep_everything_else_the_same():
    base = make_shapes(100, seed=5)
    variant = make_shapes(100, seed=5, colour="fixed", rotation=False)
    assert torch.equal(base.labels, variant.labels)
    for key in ("x", "y", "scale", "background", "bg_hue"):
        assert torch.equal(base.factors[key], variant.factors[key]), key
    assert (variant.factors["rotation"] == 0).all() and (variant.factors["hue"] == FIXED_COLOUR[0]).all()


def test_fixed_colour_paints_every_object_the_same_colour():
    def centre_colours(data):  # the object's centre pixel (circles and squares cover their centre)
        rows = (data.factors["y"] * data.image_size).long()
        cols = (data.factors["x"] * data.image_size).long()
        return data.images[torch.arange(len(data)), :, rows, cols].float()  # N x 3

    fixed = centre_colours(make_shapes(100, colour="fixed", classes=["circle", "square"]))
    random = centre_colours(make_shapes(100, colour="random", classes=["circle", "square"]))
    assert fixed.std(dim=0).max() < 1.0
    assert random.std(dim=0).min() > 40


def test_make_shapes_class_and_background_subsets():
    data = make_shapes(60, classes=["arrow", "heart"], backgrounds=["flat"])
    assert data.classes == ["arrow", "heart"] and set(data.labels.tolist()) == {0, 1}
    assert (data.factors["background"] == BACKGROUNDS.index("flat")).all()
    with pytest.raises(ValueError, match="hexagon"):
        make_shapes(10, classes=["circle", "hexagon"])
    with pytest.raises(ValueError, match="colour"):
        make_shapes(10, colour="grey")


def test_object_masks_match_the_rendered_objects():
    data = make_shapes(200, seed=4)
    masks = object_masks(data)
    assert masks.shape == (200, 32, 32) and 0 <= masks.min() and masks.max() <= 1
    # a disc of radius 0.85 * scale (its SDF) covers pi r^2 of the image; the mask is where
    # the object is
    circles = make_shapes(50, seed=4, classes=["circle"])
    expected = math.pi * (0.85 * circles.factors["scale"] * 32) ** 2
    assert torch.allclose(object_masks(circles).sum(dim=(1, 2)), expected, rtol=0.03)
    area = masks.sum(dim=(1, 2))
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    centre_x = (masks * (cols + 0.5)).sum(dim=(1, 2)) / area / 32
    assert (centre_x - data.factors["x"]).abs().max() < 0.08  # centroid vs centre
    # the brightness threshold a recipe uses finds the same pixels
    alpha = object_alpha(data.images.float() / 255)[:, 0]
    assert ((alpha > 0.5) == (masks > 0.5)).float().mean() > 0.99
    with pytest.raises(ValueError, match="lacks"):
        object_masks(ImageData(data.images[:2], data.labels[:2], data.classes, "x"))


def test_aae_pairs_move_the_object_onto_new_backgrounds_and_keep_it_clean_in_the_target():
    data = make_shapes(64, seed=2)
    augmented, target = aae_pairs(data, seed=0, occlusion=0.0)
    assert augmented.shape == target.shape == data.images.shape and target.dtype == torch.uint8
    inside = object_masks(data) > 0.99
    outside = object_masks(data) < 0.01
    # the object keeps its colour in both; the target's background is plain black
    for image in (augmented, target):
        assert (image.int() - data.images.int()).abs().amax(dim=1)[inside].float().mean() < 2
    assert target.amax(dim=1)[outside].max() <= 3  # anti-aliasing: coverage < 0.01
    # the input's background is a new one
    assert (augmented.int() - data.images.int()).abs().amax(dim=1)[outside].float().mean() > 20
    assert torch.equal(aae_pairs(data, seed=0, occlusion=0.0)[0], augmented)  # same seed
    occluded, _ = aae_pairs(data, seed=0, occlusion=1.0)
    assert (occluded != augmented).any(dim=1).float().mean() > 0.1
    with pytest.raises(ValueError, match="probability"):
        aae_pairs(data, occlusion=1.5)


def test_random_backgrounds_and_foregrounds_follow_the_generator():
    g = torch.Generator().manual_seed(0)
    bg, fg = random_backgrounds(10, 16, g, kinds=["stripes"]), random_foregrounds(10, g)
    assert bg.shape == (10, 3, 16, 16) and fg.shape == (10, 3, 1, 1)
    # every object is brighter than every background: what object_alpha relies on
    assert bg.amax(dim=1).max() < OBJECT_VALUE_THRESHOLD < fg.amax(dim=1).min()
    assert bg.std(dim=(2, 3)).mean() > 0.02  # stripes, not flat


def test_volume_slices_and_neighbour_pairs():
    volume = make_volume_slices(depth=24, size=32, seed=0)
    assert volume.shape == (24, 32, 32) and volume.dtype == torch.uint8
    assert torch.equal(volume, make_volume_slices(depth=24, size=32, seed=0))
    a, b = neighbour_slice_pairs(volume, offset=2)
    assert a.shape == b.shape == (22, 3, 32, 32) and a.dtype == torch.uint8
    assert torch.equal(b[0, 1], volume[2]) and torch.equal(a[0, 0], a[0, 2])
    # neighbouring slices look alike, distant ones less so: what makes them a positive pair
    diff = lambda k: (volume[k:].float() - volume[:-k].float()).abs().mean()  # noqa: E731
    assert diff(1) < 0.5 * diff(8)
    with pytest.raises(ValueError, match="offset"):
        neighbour_slice_pairs(volume, offset=24)


# ------------------------------------------------- scans with a known slice thickness ----

def test_scan_slices_shapes_factors_and_determinism():
    from sslkit.data import make_scan_slices

    scan = make_scan_slices(16, slices=4, size=16, seed=0)
    assert scan.images.shape == (64, 3, 16, 16) and scan.images.dtype == torch.uint8
    assert torch.equal(scan.images[:, 0], scan.images[:, 2])  # grayscale
    assert torch.equal(scan.images, make_scan_slices(16, slices=4, size=16, seed=0).images)
    assert not torch.equal(scan.images, make_scan_slices(16, slices=4, size=16, seed=1).images)
    f = scan.factors
    assert f["position"].tolist() == list(range(4)) * 16
    assert f["volume"].tolist() == [v for v in range(16) for _ in range(4)]
    # every (thickness, overlap) pair twice, labels index the thickness
    thickness = torch.tensor(SCAN_THICKNESSES)[scan.labels]
    assert torch.equal(thickness, f["thickness"])
    assert torch.allclose(f["spacing"], f["thickness"] * (1 - f["overlap"]))
    pairs = torch.stack([f["thickness"], f["overlap"]], 1)[::4]
    assert len(pairs.unique(dim=0)) == len(SCAN_THICKNESSES) * len(SCAN_OVERLAPS) == 8
    assert scan.classes == ["1 px", "2 px", "4 px", "8 px"]


def test_scan_slab_average_is_the_fraction_of_the_slab_inside_the_structure():
    from sslkit.data.shapes import _random_rotations, _z_chords

    g = torch.Generator().manual_seed(0)
    rot = _random_rotations(3, g)
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-5)
    semi = torch.tensor([[3.0, 2.0, 5.0], [1.0, 1.0, 9.0], [4.0, 4.0, 4.0]])
    shape = rot @ torch.diag_embed(semi ** -2) @ rot.transpose(1, 2)
    centre = torch.tensor([[0.5, -1.0, 0.3], [0.0, 0.0, -2.0], [1.0, 1.0, 1.0]])
    gx, gy = torch.meshgrid(torch.linspace(-6, 6, 13), torch.linspace(-6, 6, 13), indexing="ij")
    gx, gy = gx.reshape(-1), gy.reshape(-1)
    mid, half = _z_chords(gx, gy, centre, shape)  # closed form
    z = torch.linspace(-4, 4, 8001)  # a slab [-4, 4], sampled along z
    p = torch.stack([gx[None, :, None].expand(3, -1, len(z)), gy[None, :, None].expand(3, -1, len(z)),
                     z.expand(3, len(gx), -1)], -1) - centre[:, None, None]
    inside = (torch.einsum("bpzi,bij,bpzj->bpz", p, shape, p) <= 1).float().mean(-1)
    covered = (torch.minimum(mid + half, torch.tensor(4.0))
               - torch.maximum(mid - half, torch.tensor(-4.0))).clamp_min(0) / 8
    assert inside.sum() > 20  # the slab meets every structure
    assert (covered - inside).abs().max() < 2e-3


def test_scan_thickness_blurs_structure_but_not_the_noise():
    from sslkit.data import make_scan_slices

    clean = make_scan_slices(64, slices=4, size=32, noise=0.0, seed=0)
    x = clean.images[:, 0].float()
    # fine structure: the mean absolute Laplacian of each slice
    fine = (4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2]
            - x[:, 1:-1, 2:]).abs().mean((1, 2))
    per_thickness = [fine[clean.labels == t].mean().item() for t in range(4)]
    assert per_thickness == sorted(per_thickness, reverse=True)  # thicker slabs: smoother
    assert per_thickness[0] > 1.2 * per_thickness[-1]
    # the noise is added after the slab average: the same in the empty corners of thin and
    # thick slices (a real scanner's thick slices are less noisy; that cue is removed)
    noisy = make_scan_slices(64, slices=4, size=32, noise=0.04, seed=0)
    corner = noisy.images[:, 0, :4, :4].float().flatten(1)
    level = [corner[noisy.labels == t].mean().item() for t in range(4)]
    assert max(level) - min(level) < 1.0  # 255 * 0.04 * 0.4 (the clipped half-normal mean)


def test_scan_overlap_makes_neighbours_alike_and_only_pairs_show_it():
    from sslkit.data import make_scan_slices

    scan = make_scan_slices(64, slices=6, size=32, noise=0.0, seed=0)
    x = scan.images[:, 0].float().view(64, 6, -1)
    step = (x[:, 1:] - x[:, :-1]).abs().mean((1, 2))  # change from a slice to the next
    overlap = scan.factors["overlap"].view(64, 6)[:, 0]
    thick = scan.labels.view(64, 6)[:, 0] >= 2
    for group in (thick, ~thick):
        assert step[group & (overlap > 0)].mean() < 0.8 * step[group & (overlap == 0)].mean()
    # one slice does not show the overlap: its brightness does not depend on it
    mean = x.mean((1, 2))
    assert abs(mean[overlap > 0].mean() - mean[overlap == 0].mean()) < 0.1 * mean.mean()


def test_scan_bad_arguments_say_what_to_fix():
    from sslkit.data import make_scan_slices

    with pytest.raises(ValueError, match="slices >= 2"):
        make_scan_slices(4, slices=1)
    with pytest.raises(ValueError, match="overlaps in"):
        make_scan_slices(4, overlaps=(1.0,))
    with pytest.raises(ValueError, match="thicknesses must be > 0"):
        make_scan_slices(4, thicknesses=(0.0, 1.0))
    with pytest.raises(ValueError, match="noise"):
        make_scan_slices(4, noise=-1)


def test_scan_neighbour_stacks_pack_a_slice_between_its_neighbours():
    from sslkit.data import make_scan_slices, scan_neighbour_stacks

    scan = make_scan_slices(8, slices=5, size=16, seed=0)
    stacks = scan_neighbour_stacks(scan)
    assert len(stacks) == 8 * 3 and stacks.name == "scan-stacks"
    assert stacks.factors["position"].tolist() == [1, 2, 3] * 8
    k = 5 * 2 + 1  # volume 2, slice 1
    assert torch.equal(stacks.images[6], torch.stack([scan.images[k + d, 0] for d in (0, -1, 1)]))
    assert torch.equal(stacks.labels[6], scan.labels[k])
    assert len(scan_neighbour_stacks(scan, offset=2)) == 8
    with pytest.raises(ValueError, match="both sides"):
        scan_neighbour_stacks(scan, offset=3)
    with pytest.raises(ValueError, match="factors"):
        scan_neighbour_stacks(make_shapes(4))
    with pytest.raises(ValueError, match="offset"):
        scan_neighbour_stacks(scan, offset=0)


# ---------------------------------------------------------------------- ImageData ----

def _tiny(n=6, size=4, classes=3) -> ImageData:
    images = torch.arange(n * 3 * size * size, dtype=torch.uint8).reshape(n, 3, size, size)
    return ImageData(images, torch.arange(n) % classes, [f"c{i}" for i in range(classes)], "tiny",
                     {"angle": torch.linspace(0, 1, n)})


@pytest.mark.parametrize("images, message", [
    (torch.rand(2, 32, 32, 3), r"uint8 \(N, 3, H, W\); got float32 \(2, 32, 32, 3\).*permute.*\*255"),
    (torch.zeros(2, 1, 8, 8, dtype=torch.uint8), "3 channels"),
    (torch.zeros(3, 8, 8, dtype=torch.uint8), "unsqueeze"),
    (torch.zeros(2, 3, 8, 8, dtype=torch.int32), "to\\(torch.uint8\\)"),
    (torch.zeros(2, 3, 8, 6, dtype=torch.uint8), "square"),
    (np.zeros((2, 8, 8, 3), dtype=np.uint8), "from_numpy"),
])
def test_imagedata_rejects_bad_images_and_says_how_to_fix_them(images, message):
    with pytest.raises(ValueError, match=message):
        ImageData(images, torch.zeros(2, dtype=torch.long), ["a"], "bad")


def test_imagedata_rejects_bad_labels_and_factors():
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="labels has 3 entries for 4 images"):
        ImageData(images, torch.zeros(3, dtype=torch.long), ["a"], "bad")
    with pytest.raises(ValueError, match="int64.*int32"):
        ImageData(images, torch.zeros(4, dtype=torch.int32), ["a"], "bad")
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        ImageData(images, torch.tensor([0, 1, 2, 0]), ["a", "b"], "bad")
    with pytest.raises(ValueError, match="factor 'hue'"):
        ImageData(images, torch.zeros(4, dtype=torch.long), ["a"], "bad", {"hue": torch.zeros(3)})
    ImageData(images, torch.tensor([-1, -1, 0, 0]), ["a"], "unlabelled is fine")


def test_imagedata_subset_len_and_image_size():
    data = _tiny()
    assert len(data) == 6 and data.image_size == 4
    for index, expected in [(torch.tensor([4, 1]), [4, 1]), ([4, 1], [4, 1]), (data.labels == 1, [1, 4])]:
        part = data.subset(index)
        assert len(part) == 2 and torch.equal(part.images, data.images[expected])
        assert torch.equal(part.factors["angle"], data.factors["angle"][expected])
        assert part.classes == data.classes and part.name == "tiny"
    head = data.subset(slice(0, 3))
    assert torch.equal(head.labels, torch.tensor([0, 1, 2])) and len(head.factors["angle"]) == 3


def test_imagedata_mean_std_per_channel_in_unit_range_and_cached():
    data = _tiny(n=5)
    x = data.images.double() / 255
    mean, std = data.mean_std()
    assert np.allclose(mean, x.mean(dim=(0, 2, 3))) and np.allclose(std, x.std(dim=(0, 2, 3), unbiased=False))
    assert data.mean_std() is data.mean_std()


# ------------------------------------------------------------------------- load() ----

def test_unknown_data_set_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        load("imagenet")
    assert all(name in str(info.value) for name in DATASETS)


def test_load_shapes_splits_differ():
    train, test = load("shapes", "train", n=50), load("shapes", "test", n=50)
    assert not torch.equal(train.images, test.images)
    assert torch.equal(train.images, make_shapes(50, seed=0, rotation=False).images)
    assert datasets.SHAPES_SPLITS == {"train": {"n": 10_000, "seed": 0, "rotation": False},
                                      "test": {"n": 2_000, "seed": 1, "rotation": False}}
    with pytest.raises(ValueError, match="train, test"):
        load("shapes", "val")


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10"])
def test_missing_data_says_how_to_get_it(name, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load(name, "test", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path) in message and "download=True" in message and "shapes" in message
    assert info.value.__cause__ is not None  # torchvision's own error is kept


def test_default_root_comes_from_sslkit_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cifar10")):
        load("cifar10")


def test_failed_download_keeps_the_network_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(RuntimeError, match="download=True.*shapes") as info:
        load("cifar10", root=tmp_path, download=True)
    assert isinstance(info.value.__cause__, urllib.error.URLError)


def test_bad_split_names_the_valid_ones():
    with pytest.raises(ValueError, match="train, test, unlabeled"):
        load("stl10", "val")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SSLKIT_CACHE", str(cache))
    return cache


def _write_folder(folder, classes=("cat", "dog"), per_class=3, size=(8, 8)):
    """folder/<class>/<i>.png with a distinct flat colour per image; returns the colours."""
    colours = {}
    for k, name in enumerate(classes):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            colour = (40 * k, 20 * i, 200)
            Image.new("RGB", size, colour).save(folder / name / f"{i}.png")
            colours[name, i] = colour
    return colours


def test_imagefolder_reads_class_folders(tmp_path, tmp_cache):
    colours = _write_folder(tmp_path / "pets")
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("not an image, skipped")
    data = load("imagefolder", root=tmp_path / "pets")
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.images.shape == (6, 3, 8, 8) and data.name == "pets"
    assert data.images[4, :, 0, 0].tolist() == list(colours["dog", 1])


def test_imagefolder_split_layout(tmp_path, tmp_cache):
    _write_folder(tmp_path / "train", per_class=3)
    _write_folder(tmp_path / "test", per_class=1)
    assert len(load("imagefolder", "train", root=tmp_path)) == 6
    assert len(load("imagefolder", "test", root=tmp_path)) == 2
    with pytest.raises(FileNotFoundError, match="split='test'"):
        load("imagefolder", "val", root=tmp_path)
    with pytest.raises(ValueError, match="root=FOLDER"):
        load("imagefolder")


def test_imagefolder_empty_folders_say_what_is_missing(tmp_path, tmp_cache):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load("imagefolder", root=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=f"no class folders in {tmp_path}.*<class>"):
        load("imagefolder", root=tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "readme.md").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=f"no image files.*{tmp_path / 'cat'}"):
        load("imagefolder", root=tmp_path)


def test_imagefolder_corrupt_image_names_the_file(tmp_path, tmp_cache):
    _write_folder(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(RuntimeError, match="broken.png.*delete or replace"):
        load("imagefolder", root=tmp_path)


def test_imagefolder_sizes_must_agree_unless_image_size_is_given(tmp_path, tmp_cache):
    _write_folder(tmp_path)
    Image.new("RGB", (12, 10), (255, 0, 0)).save(tmp_path / "dog" / "wide.png")
    with pytest.raises(ValueError, match="wide.png is 12x10.*image_size"):
        load("imagefolder", root=tmp_path)
    data = load("imagefolder", root=tmp_path, image_size=5)
    assert data.images.shape == (7, 3, 5, 5) and data.images[-1, :, 2, 2].tolist() == [255, 0, 0]


def test_decoded_folders_are_cached_and_a_corrupt_cache_is_rebuilt(tmp_path, tmp_cache, monkeypatch):
    _write_folder(tmp_path / "pets")
    first = load("imagefolder", root=tmp_path / "pets")
    (cache_file,) = tmp_cache.glob("*.pt")

    real_decode = datasets._decode
    monkeypatch.setattr(datasets, "_decode", lambda *a: pytest.fail("decoded again despite the cache"))
    assert torch.equal(load("imagefolder", root=tmp_path / "pets").images, first.images)

    monkeypatch.setattr(datasets, "_decode", real_decode)
    cache_file.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="unreadable cache"):
        rebuilt = load("imagefolder", root=tmp_path / "pets")
    assert torch.equal(rebuilt.images, first.images)
    assert list(tmp_cache.glob("*.pt")) == [cache_file]  # rewritten in place, no temp files left

    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "pets" / "dog" / "new.png")
    assert len(load("imagefolder", root=tmp_path / "pets")) == 7  # a changed folder is re-read
    assert len(list(tmp_cache.glob("*.pt"))) == 2


def test_cache_can_be_turned_off(tmp_path, tmp_cache):
    _write_folder(tmp_path / "pets")
    load("imagefolder", root=tmp_path / "pets", cache=False)
    assert not tmp_cache.exists() or not list(tmp_cache.glob("*.pt"))


def test_cifar_from_an_image_folder_copy(tmp_path, tmp_cache):
    _write_folder(tmp_path / "test", classes=CIFAR10_CLASSES, per_class=1, size=(32, 32))
    data = load("cifar10", "test", root=tmp_path)
    assert data.name == "cifar10" and data.classes == CIFAR10_CLASSES and len(data) == 10
    with pytest.raises(ValueError, match="10 class folders, but cifar100 has 100"):
        load("cifar100", "test", root=tmp_path)


def test_resize_keeps_flat_images_flat():
    images = torch.full((3, 3, 96, 96), 77, dtype=torch.uint8)
    out = datasets.resize(images, 32, chunk_size=2)
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.uint8 and (out == 77).all()


@pytest.mark.needs_cifar
def test_real_cifar10_jpeg_copy_test_split(cifar10_root):
    data = load("cifar10", "test", root=cifar10_root)  # decoded once, then read from the cache
    assert data.images.shape == (10_000, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.classes == CIFAR10_CLASSES
    assert torch.bincount(data.labels).tolist() == [1000] * 10
    mean, _ = data.mean_std()
    assert all(0.4 < m < 0.55 for m in mean)  # CIFAR-10's mean is about (0.49, 0.48, 0.45)
