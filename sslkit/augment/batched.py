"""Composable batched augmentations: parameter distributions + per-sample application.

Each class holds the *distribution* of its parameters, under torchvision's parameter names,
and has two methods:

* ``sample_params(n, generator, device, image_size=None) -> dict``: draws the parameters of
  ``n`` samples (every sample its own) from ``generator``; ``image_size`` (H, W) is the size
  of the images the op will see (needed by crops and noise fields).
* ``apply(x, params, *, inplace=False, scratch=None) -> Tensor``: applies them to a float
  (N, 3, H, W) batch with the functions of ``sslkit.augment.functional`` (``inplace`` and
  ``scratch`` are what ViewPipeline uses to avoid fresh memory, see that module).

The distributions are torchvision's (``torchvision.transforms.v2``), so a batch has the same
per-sample statistics as a DataLoader running the per-image pipeline; the random streams
differ (one vectorised draw instead of per-image draws). ``ViewPipeline`` chains them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from sslkit.augment import functional as F


def _uniform(low: float, high: float, n: int, generator: torch.Generator, device) -> Tensor:
    return torch.rand(n, generator=generator, device=device).mul_(high - low).add_(low)


def _bernoulli(p: float, n: int, generator: torch.Generator, device) -> Tensor:
    """(n,) bool, True with probability p (torchvision's ``torch.rand(1) < p``).

    p <= 0 draws nothing: an op switched off in one view of a merged call (see Recipe) leaves
    that view's random stream as it would be without the op.
    """
    if p <= 0:
        return torch.zeros(n, dtype=torch.bool, device=device)
    return torch.rand(n, generator=generator, device=device) < p


def _jitter_range(value: float | Sequence[float], name: str, center: float = 1.0,
                  bound: tuple[float, float] = (0.0, math.inf)) -> tuple[float, float] | None:
    """torchvision ColorJitter's range rule: v -> [max(0, c - v), c + v]; None means off."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")
        low, high = center - value, center + value
        if center == 1.0:
            low = max(low, 0.0)
    else:
        low, high = (float(v) for v in value)
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"{name} range must lie in {bound} and be increasing, got {(low, high)}")
    return None if low == high == center else (low, high)


def apply_to_selected(x: Tensor, mask: Tensor, fn, *, inplace: bool, scratch: F.Scratch | None,
                      blend: bool | None = None) -> Tensor:
    """``fn(t, rows)`` (in place on ``t``) applied only to the samples where ``mask`` is True.

    ``rows`` tells ``fn`` which samples ``t`` holds, for per-sample parameters: an index
    tensor, or None for the whole batch. Two strategies give the same result:

    - select (default on CPU): gather the selected samples, apply, scatter back. For the ops
      of low probability (grayscale 0.2, solarize 0.2, blur 0.1) this costs the selected
      samples only; but ``mask.nonzero()`` makes the host wait for the device, once per op.
    - blend (default on CUDA): apply to the whole batch and keep the result where ``mask``
      is True (``torch.where``). More arithmetic, no host synchronisation: on a GPU the
      arithmetic is cheap and a synchronisation stalls the queue of kernels.
    """
    if blend is None:
        blend = x.is_cuda
    if blend:
        applied = fn(x.clone(), None)
        return torch.where(mask.view(-1, *([1] * (x.dim() - 1))), applied, x)
    index = mask.nonzero().squeeze(1)
    if index.numel() == 0:
        return x
    out = x if inplace else x.clone()
    if index.numel() == x.shape[0]:
        return fn(out, None)
    scratch = scratch if scratch is not None else F.Scratch()
    selected = torch.index_select(x, 0, index, out=scratch("selected", (index.numel(), *x.shape[1:]), x))
    return out.index_copy_(0, index, fn(selected, index))


