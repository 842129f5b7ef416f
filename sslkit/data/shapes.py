"""The embedded data set: procedurally drawn shapes, no download needed.

Each image shows one object on a textured background. The CLASS is the object's shape (the
content); every other property is a NUISANCE (style), drawn at random for each image
independently of the class and returned as ground truth in `ImageData.factors`:

    hue         foreground hue in [0, 1). Colour is made a strong, image-specific cue on
                purpose: two crops of one image share it, two images rarely do, so a network
                trained without colour augmentation can match views by colour alone (the
                colour shortcut of chapter 1). `colour="fixed"` removes the cue.
    x, y        object centre as a fraction of the width / height, from the top-left corner
                (what random crops move around).
    scale       radius of the object's bounding circle as a fraction of the image width
                (0.22 to 0.36; what random-resized crops change).
    rotation    counter-clockwise rotation in radians, [0, 2*pi). The AAE chapter (2) predicts
                it from the code of a shape without rotational symmetry
                (ROTATION_ASYMMETRIC_CLASSES); `rotation=False` keeps every object upright.
    background  index into BACKGROUNDS (flat, gradient, stripes, checkerboard, noise): a
                texture the representation should learn to ignore.
    bg_hue      background hue in [0, 1), drawn independently of the foreground hue.

Rendering is vectorised: the signed-distance function (SDF) of every object is evaluated on a
batched pixel grid and turned into coverage with a one-pixel smooth step (anti-aliasing); the
SDFs follow Inigo Quilez's 2D distance functions (iquilezles.org/articles/distfunctions2d).
All randomness is drawn up front from one torch.Generator, in an order that does not depend on
the options, so `make_shapes(seed=s, colour="fixed", rotation=False)` is the controlled twin
of `make_shapes(seed=s)`: same labels, positions, scales and backgrounds.

Content and style (issue 12). The colours and the background make the untrained network weak
(its kNN by shape is about 0.2: random features see colour first) and are what the "shapes"
augmentation recipe (sslkit.augment.shapes_recipe) redraws in every view, as Causal3DIdent
(von Kuegelgen et al. 2021) renders a second view with new style factors; SSL then learns the
shape in a minute. `load("shapes")` is upright (`SPLITS`); `make_shapes` rotates by default,
for the AAE chapter, whose code must carry the rotation. `sslkit.evaluate.factor_probes`
reads each factor back from a representation. The object's pixels are known too:
`object_masks` (from the factors) and `object_alpha` (from an image: every object is brighter
than every background); `aae_pairs` puts each object on a new background, possibly occluded,
beside its clean render on black (the augmented autoencoder's input and target).

`make_volume_slices` adds a synthetic 3D scan whose neighbouring slices serve as two views
(the task-specific augmentation of chapter 1); `make_scan_slices` makes many such scans with a
known slice thickness and overlap, and `scan_neighbour_stacks` packs each slice with its
neighbours for training on them (the "scan" recipe, sslkit.augment.scan_recipe).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from sslkit.data.images import ImageData

CLASSES = (
    "circle", "square", "triangle", "star", "cross",
    "ring", "crescent", "heart", "L-shape", "arrow",
)
# Order of rotational symmetry of each shape: the object looks the same after a turn of
# 2*pi/order; 0 means every rotation (circle, ring), 1 means none.
ROTATION_ORDER = {
    "circle": 0, "square": 4, "triangle": 3, "star": 5, "cross": 4,
    "ring": 0, "crescent": 1, "heart": 1, "L-shape": 1, "arrow": 1,
}
# Shapes whose rotation in [0, 2*pi) can be read off the image (the AAE chapter uses these).
ROTATION_ASYMMETRIC_CLASSES = tuple(c for c in CLASSES if ROTATION_ORDER[c] == 1)
BACKGROUNDS = ("flat", "gradient", "stripes", "checkerboard", "noise")
# The data set `load("shapes")` gives: upright objects (rotation is an option, `rotation=True`,
# that the "shapes" recipe's `rotation=180` turns into style).
SPLITS = {"train": {"n": 10_000, "seed": 0, "rotation": False},
          "test": {"n": 2_000, "seed": 1, "rotation": False}}

FIXED_COLOUR = (0.08, 0.9, 1.0)  # hue, saturation, value of colour="fixed" (orange)
_TEXTURE_AMPLITUDE = 0.22  # peak-to-peak change of the background's HSV value
_NOISE_GRID = 8  # the "noise" background is uniform noise on an 8x8 grid, upsampled


# ---------------------------------------------------------------- signed distances ----
# Every shape fits in the unit circle of its own frame, y pointing up; negative inside.

def _regular_star(points: int, outer: float, inner: float) -> list[tuple[float, float]]:
    radii = [outer, inner] * points
    return [
        (r * math.cos(math.pi / 2 + math.pi * i / points), r * math.sin(math.pi / 2 + math.pi * i / points))
        for i, r in enumerate(radii)
    ]


def _shifted(vertices: list[tuple[float, float]], dx: float, dy: float) -> list[tuple[float, float]]:
    return [(x + dx, y + dy) for x, y in vertices]


_POLYGONS = {
    "square": [(-0.7, -0.7), (0.7, -0.7), (0.7, 0.7), (-0.7, 0.7)],
    "triangle": [(0.0, 1.0), (-0.866, -0.5), (0.866, -0.5)],
    "star": _regular_star(5, 1.0, 0.45),
    "cross": [
        (-0.3, 0.95), (0.3, 0.95), (0.3, 0.3), (0.95, 0.3), (0.95, -0.3), (0.3, -0.3),
        (0.3, -0.95), (-0.3, -0.95), (-0.3, -0.3), (-0.95, -0.3), (-0.95, 0.3), (-0.3, 0.3),
    ],
    # centred on its centroid, so that rotation turns it about its middle
    "L-shape": _shifted([(-0.6, 0.85), (-0.6, -0.85), (0.7, -0.85), (0.7, -0.33), (-0.08, -0.33),
                         (-0.08, 0.85)], 0.14, 0.19),
    # points right at rotation 0
    "arrow": [(-0.9, 0.25), (0.05, 0.25), (0.05, 0.7), (0.95, 0.0), (0.05, -0.7), (0.05, -0.25),
              (-0.9, -0.25)],
    # the body of the heart; two discs make its lobes (_sd_heart)
    "heart": [(-0.88, 0.31), (0.0, -0.86), (0.88, 0.31)],
}


def _sd_polygon(qx: torch.Tensor, qy: torch.Tensor, vertices: list[tuple[float, float]]) -> torch.Tensor:
    """Exact signed distance to a simple (possibly concave) polygon; Quilez's sdPolygon."""
    dist_sq = None
    inside = torch.zeros_like(qx, dtype=torch.bool)
    for i in range(len(vertices)):
        (xi, yi), (xj, yj) = vertices[i], vertices[i - 1]
        ex, ey = xj - xi, yj - yi
        wx, wy = qx - xi, qy - yi
        h = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0)
        edge_sq = (wx - ex * h).square() + (wy - ey * h).square()
        dist_sq = edge_sq if dist_sq is None else torch.minimum(dist_sq, edge_sq)
        # crossing number: does a ray from q cross this edge?
        above, below, left = qy >= yi, qy < yj, ex * wy > ey * wx
        inside ^= (above & below & left) | ~(above | below | left)
    return torch.where(inside, -1.0, 1.0) * dist_sq.sqrt()


