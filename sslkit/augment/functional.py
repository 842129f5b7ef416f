"""Batched image operations with one parameter per sample.

Every function takes a float batch ``x: (N, 3, H, W)`` with values in [0, 1] and parameter
tensors of shape ``(N,)`` (or ``(N, k)``) on the same device, and returns a new float batch.
Each one reproduces the per-image function of the same name in
``torchvision.transforms.v2.functional`` (the reference users know); ``tests/test_augment.py``
checks every one of them against it image by image.

Written for speed on a CPU as well as a GPU:

* no Python loop over samples; a per-sample switch ``mask`` becomes an identity parameter
  (factor 1, angle 0, sigma -> a delta kernel) or a ``torch.lerp`` with a 0/1 weight,
  which is exact for weights 0 and 1;
* no boolean tensors the size of the batch: on the CPU ``torch.where`` over a bool mask is
  about ten times slower than a multiply (measured), so comparisons write float 0/1 tensors
  through ``out=``;
* few fresh large tensors: on the CPU a new multi-megabyte tensor is new memory from the OS,
  paid one page fault per 4 KiB when first written (measured: half the time of a BYOL view
  at 32 px, batch 256). The colour ops take ``inplace=True`` and a ``Scratch`` that keeps
  their temporaries between calls; ``ViewPipeline`` uses both. The defaults
  (``inplace=False``, no scratch) give plain functions that never modify their input.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# ITU-R 601-2 luma weights, exactly those of torchvision's rgb_to_grayscale.
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


# ----------------------------------------------------------------------------- checks


class Scratch:
    """Temporary tensors kept between calls, by name (one per op and role).

    A name keeps one flat buffer that only grows; a request returns a view of its first
    elements, so varying batch sizes (a subset of the batch) reuse the same memory. Only
    ever holds intermediates: nothing an op returns lives in a Scratch. Not thread-safe.
    """

    def __init__(self):
        self._buffers: dict[str, Tensor] = {}

    def __call__(self, name: str, shape: tuple[int, ...], like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        dtype = dtype or like.dtype
        numel = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < numel or buffer.dtype != dtype or buffer.device != like.device:
            buffer = torch.empty(numel, dtype=dtype, device=like.device)
            self._buffers[name] = buffer
        return buffer[:numel].view(shape)


def _scratch(scratch: Scratch | None) -> Scratch:
    return Scratch() if scratch is None else scratch


def check_float_batch(x: Tensor, name: str = "x") -> None:
    """Raise a ValueError unless ``x`` is a float (N, 3, H, W) batch."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(
            f"{name} must be a float batch in [0, 1], got dtype {x.dtype}; "
            "convert uint8 images with x.float() / 255"
        )
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(
            f"{name} must have shape (N, 3, H, W), got {tuple(x.shape)}; add a batch "
            "dimension with x.unsqueeze(0), or move channels first with x.permute(0, 3, 1, 2)"
        )


def _per_sample(value: Tensor | float, x: Tensor, name: str) -> Tensor:
    """A (N,) parameter as a float tensor on x's device, viewed (N, 1, 1, 1)."""
    value = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if value.dim() == 0:
        value = value.expand(x.shape[0])
    if value.shape != (x.shape[0],):
        raise ValueError(f"{name} must have shape ({x.shape[0]},), got {tuple(value.shape)}")
    return value.view(-1, 1, 1, 1)


def _mask_weight(mask: Tensor | None, x: Tensor) -> Tensor | None:
    """A boolean (N,) mask as a float (N, 1, 1, 1) weight of 0s and 1s."""
    if mask is None:
        return None
    return _per_sample(mask.to(x.dtype), x, "mask")


# ----------------------------------------------------------------------------- geometry