class BatchedAugmentation:
    """Base of the batched ops: the image size they output, and a readable repr."""

    def output_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        return image_size

    def sample_params(self, n: int, generator: torch.Generator, device=None,
                      image_size: tuple[int, int] | None = None) -> dict:
        raise NotImplementedError

    def apply(self, x: Tensor, params: dict, *, inplace: bool = False, scratch: F.Scratch | None = None) -> Tensor:
        """The augmented batch; ``inplace=True`` may overwrite x (a ViewPipeline owns its x)."""
        raise NotImplementedError

    @staticmethod
    def merge_params(params: Sequence[dict]) -> dict:
        """The params of several batches, concatenated along the batch (see Recipe)."""
        return {key: None if params[0][key] is None else torch.cat([p[key] for p in params])
                for key in params[0]}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------- geometry


class RandomResizedCrop(BatchedAugmentation):
    """torchvision RandomResizedCrop(size, scale, ratio), bilinear, one box per sample.

    Box sampling follows torchvision's ``make_params`` exactly, vectorised: 10 tries per
    sample of (area fraction ~ U(scale), log aspect ratio ~ U(log ratio)); the first try whose
    rounded width and height fit is kept, its top / left uniform over the valid positions;
    samples with no valid try fall back to torchvision's central crop.
    """

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0), antialias: bool = True):
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"scale and ratio must be increasing positive pairs, got {scale}, {ratio}")
        self.size = int(size)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.antialias = antialias

    def output_size(self, image_size):
        return (self.size, self.size)

    def sample_params(self, n, generator, device=None, image_size=None):
        if image_size is None:
            raise ValueError("RandomResizedCrop.sample_params needs image_size=(H, W)")
        height, width = image_size
        area = float(height * width)
        u = torch.rand(n, 10, 4, generator=generator, device=device)  # (N, tries, 4 draws)
        target_area = area * (self.scale[0] + (self.scale[1] - self.scale[0]) * u[..., 0])
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
        w = torch.sqrt(target_area * aspect).round_()  # round half to even, as Python's round
        h = torch.sqrt(target_area / aspect).round_()
        ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)  # (N, tries)
        first = ok.to(torch.uint8).argmax(dim=1, keepdim=True)  # first valid try
        h, w = h.gather(1, first).squeeze(1), w.gather(1, first).squeeze(1)
        top = (u[..., 2].gather(1, first).squeeze(1) * (height - h + 1)).floor_()
        left = (u[..., 3].gather(1, first).squeeze(1) * (width - w + 1)).floor_()
        boxes = torch.stack([top, left, h, w], dim=1)  # (N, 4)
        # torchvision's fallback after 10 failed tries: central crop, ratio clamped
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            fw, fh = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            fh, fw = height, round(height * self.ratio[1])
        else:
            fw, fh = width, height
        fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw], dtype=boxes.dtype, device=boxes.device)
        boxes = torch.where(ok.any(dim=1, keepdim=True), boxes, fallback)
        return {"boxes": boxes}

    def apply(self, x, params, *, inplace=False, scratch=None, flip: Tensor | None = None):
        """x: float or uint8 (N, 3, H, W); ``flip`` (N,) bool fuses a horizontal flip."""
        return F.resized_crop(x, params["boxes"], self.size, antialias=self.antialias, flip=flip, scratch=scratch)


class Resize(BatchedAugmentation):
    """torchvision Resize((size, size)) (bilinear, antialiased): the whole image, every sample."""

    def __init__(self, size: int, antialias: bool = True):
        self.size = int(size)
        self.antialias = antialias

    def output_size(self, image_size):
        return (self.size, self.size)

    def sample_params(self, n, generator, device=None, image_size=None):
        height, width = image_size
        box = torch.tensor([0.0, 0.0, height, width], device=device)
        return {"boxes": box.expand(n, 4)}

    def apply(self, x, params, *, inplace=False, scratch=None, flip: Tensor | None = None):
        if flip is None and tuple(x.shape[-2:]) == (self.size, self.size):
            if not x.is_floating_point():
                return x.float().div_(255.0)
            return x if inplace else x.clone()
        return F.resized_crop(x, params["boxes"], self.size, antialias=self.antialias, flip=flip, scratch=scratch)