def _sd_heart(qx: torch.Tensor, qy: torch.Tensor) -> torch.Tensor:
    """Two discs on a downward triangle. The cleft between the lobes is cut deeper than in
    the textbook heart so that it survives at 32 px (a shallow one reads as a blob)."""
    lobes = torch.minimum(
        torch.sqrt((qx + 0.45).square() + (qy - 0.39).square()),
        torch.sqrt((qx - 0.45).square() + (qy - 0.39).square()),
    ) - 0.47
    return torch.minimum(lobes, _sd_polygon(qx, qy, _POLYGONS["heart"]))


def _sd_shape(name: str, qx: torch.Tensor, qy: torch.Tensor) -> torch.Tensor:
    if name == "heart":
        return _sd_heart(qx, qy)
    if name in _POLYGONS:
        return _sd_polygon(qx, qy, _POLYGONS[name])
    radius = torch.sqrt(qx.square() + qy.square())
    if name == "circle":
        return radius - 0.85
    if name == "ring":
        return (radius - 0.7).abs() - 0.26
    if name == "crescent":  # a disc minus an offset disc; opens to the right at rotation 0
        outer = torch.sqrt((qx - 0.2).square() + qy.square()) - 0.9
        inner = torch.sqrt((qx - 0.65).square() + qy.square()) - 0.75
        return torch.maximum(outer, -inner)
    raise ValueError(f"unknown shape {name!r}; the shapes are {', '.join(CLASSES)}")


# ---------------------------------------------------------------------- rendering ----

def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Hue, saturation, value in [0, 1], each broadcastable to (B, H, W) -> (B, 3, H, W) RGB."""
    channels = []
    for n in (5.0, 3.0, 1.0):  # red, green, blue
        k = (n + h * 6.0) % 6.0
        channels.append(v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0))
    return torch.stack(channels, dim=1)


def _texture(kind: str, px: torch.Tensor, py: torch.Tensor, p: dict[str, torch.Tensor],
             noise: torch.Tensor) -> torch.Tensor:
    """Background pattern in [0, 1], (B, S, S). px, py: pixel centres in [-1, 1], y up."""
    angle = p["tex_angle"][:, None, None] * 2 * math.pi
    along = px * torch.cos(angle) + py * torch.sin(angle)
    across = -px * torch.sin(angle) + py * torch.cos(angle)
    # cycles per image width: stripes and checks 5 to 9 px wide at 32 px
    freq = 1.75 + 1.5 * p["tex_freq"][:, None, None]
    phase = p["tex_phase"][:, None, None] * 2 * math.pi
    if kind == "flat":
        return torch.full_like(px, 0.5)
    if kind == "gradient":
        return 0.5 + along / (2 * math.sqrt(2))
    if kind == "stripes":  # a soft square wave
        return 0.5 + 0.5 * (3 * torch.sin(math.pi * freq * along + phase)).clamp(-1, 1)
    if kind == "checkerboard":
        checks = torch.sin(math.pi * freq * along + phase) * torch.sin(math.pi * freq * across + phase)
        return 0.5 + 0.5 * (6 * checks).clamp(-1, 1)
    if kind == "noise":
        size = px.shape[-1]
        smooth = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)[:, 0]
        return (0.5 + 2.0 * (smooth - 0.5)).clamp(0, 1)  # stretch: averaging shrinks the range
    raise ValueError(f"unknown background {kind!r}; the backgrounds are {', '.join(BACKGROUNDS)}")


def _pixel_grid(b: int, s: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres in [-1, 1], (B, S, S) each: x to the right, y up (so rotations are
    counter-clockwise on screen)."""
    centres = (torch.arange(s, dtype=torch.float32, device=device) + 0.5) * (2.0 / s) - 1.0
    return centres.expand(b, s, s), -centres[:, None].expand(b, s, s)