def _resample_matrix(
    start: Tensor, length: Tensor, in_size: int, out_size: int, antialias: bool, out: Tensor,
    reverse: Tensor | None = None,
) -> Tensor:
    """Fill ``out`` (N, out_size, in_size) with the weights resampling [start, start + length).

    The weights are those of torch's bilinear interpolate (align_corners=False) applied to
    the cropped image, which is what torchvision's resized_crop does: output pixel i reads
    the crop at (i + 0.5) * length / out_size - 0.5 with a triangle filter; taps outside the
    crop are dropped and the rest renormalised, which equals interpolate's clamping at the
    crop border. With ``antialias`` and a crop larger than the output the triangle is widened
    by the scale, as interpolate(..., antialias=True) (aten's _upsample_bilinear2d_aa).
    ``reverse`` (N,) of 0/1 mirrors the output (a horizontal flip for free).
    """
    device, dtype = start.device, start.dtype
    scale = length / out_size  # (N,)
    i = torch.arange(out_size, device=device, dtype=dtype)  # (out,)
    if reverse is not None:
        i = i + reverse[:, None] * (out_size - 1 - 2 * i)  # (N, out): i -> out_size - 1 - i
    center = (i + 0.5) * scale[:, None]  # (N, out), in crop coordinates
    j = torch.arange(in_size, device=device, dtype=dtype) - start[:, None] + 0.5  # (N, in)
    support = scale.clamp_min(1.0) if antialias else torch.ones_like(scale)
    torch.sub(j[:, None, :], center[:, :, None], out=out)  # (N, out, in)
    out.div_(support[:, None, None]).abs_().neg_().add_(1.0).clamp_min_(0.0)  # triangle filter
    inside = ((j > 0) & (j < length[:, None])).to(dtype)  # pixel j - 0.5 lies in [0, length)
    out.mul_(inside[:, None, :])
    return out.div_(out.sum(dim=-1, keepdim=True))


def resized_crop(
    x: Tensor, boxes: Tensor, size: int | tuple[int, int], *, antialias: bool = False,
    flip: Tensor | None = None, scratch: Scratch | None = None,
) -> Tensor:
    """Crop ``boxes`` out of every image and resize each crop to ``size`` (bilinear).

    x: (N, 3, H, W) float in [0, 1], or uint8 (the /255 is folded into the weights).
    boxes: (N, 4) integer-valued top, left, height, width in pixels.
    flip: optional (N,) bool; True mirrors that sample horizontally, at no cost.
    Returns a new (N, 3, size, size) float tensor.

    Matches torchvision ``F.resized_crop(img, top, left, height, width, size,
    antialias=antialias)`` per image to float rounding (~1e-7), borders included. Resampling
    is separable, so the batch is two batched matrix products ``A_y @ x @ A_x^T`` with
    per-sample (size, H) and (size, W) weight matrices.

    Alternatives measured at 32 px, batch 256, one CPU thread: these matmuls 2.3 ms;
    ``grid_sample`` 1.9 ms plus 4 ms for ``affine_grid``; ``torchvision.ops.roi_align``
    5.3 ms; gathering the 2 taps per output pixel with ``index_select`` 1.2-1.5x slower than
    the matmuls (strided copies and broadcasts are slow paths on the CPU). grid_sample and
    roi_align also read across the crop border when up-sampling (so they differ from
    torchvision there by up to half a pixel step) and cannot antialias.
    """
    if x.dtype == torch.uint8:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
    else:
        check_float_batch(x)
    scratch = _scratch(scratch)
    n, c, h, w = x.shape
    out_h, out_w = (size, size) if isinstance(size, int) else size
    dtype = torch.float32 if x.dtype == torch.uint8 else x.dtype
    boxes = boxes.to(device=x.device, dtype=dtype)
    if boxes.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4) (top, left, height, width), got {tuple(boxes.shape)}")
    reverse = None if flip is None else flip.to(device=x.device, dtype=dtype)
    a_y = _resample_matrix(boxes[:, 0], boxes[:, 2], h, out_h, antialias,
                           scratch("crop.a_y", (n, out_h, h), boxes))
    a_x = _resample_matrix(boxes[:, 1], boxes[:, 3], w, out_w, antialias,
                           scratch("crop.a_x", (n, out_w, w), boxes), reverse)
    if x.dtype == torch.uint8:
        a_y.mul_(1.0 / 255.0)
        x = scratch("crop.x", (n, c, h, w), boxes).copy_(x)
    # columns: (N, 3H, W) @ (N, W, out_w) -> (N, 3, H, out_w)
    cols = torch.bmm(x.reshape(n, c * h, w), a_x.transpose(1, 2), out=scratch("crop.cols", (n, c * h, out_w), boxes))
    # rows, every channel: (N*3, out_h, H) @ (N*3, H, out_w) -> (N, 3, out_h, out_w)
    a_y3 = scratch("crop.a_y3", (n, c, out_h, h), boxes).copy_(a_y.unsqueeze(1).expand(n, c, out_h, h))
    out = torch.bmm(a_y3.view(n * c, out_h, h), cols.view(n * c, h, out_w))
    return out.view(n, c, out_h, out_w)