class HorizontalFlip(BatchedAugmentation):
    """torchvision RandomHorizontalFlip(p)."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def sample_params(self, n, generator, device=None, image_size=None):
        return {"mask": _bernoulli(self.p, n, generator, device)}

    def apply(self, x, params, *, inplace=False, scratch=None):
        return F.hflip(x, params["mask"])


class RandomRotation(BatchedAugmentation):
    """torchvision RandomRotation(degrees, interpolation=BILINEAR): angle ~ U(-d, d), zero fill."""

    def __init__(self, degrees: float | tuple[float, float]):
        self.degrees = (-degrees, degrees) if isinstance(degrees, (int, float)) else tuple(degrees)

    def sample_params(self, n, generator, device=None, image_size=None):
        return {"angle": _uniform(*self.degrees, n, generator, device)}

    def apply(self, x, params, *, inplace=False, scratch=None):
        return F.rotate(x, params["angle"])


class RandomAffine(BatchedAugmentation):
    """torchvision RandomAffine(degrees, translate, scale, interpolation=BILINEAR), no shear.

    angle ~ U(-d, d); translation round(U(-t * W, t * W)) pixels (integers, as torchvision);
    scale ~ U(scale).
    """

    def __init__(self, degrees: float | tuple[float, float] = 0.0,
                 translate: tuple[float, float] | None = None, scale: tuple[float, float] | None = None):
        self.degrees = (-degrees, degrees) if isinstance(degrees, (int, float)) else tuple(degrees)
        self.translate = None if translate is None else tuple(translate)
        self.scale = None if scale is None else tuple(scale)

    def sample_params(self, n, generator, device=None, image_size=None):
        height, width = image_size
        angle = _uniform(*self.degrees, n, generator, device)
        translate = torch.zeros(n, 2, device=device)
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            translate[:, 0] = _uniform(-max_dx, max_dx, n, generator, device).round_()
            translate[:, 1] = _uniform(-max_dy, max_dy, n, generator, device).round_()
        if self.scale is not None:
            scale = _uniform(*self.scale, n, generator, device)
        else:
            scale = torch.ones(n, device=device)
        return {"angle": angle, "translate": translate, "scale": scale}

    def apply(self, x, params, *, inplace=False, scratch=None):
        return F.affine(x, params["angle"], params["translate"], params["scale"])


class ElasticTransform(BatchedAugmentation):
    """torchvision ElasticTransform(alpha, sigma, interpolation=BILINEAR), one field per sample.

    As in torchvision's ``make_params``: each displacement channel is U(-1, 1) noise, blurred
    by a Gaussian (sigma, kernel int(8 sigma + 1) made odd, reflect padding), times
    alpha / W (x) or alpha / H (y), in normalised grid units.
    """

    def __init__(self, alpha: float = 50.0, sigma: float = 5.0):
        self.alpha = float(alpha)
        self.sigma = float(sigma)

    def sample_params(self, n, generator, device=None, image_size=None):
        height, width = image_size
        field = torch.rand(n, 2, height, width, generator=generator, device=device).mul_(2).sub_(1)
        if self.sigma > 0:
            k = int(8 * self.sigma + 1)
            k += 1 - k % 2
            sigma = torch.full((n,), self.sigma, device=device)
            field = F.blur_channels(field, sigma, k)
        field[:, 0] *= self.alpha / width
        field[:, 1] *= self.alpha / height
        return {"displacement": field.permute(0, 2, 3, 1).contiguous()}  # (N, H, W, 2)

    def apply(self, x, params, *, inplace=False, scratch=None):
        return F.elastic(x, params["displacement"])


# ----------------------------------------------------------------------------- colour


class ColorJitter(BatchedAugmentation):
    """RandomApply([torchvision ColorJitter(brightness, contrast, saturation, hue)], p).

    Factors: brightness, contrast, saturation ~ U(max(0, 1 - v), 1 + v); hue ~ U(-v, v) turns
    (torchvision's ranges; a (low, high) pair is accepted too). A sample outside the p draw
    gets the identity factors (1, 1, 1, 0).

    Deviation from torchvision: ColorJitter draws a random order of the four adjustments for
    every image; here one random order is drawn per batch (a per-sample order would compute
    all four adjustments at each of four positions). Every sample's marginal distribution is
    unchanged (its order is still uniform over the 24 permutations); only samples of the same
    call share it (in a Recipe, that includes the views merged into one call).
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0, p: float = 1.0):
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5))
        self.p = p

    def _factor(self, value_range, identity, apply, n, generator, device):
        if value_range is None:
            return None
        if self.p <= 0:
            return torch.full((n,), identity, device=device)
        factor = _uniform(*value_range, n, generator, device)
        return torch.where(apply, factor, torch.full_like(factor, identity))

    def sample_params(self, n, generator, device=None, image_size=None):
        apply = _bernoulli(self.p, n, generator, device)
        return {
            "apply": apply,
            "brightness": self._factor(self.brightness, 1.0, apply, n, generator, device),
            "contrast": self._factor(self.contrast, 1.0, apply, n, generator, device),
            "saturation": self._factor(self.saturation, 1.0, apply, n, generator, device),
            "hue": self._factor(self.hue, 0.0, apply, n, generator, device),
            "order": torch.randperm(4, generator=generator, device=device) if self.p > 0 else None,
        }

    @staticmethod
    def merge_params(params):
        merged = BatchedAugmentation.merge_params([{k: v for k, v in p.items() if k != "order"} for p in params])
        # one order for the merged batch: the first drawn one
        merged["order"] = next((p["order"] for p in params if p["order"] is not None), None)
        return merged

    def apply(self, x, params, *, inplace=False, scratch=None):
        if self.p <= 0 or params["order"] is None:
            return x
        order = tuple(params["order"].tolist())
        return F.color_jitter(x, params["brightness"], params["contrast"], params["saturation"],
                              params["hue"], order, inplace=inplace, scratch=scratch)