def _coverage(p: dict[str, torch.Tensor], shape: torch.Tensor, image_size: int) -> torch.Tensor:
    """The object's anti-aliased coverage in [0, 1], (B, 1, S, S): the object mask.
    p: x, y, scale, rotation, each (B,); shape: (B,) indices into CLASSES."""
    b, s = len(shape), image_size
    px, py = _pixel_grid(b, s)
    col = lambda key: p[key][:, None, None]  # noqa: E731  (B,) -> (B, 1, 1)
    # object frame: translate, rotate by -rotation, scale to the unit circle
    radius = 2.0 * col("scale")
    dx, dy = px - (2 * col("x") - 1), py + (2 * col("y") - 1)
    cos, sin = torch.cos(col("rotation")), torch.sin(col("rotation"))
    qx, qy = (cos * dx + sin * dy) / radius, (-sin * dx + cos * dy) / radius
    distance = torch.empty_like(px)
    for k in shape.unique().tolist():
        idx = (shape == k).nonzero()[:, 0]
        distance[idx] = _sd_shape(CLASSES[k], qx[idx], qy[idx]) * radius[idx]
    # coverage of each pixel: a smooth step one pixel (2/S) wide across the boundary
    t = (0.5 - distance * (s / 2.0)).clamp(0.0, 1.0)
    return (t * t * (3 - 2 * t))[:, None]  # B x 1 x S x S


def _paint_background(p: dict[str, torch.Tensor], background: torch.Tensor, noise: torch.Tensor,
                      image_size: int) -> torch.Tensor:
    """The textured background, (B, 3, S, S) float in [0, 1]. p: bg_hue, bg_saturation,
    bg_value, tex_angle, tex_freq, tex_phase, each (B,); background: (B,) indices into
    BACKGROUNDS; noise: (B, 1, 8, 8)."""
    b = len(background)
    px, py = _pixel_grid(b, image_size, background.device)
    col = lambda key: p[key][:, None, None]  # noqa: E731  (B,) -> (B, 1, 1)
    pattern = torch.empty_like(px)
    for k in background.unique().tolist():
        idx = (background == k).nonzero()[:, 0]
        params = {key: value[idx] for key, value in p.items()}
        pattern[idx] = _texture(BACKGROUNDS[k], px[idx], py[idx], params, noise[idx])
    # the texture modulates the HSV value only, and RGB is proportional to the value
    bg_value = col("bg_value") + _TEXTURE_AMPLITUDE * (pattern - 0.5)
    return bg_value[:, None] * _hsv_to_rgb(col("bg_hue"), col("bg_saturation"),
                                           torch.ones(b, 1, 1, device=px.device))


def _foreground(p: dict[str, torch.Tensor]) -> torch.Tensor:
    """The object's colour, (B, 3, 1, 1). p: hue, saturation, value, each (B,)."""
    col = lambda key: p[key][:, None, None]  # noqa: E731  (B,) -> (B, 1, 1)
    return _hsv_to_rgb(col("hue"), col("saturation"), col("value"))


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round_().clamp_(0, 255).to(torch.uint8)


def _render(p: dict[str, torch.Tensor], shape: torch.Tensor, background: torch.Tensor,
            noise: torch.Tensor, image_size: int) -> torch.Tensor:
    """Draw B images. p: per-image parameters, each (B,); shape, background: (B,) indices
    into CLASSES, BACKGROUNDS; noise: (B, 1, 8, 8). Returns (B, 3, S, S) uint8."""
    alpha = _coverage(p, shape, image_size)
    bg = _paint_background(p, background, noise, image_size)
    return _to_uint8(bg + (_foreground(p) - bg) * alpha)


def _options_index(names: Sequence[str] | None, valid: tuple[str, ...], what: str) -> list[int]:
    if names is None:
        return list(range(len(valid)))
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise ValueError(f"unknown {what} {unknown or names!r}; choose from {', '.join(valid)}")
    return [valid.index(n) for n in names]