def hflip(x: Tensor, mask: Tensor) -> Tensor:
    """Mirror horizontally the samples where ``mask`` (N,) is True (torchvision horizontal_flip)."""
    check_float_batch(x)
    return torch.lerp(x, x.flip(-1), _mask_weight(mask, x))


def _affine_theta(angle_deg: Tensor, translate: Tensor, scale: Tensor, height: int, width: int) -> Tensor:
    """(N, 2, 3) affine_grid matrices equal to torchvision's inverse affine matrix.

    torchvision builds M^-1 = C R(a)^-1 S^-1 C^-1 T^-1 in pixel coordinates centred on the
    image (``_get_inverse_affine_matrix`` with zero shear) and divides by (W/2, H/2);
    affine_grid with align_corners=False samples the same pixel centres.
    """
    rot = torch.deg2rad(angle_deg)
    cos, sin = torch.cos(rot) / scale, torch.sin(rot) / scale
    # inverse rotation-scale in pixel units: [[cos, sin], [-sin, cos]] / scale
    tx, ty = translate[:, 0], translate[:, 1]
    m02 = -(cos * tx + sin * ty)
    m12 = -(-sin * tx + cos * ty)
    # to normalised coordinates: theta = D^-1 M D with D = diag(W/2, H/2)
    theta = torch.stack(
        [
            torch.stack([cos, sin * height / width, m02 * 2.0 / width], dim=-1),
            torch.stack([-sin * width / height, cos, m12 * 2.0 / height], dim=-1),
        ],
        dim=1,
    )
    return theta


def _grid(theta: Tensor, height: int, width: int) -> Tensor:
    """affine_grid(theta, (N, C, H, W), align_corners=False), as one small matmul."""
    xs = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1
    ones = torch.ones(height, width, device=theta.device, dtype=theta.dtype)
    base = torch.stack([xs.expand(height, width), ys[:, None].expand(height, width), ones], dim=-1)  # (H, W, 3)
    return torch.matmul(base.view(1, height * width, 3), theta.transpose(1, 2)).view(-1, height, width, 2)


def affine(x: Tensor, angle_deg: Tensor, translate: Tensor, scale: Tensor) -> Tensor:
    """Rotate (clockwise, degrees), scale and translate (pixels) about the image centre.

    angle_deg: (N,); translate: (N, 2) as (tx, ty) pixels; scale: (N,).
    Matches torchvision ``F.affine(img, angle, translate, scale, shear=[0, 0],
    interpolation=BILINEAR)`` (zero fill outside the image).
    """
    check_float_batch(x)
    n, _, h, w = x.shape
    angle = _per_sample(angle_deg, x, "angle_deg").view(n)
    scale = _per_sample(scale, x, "scale").view(n)
    translate = torch.as_tensor(translate, dtype=x.dtype, device=x.device).reshape(n, 2)
    grid = _grid(_affine_theta(angle, translate, scale, h, w), h, w)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(x: Tensor, angle_deg: Tensor) -> Tensor:
    """Rotate counter-clockwise by ``angle_deg`` (N,) degrees about the centre, zero fill.

    Matches torchvision ``F.rotate(img, angle, interpolation=BILINEAR)`` (expand=False).
    """
    check_float_batch(x)
    n = x.shape[0]
    angle = _per_sample(angle_deg, x, "angle_deg").view(n)
    zeros = torch.zeros(n, 2, dtype=x.dtype, device=x.device)
    return affine(x, -angle, zeros, torch.ones_like(angle))  # torchvision: rotate(a) == affine(-a)