class RandomGrayscale(BatchedAugmentation):
    """torchvision RandomGrayscale(p): 3-channel luma."""

    def __init__(self, p: float = 0.1):
        self.p = p

    def sample_params(self, n, generator, device=None, image_size=None):
        return {"mask": _bernoulli(self.p, n, generator, device)}

    def apply(self, x, params, *, inplace=False, scratch=None):
        if self.p <= 0:
            return x
        return apply_to_selected(x, params["mask"], lambda t, rows: F.grayscale(t, inplace=True, scratch=scratch),
                                 inplace=inplace, scratch=scratch)


class GaussianBlur(BatchedAugmentation):
    """RandomApply([torchvision GaussianBlur(kernel_size, sigma)], p); sigma ~ U(sigma).

    kernel_size None: ``functional.blur_kernel_size`` of the image the op sees (SimCLR's 10%).
    """

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0), kernel_size: int | None = None):
        self.p = p
        self.sigma = tuple(sigma)
        self.kernel_size = kernel_size

    def sample_params(self, n, generator, device=None, image_size=None):
        mask = _bernoulli(self.p, n, generator, device)
        if self.p <= 0:
            return {"mask": mask, "sigma": torch.full((n,), self.sigma[0], device=device)}
        return {"mask": mask, "sigma": _uniform(*self.sigma, n, generator, device)}

    def apply(self, x, params, *, inplace=False, scratch=None):
        if self.p <= 0:
            return x
        k = self.kernel_size or F.blur_kernel_size(min(x.shape[-2:]))
        mask, sigma = params["mask"], params["sigma"]
        return apply_to_selected(x, mask, lambda t, rows: F.gaussian_blur(t, sigma if rows is None else sigma[rows], k),
                                 inplace=inplace, scratch=scratch)