def make_shapes(
    n: int = 10_000,
    image_size: int = 32,
    seed: int = 0,
    *,
    colour: str = "random",
    rotation: bool = True,
    classes: Sequence[str] | None = None,
    backgrounds: Sequence[str] | None = None,
    chunk_size: int = 1024,
) -> ImageData:
    """Generate the shapes data set (see the module docstring for what each nuisance is for).

    n: number of images; classes are balanced (counts differ by at most one).
    image_size: side in pixels (shapes stay recognisable down to 32).
    seed: the same seed gives bit-identical images; train is seed 0, test seed 1 (SPLITS).
    colour: "random" (a random bright foreground colour per image) or "fixed" (FIXED_COLOUR
        for every image, which takes the colour shortcut away).
    rotation: False draws every object upright (factor `rotation` is then 0).
    classes: a subset of CLASSES to draw; labels then index this list.
    backgrounds: a subset of BACKGROUNDS to draw from (e.g. ["flat"] for clean images).
    chunk_size: images rasterised at once (bounds memory to ~60 MB per 1024 at 32 px).

    Returns ImageData with `factors` hue, x, y, scale, rotation, background, bg_hue.
    """
    if colour not in ("random", "fixed"):
        raise ValueError(f'colour must be "random" or "fixed"; got {colour!r}')
    if n < 1 or image_size < 8:
        raise ValueError(f"need n >= 1 and image_size >= 8; got n={n}, image_size={image_size}")
    class_ids = _options_index(classes, CLASSES, "classes")
    background_ids = _options_index(backgrounds, BACKGROUNDS, "backgrounds")

    # All draws first, in a fixed order and shape, so that options never shift the stream.
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g)
    u = torch.rand(n, 15, generator=g).unbind(dim=1)
    noise = torch.rand(n, 1, _NOISE_GRID, _NOISE_GRID, generator=g)

    label = order % len(class_ids)
    scale = 0.22 + 0.14 * u[5]
    room = 0.9 * (0.5 - scale)  # keep the whole object inside the frame
    p = {
        "hue": u[0], "saturation": 0.6 + 0.4 * u[1], "value": 0.75 + 0.25 * u[2],
        "x": 0.5 + (2 * u[3] - 1) * room, "y": 0.5 + (2 * u[4] - 1) * room, "scale": scale,
        "rotation": 2 * math.pi * u[6] if rotation else torch.zeros(n),
        "bg_hue": u[8], "bg_saturation": 0.15 + 0.5 * u[9], "bg_value": 0.15 + 0.27 * u[10],
        "tex_angle": u[11], "tex_freq": u[12], "tex_phase": u[13],
    }
    if colour == "fixed":
        for key, value in zip(("hue", "saturation", "value"), FIXED_COLOUR):
            p[key] = torch.full((n,), value)
    shape = torch.tensor(class_ids)[label]
    background = torch.tensor(background_ids)[(u[7] * len(background_ids)).long()]

    images = torch.empty(n, 3, image_size, image_size, dtype=torch.uint8)
    for start in range(0, n, chunk_size):
        part = slice(start, start + chunk_size)
        images[part] = _render({k: v[part] for k, v in p.items()}, shape[part], background[part],
                               noise[part], image_size)
    factors = {k: p[k].float() for k in ("hue", "x", "y", "scale", "rotation", "bg_hue")}
    factors["background"] = background
    return ImageData(images, label, [CLASSES[i] for i in class_ids], "shapes", factors)


def render_shape(
    name: str,
    image_size: int = 32,
    *,
    x: float = 0.5,
    y: float = 0.5,
    scale: float = 0.3,
    rotation: float = 0.0,
    hue: float = FIXED_COLOUR[0],
    background: str = "flat",
    bg_hue: float = 0.6,
) -> torch.Tensor:
    """One image, (3, S, S) uint8, with the given factors (no randomness): for tests and figures."""
    if name not in CLASSES:
        raise ValueError(f"unknown shape {name!r}; the shapes are {', '.join(CLASSES)}")
    if background not in BACKGROUNDS:
        raise ValueError(f"unknown background {background!r}; the backgrounds are {', '.join(BACKGROUNDS)}")
    p = dict(hue=hue, saturation=FIXED_COLOUR[1], value=FIXED_COLOUR[2], x=x, y=y, scale=scale,
             rotation=rotation, bg_hue=bg_hue, bg_saturation=0.4, bg_value=0.35,
             tex_angle=0.1, tex_freq=0.5, tex_phase=0.0)
    noise = torch.rand(1, 1, _NOISE_GRID, _NOISE_GRID, generator=torch.Generator().manual_seed(0))
    return _render({k: torch.tensor([float(v)]) for k, v in p.items()},
                   torch.tensor([CLASSES.index(name)]), torch.tensor([BACKGROUNDS.index(background)]),
                   noise, image_size)[0]


def object_masks(data: ImageData) -> torch.Tensor:
    """The object mask of every image of a shapes ImageData: (N, H, W) float coverage in
    [0, 1] (anti-aliased edges; `> 0.5` gives a binary mask), re-rendered from the labels and
    the factors x, y, scale, rotation, so it matches the images exactly."""
    missing = {"x", "y", "scale", "rotation"} - set(data.factors)
    if missing:
        raise ValueError(f"object_masks needs the shapes factors x, y, scale, rotation; "
                         f"{data.name!r} lacks {sorted(missing)} (only make_shapes data has them)")
    shape = torch.tensor([CLASSES.index(c) for c in data.classes])[data.labels]
    p = {k: data.factors[k].float() for k in ("x", "y", "scale", "rotation")}
    return _coverage(p, shape, data.image_size)[:, 0]