def scale(x: Tensor, factor: Tensor) -> Tensor:
    """Zoom about the centre by ``factor`` (N,) (>1 enlarges), zero fill; affine with scale only."""
    check_float_batch(x)
    n = x.shape[0]
    zeros = torch.zeros(n, dtype=x.dtype, device=x.device)
    return affine(x, zeros, torch.zeros(n, 2, dtype=x.dtype, device=x.device), factor)


def elastic(x: Tensor, displacement: Tensor) -> Tensor:
    """Warp each image by its displacement field (N, H, W, 2), in normalised [-1, 1] units.

    Matches torchvision ``F.elastic(img, displacement[i:i+1], interpolation=BILINEAR)``:
    the sampling grid is the align_corners=False identity grid plus the displacement.
    """
    check_float_batch(x)
    n, _, h, w = x.shape
    if displacement.shape != (n, h, w, 2):
        raise ValueError(f"displacement must have shape ({n}, {h}, {w}, 2), got {tuple(displacement.shape)}")
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=x.dtype, device=x.device)
    grid = _grid(eye.unsqueeze(0), h, w) + displacement.to(x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


# ----------------------------------------------------------------------------- colour


def _own(x: Tensor, inplace: bool) -> Tensor:
    check_float_batch(x)
    return x if inplace else x.clone()


def rgb_to_grayscale(x: Tensor, out: Tensor | None = None) -> Tensor:
    """(N, 1, H, W) luma 0.2989 R + 0.587 G + 0.114 B, as torchvision's rgb_to_grayscale."""
    r, g, b = x.unbind(dim=1)
    gray = torch.mul(r, GRAY_WEIGHTS[0], out=out.view_as(r) if out is not None else None)
    return gray.add_(g, alpha=GRAY_WEIGHTS[1]).add_(b, alpha=GRAY_WEIGHTS[2]).view(x.shape[0], 1, *x.shape[2:])


def adjust_brightness(x: Tensor, factor: Tensor, *, inplace: bool = False) -> Tensor:
    """x * factor, clamped to [0, 1]; factor (N,) >= 0 (torchvision adjust_brightness)."""
    x = _own(x, inplace)
    return x.mul_(_per_sample(factor, x, "factor")).clamp_(0.0, 1.0)


def adjust_contrast(x: Tensor, factor: Tensor, *, inplace: bool = False) -> Tensor:
    """Blend each image with the mean of its grayscale image (torchvision adjust_contrast).

    The mean of the luma is the luma of the per-channel means: a (N, 3) reduction instead of
    a grayscale image.
    """
    x = _own(x, inplace)
    f = _per_sample(factor, x, "factor")
    weights = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device)
    mean = (x.mean(dim=(2, 3)) @ weights).view(-1, 1, 1, 1)  # (N, 1, 1, 1)
    return x.mul_(f).add_(mean * (1.0 - f)).clamp_(0.0, 1.0)


def adjust_saturation(x: Tensor, factor: Tensor, *, inplace: bool = False, scratch: Scratch | None = None) -> Tensor:
    """Blend each pixel with its grayscale value (torchvision adjust_saturation)."""
    x = _own(x, inplace)
    n, _, h, w = x.shape
    f = _per_sample(factor, x, "factor")
    gray = rgb_to_grayscale(x, out=_scratch(scratch)("gray", (n, 1, h, w), x)).mul_(1.0 - f)
    return x.mul_(f).add_(gray).clamp_(0.0, 1.0)