class Solarize(BatchedAugmentation):
    """torchvision RandomSolarize(threshold, p) on [0, 1] floats (0.5 == PIL's 128 on uint8 data)."""

    def __init__(self, p: float = 0.2, threshold: float = 0.5):
        self.p = p
        self.threshold = threshold

    def sample_params(self, n, generator, device=None, image_size=None):
        return {"mask": _bernoulli(self.p, n, generator, device)}

    def apply(self, x, params, *, inplace=False, scratch=None):
        if self.p <= 0:
            return x
        solarize = lambda t, rows: F.solarize(t, None, self.threshold, inplace=True, scratch=scratch)
        return apply_to_selected(x, params["mask"], solarize, inplace=inplace, scratch=scratch)


class RandAugment(BatchedAugmentation):
    """RandAugment (Cubuk et al., CVPR-W 2020, arXiv 1909.13719) on [0, 1] floats, with
    probability p per image: `num_ops` operations drawn uniformly from its 14 (identity,
    shear and translate in x or y, rotate, brightness, colour, contrast, sharpness,
    posterize, solarize, autocontrast, equalize), each at strength `magnitude` of 31 bins.

    torchvision's v2.RandAugment does the drawing and the ops (it is the well-kept
    implementation; writing the 14 ops batched would duplicate it). It draws from torch's
    global generator and one op set per call, so each image is its own call, seeded from the
    recipe's generator: the same seed gives the same views, and the global random state is
    left as it was. A per-image loop: about 1 ms per 32 px image on a CPU core.
    """

    def __init__(self, num_ops: int = 2, magnitude: int = 9, p: float = 1.0):
        if num_ops < 1 or not 0 <= magnitude <= 30:
            raise ValueError(f"RandAugment needs num_ops >= 1 and 0 <= magnitude <= 30 (of 31 "
                             f"bins); got num_ops={num_ops}, magnitude={magnitude}")
        from torchvision.transforms import v2

        self.num_ops, self.magnitude, self.p = int(num_ops), int(magnitude), p
        self._op = v2.RandAugment(num_ops=self.num_ops, magnitude=self.magnitude)

    def sample_params(self, n, generator, device=None, image_size=None):
        return {"mask": _bernoulli(self.p, n, generator, device),
                "seed": torch.randint(2 ** 62, (n,), generator=generator, device=device)}

    def apply(self, x, params, *, inplace=False, scratch=None):
        if self.p <= 0:
            return x
        seeds = params["seed"].tolist()

        def randaugment(t, rows):
            rows = range(len(t)) if rows is None else rows.tolist()
            with torch.random.fork_rng(devices=[]):
                for i, row in enumerate(rows):
                    torch.manual_seed(seeds[row])
                    t[i] = self._op(t[i])
            return t

        return apply_to_selected(x, params["mask"], randaugment, inplace=inplace, scratch=scratch,
                                 blend=False)


class GaussianNoise(BatchedAugmentation):
    """RandomApply([torchvision GaussianNoise(mean=0, sigma=std, clip=True)], p)."""

    def __init__(self, std: float = 0.1, p: float = 1.0):
        self.std = std
        self.p = p

    def sample_params(self, n, generator, device=None, image_size=None):
        height, width = image_size
        mask = _bernoulli(self.p, n, generator, device)
        if self.p <= 0:
            return {"mask": mask, "noise": torch.zeros(n, 3, height, width, device=device)}
        noise = torch.randn(n, 3, height, width, generator=generator, device=device)
        return {"mask": mask, "noise": noise}

    def apply(self, x, params, *, inplace=False, scratch=None):
        if self.p <= 0:
            return x
        return F.gaussian_noise(x, params["mask"].to(x.dtype) * self.std, params["noise"], inplace=inplace)