# Every object is brighter than every background (HSV value >= 0.75 against <= 0.42 + half
# the texture amplitude 0.11): a threshold on the value finds the object in any image.
OBJECT_VALUE_THRESHOLD = 0.64


def object_alpha(x: torch.Tensor) -> torch.Tensor:
    """The object's coverage, (N, 1, H, W) in [0, 1], read off float images x (N, 3, H, W) in
    [0, 1] of the shapes: a soft threshold of the HSV value (max of R, G, B) at
    OBJECT_VALUE_THRESHOLD. What a recipe uses to repaint a view's colours and background
    without the generator's factors."""
    return ((x.amax(dim=1, keepdim=True) - 0.55) / 0.18).clamp_(0.0, 1.0)


def random_backgrounds(n: int, image_size: int, generator: torch.Generator,
                       kinds: Sequence[str] | None = None) -> torch.Tensor:
    """n new backgrounds (N, 3, S, S) float in [0, 1], drawn as make_shapes draws them (texture
    kind among `kinds`, default all BACKGROUNDS; hue, saturation, brightness, texture angle,
    frequency and phase), on the generator's device."""
    device = generator.device
    kind_ids = torch.tensor(_options_index(kinds, BACKGROUNDS, "backgrounds"), device=device)
    u = torch.rand(7, n, generator=generator, device=device)
    noise = torch.rand(n, 1, _NOISE_GRID, _NOISE_GRID, generator=generator, device=device)
    p = {"bg_hue": u[0], "bg_saturation": 0.15 + 0.5 * u[1], "bg_value": 0.15 + 0.27 * u[2],
         "tex_angle": u[3], "tex_freq": u[4], "tex_phase": u[5]}
    kind = kind_ids[(u[6] * len(kind_ids)).long().clamp_(max=len(kind_ids) - 1)]
    return _paint_background(p, kind, noise, image_size)


def random_foregrounds(n: int, generator: torch.Generator) -> torch.Tensor:
    """n new object colours (N, 3, 1, 1), drawn as make_shapes' colour="random" draws them."""
    u = torch.rand(3, n, generator=generator, device=generator.device)
    return _foreground({"hue": u[0], "saturation": 0.6 + 0.4 * u[1], "value": 0.75 + 0.25 * u[2]})


def occlude(x: torch.Tensor, generator: torch.Generator, probability: float) -> torch.Tensor:
    """Draw an occluder over float images x (N, 3, S, S) in [0, 1], each with this
    probability: an axis-aligned rectangle of 20-50 % of the side at a random place, filled
    with a new background (texture and colours drawn as make_shapes draws them).

    The augmented autoencoder's official config (DLR-RM/AugmentedAutoencoder,
    auto_pose/ae/cfg/train_template.cfg) occludes by dropping coarse blocks of pixels
    (`Sometimes(0.5, CoarseDropout(p=0.2, size_percent=0.05))`) and has a SQUARE_OCCLUSION
    option. One textured rectangle is the simplest of these that a 32 px image shows; being
    textured like a background, it is no cue the code could latch onto."""
    if not 0 <= probability <= 1:
        raise ValueError(f"the occlusion probability must be in [0, 1]; got {probability}")
    n, s = x.shape[0], x.shape[-1]
    device = generator.device
    corners = torch.rand(n, 2, generator=generator, device=device)
    sides = 0.2 + 0.3 * torch.rand(n, 2, generator=generator, device=device)
    centres = (torch.arange(s, dtype=torch.float32, device=device) + 0.5) / s
    x0, y0 = (corners * (1 - sides)).unbind(dim=1)
    inside_x = (centres >= x0[:, None]) & (centres < (x0 + sides[:, 0])[:, None])  # N x W
    inside_y = (centres >= y0[:, None]) & (centres < (y0 + sides[:, 1])[:, None])  # N x H
    occluded = torch.rand(n, generator=generator, device=device) < probability
    box = (inside_y[:, :, None] & inside_x[:, None, :])[:, None] & occluded[:, None, None, None]
    return torch.where(box, random_backgrounds(n, s, generator).to(x.dtype), x)