def adjust_hue(x: Tensor, factor: Tensor, *, inplace: bool = False, scratch: Scratch | None = None) -> Tensor:
    """Shift the hue by ``factor`` (N,) in [-0.5, 0.5] turns (torchvision adjust_hue).

    torchvision converts RGB -> HSV, adds the factor to H modulo 1 and converts back. The
    round trip keeps max(R, G, B) and min(R, G, B); with chroma C = max - min and the hue in
    sixths of a turn h6, channel n of (R, G, B) = (5, 3, 1) comes back as
    ``min + C * clamp(|k - 2| - 1, 0, 1)`` with ``k = (n + h6) mod 6``: the closed form of
    the same HSV -> RGB map (equal to float rounding), without a gather.
    """
    x = _own(x, inplace)
    scratch = _scratch(scratch)
    n, _, h, w = x.shape
    f = _per_sample(factor, x, "factor").view(-1, 1, 1)  # (N, 1, 1)
    plane = lambda name: scratch("hue." + name, (n, h, w), x)
    r, g, b = x.unbind(dim=1)  # (N, H, W) each
    maxc = torch.maximum(torch.maximum(r, g, out=plane("max")), b, out=plane("max"))
    minc = torch.minimum(torch.minimum(r, g, out=plane("min")), b, out=plane("min"))
    chroma = torch.sub(maxc, minc, out=plane("chroma"))
    # which channel holds the max, ties broken R, then G, then B as in torchvision
    is_r = torch.eq(maxc, r, out=plane("is_r"))
    is_g = torch.eq(maxc, g, out=plane("is_g")).sub_(is_r).clamp_min_(0.0)
    is_b = torch.add(is_r, is_g, out=plane("is_b")).neg_().add_(1.0)
    # chroma * h6 = (G - B) if R is max, (B - R) + 2 C if G, (R - G) + 4 C if B
    h6 = torch.sub(g, b, out=plane("h6")).mul_(is_r)
    term = plane("term")
    h6.add_(torch.sub(b, r, out=term).mul_(is_g)).add_(torch.sub(r, g, out=term).mul_(is_b))
    # where chroma == 0 the sum above is 0 too, so any finite divisor will do
    h6.div_(torch.clamp(chroma, min=1e-12, out=term))
    h6.add_(is_g, alpha=2.0).add_(is_b, alpha=4.0)  # in [-1, 5]
    turns = h6.mul_(1.0 / 6.0).add_(f + 1.0)  # shifted hue in turns, positive
    # the result overwrites x: k = 6 * frac(turns + n / 6) for n = 5, 3, 1
    offsets = torch.tensor([5.0 / 6.0, 3.0 / 6.0, 1.0 / 6.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    torch.add(turns.unsqueeze(1), offsets, out=x).frac_().mul_(6.0)
    x.sub_(2.0).abs_().sub_(1.0).clamp_(0.0, 1.0)
    return x.mul_(chroma.unsqueeze(1)).add_(minc.unsqueeze(1))


def color_jitter(
    x: Tensor, brightness: Tensor | None, contrast: Tensor | None, saturation: Tensor | None,
    hue: Tensor | None, order: tuple[int, ...] = (0, 1, 2, 3), *, inplace: bool = False,
    scratch: Scratch | None = None,
) -> Tensor:
    """Apply the four colour adjustments in ``order`` (0 brightness .. 3 hue); None skips one.

    torchvision's ColorJitter draws a random order per image; here ``order`` is one
    permutation shared by the batch (the batched ColorJitter draws it per batch).
    """
    x = _own(x, inplace)
    scratch = _scratch(scratch)
    for index in order:
        if index == 0 and brightness is not None:
            adjust_brightness(x, brightness, inplace=True)
        elif index == 1 and contrast is not None:
            adjust_contrast(x, contrast, inplace=True)
        elif index == 2 and saturation is not None:
            adjust_saturation(x, saturation, inplace=True, scratch=scratch)
        elif index == 3 and hue is not None:
            adjust_hue(x, hue, inplace=True, scratch=scratch)
    return x


def grayscale(x: Tensor, mask: Tensor | None = None, *, inplace: bool = False,
              scratch: Scratch | None = None) -> Tensor:
    """The 3-channel luma of the samples where ``mask`` is True, of all when it is None.

    torchvision ``F.rgb_to_grayscale(img, num_output_channels=3)``.
    """
    x = _own(x, inplace)
    n, _, h, w = x.shape
    gray = rgb_to_grayscale(x, out=_scratch(scratch)("gray", (n, 1, h, w), x)).expand_as(x)
    if mask is None:
        return x.copy_(gray)
    return torch.lerp(x, gray, _mask_weight(mask, x), out=x)


def _gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """(N, kernel_size) normalised Gaussian taps, as torchvision's _get_gaussian_kernel1d."""
    lim = (kernel_size - 1) / (2.0 * math.sqrt(2.0))
    taps = torch.linspace(-lim, lim, kernel_size, dtype=sigma.dtype, device=sigma.device)
    return torch.softmax(-(taps[None, :] / sigma[:, None]).pow(2), dim=1)


def blur_channels(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Separable Gaussian blur of (N, C, H, W) with one sigma (N,) per sample, reflect padding.

    The per-sample kernels run as one grouped convolution per direction (groups = N * C).
    """
    n, c, h, w = x.shape
    kernels = _gaussian_kernels(sigma, kernel_size)  # (N, k)
    weight = kernels.repeat_interleave(c, dim=0)  # (N*C, k)
    pad = kernel_size // 2
    y = F.pad(x.reshape(1, n * c, h, w), (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, weight.view(n * c, 1, 1, kernel_size), groups=n * c)
    y = F.conv2d(y, weight.view(n * c, 1, kernel_size, 1), groups=n * c)
    return y.view(n, c, h, w)


def blur_kernel_size(image_size: int) -> int:
    """SimCLR's blur kernel: 10% of the image side, made odd (23 at 224 px, 3 at 32 px).

    google-research/simclr data_util.py random_blur: ``kernel_size=height // 10``, then
    ``radius = kernel_size // 2; kernel_size = 2 * radius + 1``. At least 3.
    """
    return max(3, (image_size // 10) // 2 * 2 + 1)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int | None = None, mask: Tensor | None = None) -> Tensor:
    """Blur every image with its own sigma (N,) and a square ``kernel_size`` kernel.

    Matches torchvision ``F.gaussian_blur(img, [k, k], [sigma, sigma])``: reflect padding,
    the same kernel taps. kernel_size None: ``blur_kernel_size(min(H, W))``. Samples where
    ``mask`` is False get sigma -> 0, a delta kernel.
    """
    check_float_batch(x)
    kernel_size = kernel_size or blur_kernel_size(min(x.shape[-2:]))
    if kernel_size % 2 != 1 or kernel_size < 1:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    sigma = _per_sample(sigma, x, "sigma").view(-1)
    if mask is not None:
        # softmax(-(t / sigma)^2) is one-hot at the centre tap for a tiny sigma
        sigma = torch.where(mask.to(x.device), sigma, torch.full_like(sigma, 1e-3))
    return blur_channels(x, sigma, kernel_size)


def solarize(x: Tensor, mask: Tensor | None = None, threshold: float = 0.5, *, inplace: bool = False,
             scratch: Scratch | None = None) -> Tensor:
    """Invert (1 - x) the pixels >= ``threshold`` of the samples where ``mask`` is True (all if None).

    torchvision ``F.solarize(img, threshold)``. For images converted from uint8, 0.5 inverts
    exactly the pixels >= 128, as PIL's ``ImageOps.solarize`` in the official BYOL /
    Barlow Twins / VICReg / DINO code.
    """
    x = _own(x, inplace)
    scratch = _scratch(scratch)
    step = torch.ge(x, threshold, out=scratch("solarize.step", x.shape, x))  # 1.0 where inverted
    if mask is not None:
        step.mul_(_mask_weight(mask, x))
    inverted = torch.sub(1.0, x, out=scratch("solarize.inverted", x.shape, x))
    return torch.lerp(x, inverted, step, out=x)  # exact: weights are 0 or 1


def gaussian_noise(x: Tensor, std: Tensor, noise: Tensor, *, inplace: bool = False) -> Tensor:
    """x + std * noise, clamped to [0, 1]; std (N,), noise a standard normal (N, 3, H, W).

    torchvision ``F.gaussian_noise(img, mean=0, sigma=std, clip=True)`` with its
    ``randn_like`` draw passed in as ``noise``.
    """
    x = _own(x, inplace)
    if noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}")
    return x.addcmul_(noise, _per_sample(std, x, "std")).clamp_(0.0, 1.0)


def normalize(x: Tensor, mean: Tensor, std: Tensor, *, inplace: bool = False) -> Tensor:
    """(x - mean) / std per channel; mean, std (3,) tensors (torchvision normalize)."""
    x = _own(x, inplace)
    return x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))