# ----------------------------------------------------------------------------- pipeline


def check_images(x: Tensor, name: str = "x") -> None:
    """Raise a ValueError, saying how to fix it, unless x is a uint8 (N, 3, H, W) batch."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of uint8 images, got {type(x).__name__}")
    if x.dtype != torch.uint8:
        raise ValueError(
            f"{name} must hold uint8 images (0..255) as stored by sslkit.data, got dtype {x.dtype}; "
            "pass ImageData.images directly, or convert a [0, 1] float batch with "
            "(x * 255).round().to(torch.uint8)"
        )
    if x.dim() == 3 and x.shape[0] == 3:
        raise ValueError(f"{name} must be a batch (N, 3, H, W), got one image {tuple(x.shape)}; use x.unsqueeze(0)")
    if x.dim() != 4 or x.shape[1] != 3:
        hint = (
            "move channels first with x.permute(0, 3, 1, 2)" if x.dim() == 4 and x.shape[-1] == 3
            else "repeat a grey channel with x.expand(-1, 3, -1, -1)" if x.dim() == 4 and x.shape[1] == 1
            else "images must be RGB, channels first"
        )
        raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(x.shape)}; {hint}")


def check_generator(generator: torch.Generator, x: Tensor) -> None:
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != x.device.type:
        raise ValueError(
            f"generator is on {generator.device} but the images are on {x.device}; "
            f"create it with torch.Generator(device=x.device).manual_seed(seed)"
        )


class ViewPipeline:
    """One view: a list of batched augmentations, then normalisation.

    ``__call__(x, generator)`` takes a uint8 (N, 3, H, W) batch and returns the normalised float
    view (N, 3, h, w). Parameters are drawn for every sample before anything is applied.

    Fusions (same result as running the ops one by one): a leading crop / resize reads the
    uint8 batch directly (the /255 lives in its weight matrices), and a HorizontalFlip right
    after it is folded into the crop's column weights.
    """

    def __init__(self, augmentations: Sequence[BatchedAugmentation], mean: Sequence[float], std: Sequence[float]):
        self.augmentations = list(augmentations)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"mean and std must have 3 values (RGB), got {self.mean}, {self.std}")
        self._scratch = F.Scratch()  # the ops' temporaries, reused from call to call
        self._moments: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def sample_params(self, n: int, generator: torch.Generator, device, image_size: tuple[int, int]) -> list[dict]:
        params = []
        for aug in self.augmentations:
            params.append(aug.sample_params(n, generator, device, image_size))
            image_size = aug.output_size(image_size)
        return params

    def apply(self, x: Tensor, params: list[dict]) -> Tensor:
        """The normalised float view of the uint8 batch x under the sampled ``params``."""
        augs = self.augmentations
        start = 0
        if augs and isinstance(augs[0], (RandomResizedCrop, Resize)):
            flip = None
            start = 1
            if len(augs) > 1 and isinstance(augs[1], HorizontalFlip):
                flip, start = params[1]["mask"], 2
            x = augs[0].apply(x, params[0], scratch=self._scratch, flip=flip)
        else:
            x = x.float().div_(255.0)
        # x is now a tensor this pipeline owns: every later op works in place
        for aug, p in zip(augs[start:], params[start:]):
            x = aug.apply(x, p, inplace=True, scratch=self._scratch)
        if x.device not in self._moments:
            self._moments[x.device] = (torch.tensor(self.mean, device=x.device), torch.tensor(self.std, device=x.device))
        mean, std = self._moments[x.device]
        return F.normalize(x, mean, std, inplace=True)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        check_images(x)
        check_generator(generator, x)
        params = self.sample_params(x.shape[0], generator, x.device, tuple(x.shape[-2:]))
        return self.apply(x, params)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(a) for a in self.augmentations)
        return f"ViewPipeline([\n  {inner}\n], mean={self.mean}, std={self.std})"