def aae_pairs(data: ImageData, seed: int = 0, *, occlusion: float = 0.5,
              background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, target) pairs for the augmented autoencoder, as the article tells it: the input
    is the object on a NEW random background (any texture, hue, brightness), possibly
    occluded; the target is the clean render of the same object on a plain background.

    data: a shapes ImageData (its objects: class, position, scale, rotation, colour).
    seed: draws the new backgrounds and occluders (the same seed, the same pairs).
    occlusion: probability of an occluder (`occlude`): a rectangle of 20-50 % of the side,
        filled with a second new background, drawn over the image.
    background: RGB in [0, 1] of the target's plain background (default black).
    Returns two (N, 3, H, W) uint8 tensors: input, target. The encoder that maps the input
    to a code the decoder turns into the target must ignore the background and occluders.
    """
    if not 0 <= occlusion <= 1:
        raise ValueError(f"occlusion is a probability in [0, 1]; got {occlusion}")
    alpha = object_masks(data)[:, None]  # N x 1 x H x W
    n, s = len(data), data.image_size
    # the object's own colour: the image where the object covers the pixel fully
    x = data.images.float() / 255
    full = (alpha > 0.99).float()
    fg = (x * full).sum(dim=(2, 3), keepdim=True) / full.sum(dim=(2, 3), keepdim=True).clamp_min(1)
    plain = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1)
    target = plain + (fg - plain) * alpha

    g = torch.Generator().manual_seed(seed)
    augmented = torch.lerp(random_backgrounds(n, s, g), fg, alpha)
    augmented = occlude(augmented, g, occlusion)
    return _to_uint8(augmented), _to_uint8(target)


# ------------------------------------------------------------------ 3D "scan" volume ----

def make_volume_slices(depth: int = 48, size: int = 64, n_blobs: int = 24, seed: int = 0) -> torch.Tensor:
    """A synthetic 3D scan: (depth, size, size) uint8.

    A large ellipsoidal "body" holds smaller ellipsoids ("organs", "lesions") of varying
    intensity with soft edges, plus a little noise. Each blob spans several slices, so its
    cross-section grows and shrinks smoothly from one slice to the next: neighbouring slices
    look alike in content, not in pixels, which is what makes them good positive pairs
    (see neighbour_slice_pairs).
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.linspace(-1, 1, depth)[:, None, None]
    yx = torch.linspace(-1, 1, size)
    y, x = yx[None, :, None], yx[None, None, :]

    def ellipsoid(centre, radii, sharpness=12.0):  # soft indicator, 1 inside, 0 outside
        r = ((z - centre[0]) / radii[0]).square() + ((y - centre[1]) / radii[1]).square() \
            + ((x - centre[2]) / radii[2]).square()
        return torch.sigmoid(sharpness * (1 - r))

    volume = 0.3 * ellipsoid((0.0, 0.0, 0.0), (1.2, 0.85, 0.7))
    centres = (torch.rand(n_blobs, 3, generator=g) * 2 - 1) * torch.tensor([0.9, 0.6, 0.5])
    radii = 0.06 + 0.2 * torch.rand(n_blobs, 3, generator=g)
    radii[:, 0] *= 2.5  # elongated along z: a blob lives through many slices
    intensity = 0.25 + 0.5 * torch.rand(n_blobs, generator=g)
    for c, r, a in zip(centres.tolist(), radii.tolist(), intensity.tolist()):
        volume = volume + a * ellipsoid(c, r)
    volume = volume + 0.03 * torch.randn(volume.shape, generator=g)
    return (volume.clamp(0, 1) * 255).round().to(torch.uint8)


def neighbour_slice_pairs(volume: torch.Tensor, offset: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views per slice for SSL on scans: slice i and slice i + offset of a (D, H, W) uint8
    volume, grayscale repeated to 3 channels. Returns two (D - offset, 3, H, W) uint8 tensors."""
    if volume.ndim != 3 or not 1 <= offset < len(volume):
        raise ValueError(f"need a (D, H, W) volume and 1 <= offset < D; got {tuple(volume.shape)}, "
                         f"offset={offset}")
    to_rgb = lambda v: v[:, None].expand(-1, 3, -1, -1).contiguous()  # noqa: E731
    return to_rgb(volume[:-offset]), to_rgb(volume[offset:])


# ------------------------------------------------- scans with a known slice thickness ----
# Lengths are in in-plane pixels. A slice of thickness t is the average of the phantom over a
# slab t thick (the partial-volume effect); neighbouring slices are `spacing` apart, so they
# share max(0, t - spacing) of their slabs: overlap = 1 - spacing / t.
SCAN_THICKNESSES = (1.0, 2.0, 4.0, 8.0)
SCAN_OVERLAPS = (0.0, 0.5)
# The test split draws other volumes (another seed): 1,000 short ones, so that one slice per
# volume gives 1,000 independent queries (a volume's slices share its thickness).
SCAN_SPLITS = {"train": {"n_volumes": 256, "slices": 8, "seed": 0},
               "test": {"n_volumes": 1000, "slices": 3, "seed": 1}}
# What a volume holds, placed uniformly along z: (number per px of scanned length, semi-axis
# ranges in px, brightness range), every structure turned at random. Blobs are organs and
# lesions; vessels are long thin ellipsoids that cross the slices obliquely, the classic
# partial-volume cue: a thin slice cuts one as a dot, a thick one as a streak.
_SCAN_STRUCTURES = (
    (0.4, ((1.5, 5.0), (1.5, 5.0), (1.5, 6.0)), (0.15, 0.5)),   # blobs
    (0.6, ((0.6, 1.0), (0.6, 1.0), (8.0, 20.0)), (0.3, 0.6)),   # vessels
)


def _random_rotations(n: int, g: torch.Generator) -> torch.Tensor:
    """(n, 3, 3) rotations, uniform over SO(3): from normalised Gaussian quaternions."""
    w, x, y, z = F.normalize(torch.randn(n, 4, generator=g), dim=1).unbind(1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], 1).view(n, 3, 3)


def _z_chords(gx: torch.Tensor, gy: torch.Tensor, centre: torch.Tensor,
              inverse_shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the line along z through each pixel crosses each ellipsoid {p : (p - c)^T M
    (p - c) <= 1}: its midpoint and half-length, (B, P) each (half-length 0: it misses).

    gx, gy: (P,) pixel coordinates; centre: (B, 3) as (x, y, z); inverse_shape: (B, 3, 3) M.
    On the line, (p - c)^T M (p - c) - 1 is a quadratic in z, m22 w^2 + 2 beta w + gamma
    with w = z - c_z; its roots bound the chord.
    """
    dx, dy = gx[None] - centre[:, :1], gy[None] - centre[:, 1:2]
    m = inverse_shape
    beta = m[:, 0, 2, None] * dx + m[:, 1, 2, None] * dy
    gamma = m[:, 0, 0, None] * dx ** 2 + 2 * m[:, 0, 1, None] * dx * dy + m[:, 1, 1, None] * dy ** 2 - 1
    m22 = m[:, 2, 2, None]
    return centre[:, 2:] - beta / m22, (beta ** 2 - m22 * gamma).clamp_min(0).sqrt() / m22


def make_scan_slices(n_volumes: int = 256, slices: int = 8, size: int = 32, *,
                     thicknesses: Sequence[float] = SCAN_THICKNESSES,
                     overlaps: Sequence[float] = SCAN_OVERLAPS, noise: float = 0.04,
                     seed: int = 0) -> ImageData:
    """Slices of synthetic 3D scans whose slice thickness and overlap are known.

    Each volume is an elliptic cylinder (the body, the same in every slice) holding
    ellipsoids turned at random: blobs ("organs", "lesions") and long thin vessels, placed
    uniformly along z. A slice is the exact average of this phantom over a slab `thickness`
    px thick (the partial-volume effect, integrated in closed form along z; 2 x 2
    supersampled in the plane), and the volume's `slices` slices are `spacing = thickness *
    (1 - overlap)` apart. Every volume gets one (thickness, overlap) combination, in turn, so
    the combinations are balanced when `n_volumes` is a multiple of their number. A
    per-volume gain in [0.85, 1.15] (the scanner's) multiplies the intensities.

    Gaussian noise of standard deviation `noise` is added AFTER the slab averaging: in a
    real scanner thicker slices are less noisy, and that cue is removed here on purpose.
    What shows the thickness in one slice is the z-blur of the structures: a thin slab cuts
    a vessel as a dot and a blob with a sharp edge; a thick one draws the vessel as a faint
    streak along its path through the slab, fades a blob's rim over several pixels and
    superimposes more structures. The spacing, hence the overlap, does not change a single
    slice at all (the same slab gives the same image whatever its neighbours): only a pair
    of slices can show it. The cue is weak on purpose, as in real scans: a SmallCNN trained
    with the labels (AdamW 1e-3, 600 steps of 64 slices of SCAN_SPLITS["train"]) reads the
    thickness of 0.53 of the held-out middle slices (chance 0.25); 1 and 2 px look alike.

    Returns ImageData "scan" of n_volumes * slices grayscale images (3 equal channels),
    volume by volume, slices in order; labels index the thickness (classes "1 px", ...);
    factors: volume (index in this set), thickness and spacing (px), overlap (fraction),
    position (slice index in its volume). Train and test sets: `SCAN_SPLITS`, different
    seeds, hence different volumes. Deterministic in `seed`.
    """
    if n_volumes < 1 or slices < 2 or size < 8:
        raise ValueError(f"need n_volumes >= 1, slices >= 2 (pairs need neighbours) and "
                         f"size >= 8; got n_volumes={n_volumes}, slices={slices}, size={size}")
    if not thicknesses or min(thicknesses) <= 0 or not overlaps \
            or not all(0 <= o < 1 for o in overlaps):
        raise ValueError(f"thicknesses must be > 0 px and overlaps in [0, 1); got "
                         f"thicknesses={tuple(thicknesses)}, overlaps={tuple(overlaps)}")
    if noise < 0:
        raise ValueError(f"noise is a standard deviation, >= 0; got {noise}")
    g = torch.Generator().manual_seed(seed)
    combos = [(ti, o) for o in overlaps for ti in range(len(thicknesses))]
    # the in-plane grid, supersampled 2 x 2, in px from the image centre: (P,)
    fine = (torch.arange(2 * size, dtype=torch.float32) + 0.5) / 2 - size / 2
    gy, gx = (c.reshape(-1) for c in torch.meshgrid(fine, fine, indexing="ij"))
    margin = max(r[2][1] for _, r, _ in _SCAN_STRUCTURES)  # the longest semi-axis
    images, factor_rows = [], []
    for v in range(n_volumes):
        t_index, overlap = combos[v % len(combos)]
        thickness = float(thicknesses[t_index])
        spacing = thickness * (1 - overlap)
        slab_z = torch.arange(slices, dtype=torch.float32) * spacing  # (S,) slab centres
        # the body: an elliptic cylinder along z, soft-edged in the plane
        u = torch.rand(3, generator=g)
        ay, ax = (0.26 + 0.08 * u[0]) * size, (0.34 + 0.08 * u[1]) * size
        in_body = torch.sigmoid((1 - ((gy / ay) ** 2 + (gx / ax) ** 2).sqrt()) * ay / 0.5)
        gain = 0.85 + 0.3 * u[2]
        # the structures, uniformly along the scanned length and a margin on either side
        lo, hi = -thickness / 2 - margin, float(slab_z[-1]) + thickness / 2 + margin
        centre, shape, extent, bright = [], [], [], []
        for per_px, radii, (b_lo, b_hi) in _SCAN_STRUCTURES:
            n = int(per_px * (hi - lo)) + 1
            r = torch.rand(n, 7, generator=g)
            centre.append(torch.stack([(2 * r[:, 0] - 1) * 0.7 * ax, (2 * r[:, 1] - 1) * 0.7 * ay,
                                       lo + (hi - lo) * r[:, 2]], 1))
            semi = torch.stack([a + (b - a) * r[:, 3 + i] for i, (a, b) in enumerate(radii)], 1)
            rot = _random_rotations(n, g)
            shape.append(rot @ torch.diag_embed(semi ** -2) @ rot.transpose(1, 2))
            extent.append((rot[:, 2] ** 2 * semi ** 2).sum(1).sqrt())  # half-height along z
            bright.append(b_lo + (b_hi - b_lo) * r[:, 6])
        centre, shape, extent, bright = (torch.cat(c) for c in (centre, shape, extent, bright))
        # only the (slice, structure) pairs whose slab and structure meet along z: (M,) each
        meet = (slab_z[:, None] - centre[None, :, 2]).abs() < thickness / 2 + extent[None]
        used = meet.any(0)
        s_idx, b_idx = torch.nonzero(meet[:, used], as_tuple=True)
        centre, shape, bright = centre[used], shape[used], bright[used]
        mid, half = _z_chords(gx, gy, centre, shape)  # (B, P)
        # the fraction of each slab [z - t/2, z + t/2] the chord covers: (M, P)
        z, m, h = slab_z[s_idx, None], mid[b_idx], half[b_idx]
        covered = (torch.minimum(z + thickness / 2, m + h)
                   - torch.maximum(z - thickness / 2, m - h)).clamp_min(0) / thickness
        inside = torch.zeros(slices, len(gx)).index_add_(0, s_idx, covered * bright[b_idx, None])
        volume = (0.3 + inside) * in_body  # (S, P); structures end at the body's surface
        images.append(F.avg_pool2d(gain * volume.view(slices, 1, 2 * size, 2 * size), 2))
        factor_rows.append(torch.tensor([[v, thickness, spacing, overlap, k, t_index]
                                         for k in range(slices)], dtype=torch.float32))
    x = torch.cat(images)  # (N, 1, size, size), in [0, 1] but where structures pile up
    x = x + noise * torch.randn(x.shape, generator=g)  # after the slab average: see docstring
    rows = torch.cat(factor_rows)
    factors = {"volume": rows[:, 0].long(), "thickness": rows[:, 1], "spacing": rows[:, 2],
               "overlap": rows[:, 3], "position": rows[:, 4].long()}
    return ImageData(images=_to_uint8(x.expand(-1, 3, -1, -1)), labels=rows[:, 5].long(),
                     classes=[f"{t:g} px" for t in thicknesses], name="scan", factors=factors)


def scan_neighbour_stacks(scan: ImageData, offset: int = 1) -> ImageData:
    """Each slice of `scan` packed with its two neighbours, for training on neighbouring slices.

    A slice of a grayscale scan needs one channel, so the three channels of an image here
    are slice k (red), slice k - offset (green) and slice k + offset (blue) of one volume;
    the "scan" recipe (sslkit.augment.scan_recipe) unpacks them into a slice and one of its
    neighbours, the two views of a positive pair. This keeps the training loop's contract
    (a recipe sees only the batch's pixels) while the second view comes from the data.
    Slices without a neighbour on both sides (the first and last `offset` of each volume)
    are left out. Labels and factors are slice k's. `scan`: make_scan_slices' output, or a
    subset of whole volumes of it (slices in order).
    """
    needed = {"volume", "position"}
    if not needed <= set(scan.factors):
        raise ValueError(f"scan_neighbour_stacks needs the factors {sorted(needed)} of "
                         f"make_scan_slices; {scan.name!r} has {sorted(scan.factors)}")
    volume, position = scan.factors["volume"], scan.factors["position"]
    if offset < 1:
        raise ValueError(f"offset must be >= 1 slice, got {offset}")
    # slice k's neighbours are the entries k - offset and k + offset of the same volume
    k = torch.arange(offset, len(scan) - offset)
    same = lambda j: (volume[j] == volume[k]) & (position[j] - position[k] == j - k)  # noqa: E731
    k = k[same(k - offset) & same(k + offset)]
    if len(k) == 0:
        raise ValueError(f"no slice of {scan.name!r} has a neighbour {offset} slices away on "
                         f"both sides; use volumes of more than {2 * offset} slices, in order")
    images = torch.stack([scan.images[k + d, 0] for d in (0, -offset, offset)], 1)  # N x 3 x H x W
    stacks = scan.subset(k)
    return ImageData(images=images, labels=stacks.labels, classes=stacks.classes,
                     name=f"{scan.name}-stacks", factors=stacks.factors)
