"""`load(name, split)`: every data set the course uses, as an in-memory ImageData.

shapes       embedded, generated on the fly (sslkit.data.shapes); needs nothing.
cifar10/100  a folder root/{train,test}/<class>/*.jpg (decoded once, then cached), else
             torchvision's binary release under root (download=True fetches it).
stl10        torchvision's binary release; splits train, test, unlabeled (labels -1).
imagefolder  your own images: root/<split>/<class>/* or root/<class>/*.

Decoded image folders are cached as one uint8 tensor (decoding 60,000 JPEGs takes ~8 s, reading
the cache well under one) in $SSLKIT_CACHE, default ~/.cache/sslkit. Data lives under root,
default $SSLKIT_DATA/<name>, with SSLKIT_DATA defaulting to ~/.cache/sslkit/data.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sslkit.data.images import ImageData
from sslkit.data.shapes import SPLITS as SHAPES_SPLITS
from sslkit.data.shapes import make_shapes

DATASETS = ("shapes", "cifar10", "cifar100", "stl10", "imagefolder")


def _shapes_cached(**kwargs):
    """make_shapes, remembered per argument set: a notebook trains many runs on one split."""
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    if key not in _SHAPES_CACHE:
        if len(_SHAPES_CACHE) >= 8:  # bound memory: 10k images are 30 MB
            _SHAPES_CACHE.pop(next(iter(_SHAPES_CACHE)))
        _SHAPES_CACHE[key] = make_shapes(**kwargs)
    return _SHAPES_CACHE[key]


_SHAPES_CACHE: dict = {}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
_NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
_TORCHVISION_SPLITS = {"cifar10": ("train", "test"), "cifar100": ("train", "test"),
                       "stl10": ("train", "test", "unlabeled")}


def data_root() -> Path:
    """Where data sets live by default: $SSLKIT_DATA, else ~/.cache/sslkit/data."""
    return Path(os.environ.get("SSLKIT_DATA") or Path.home() / ".cache" / "sslkit" / "data")


def cache_dir() -> Path:
    """Where decoded image folders are cached: $SSLKIT_CACHE, else ~/.cache/sslkit."""
    return Path(os.environ.get("SSLKIT_CACHE") or Path.home() / ".cache" / "sslkit")


def load(name: str, split: str = "train", root: str | os.PathLike | None = None,
         download: bool = False, **kwargs) -> ImageData:
    """Load data set `name` (one of DATASETS) as ImageData.

    split: "train" or "test" ("unlabeled" too for stl10; any sub-folder for imagefolder).
    root: the data set's folder; default $SSLKIT_DATA/<name> (ignored by shapes).
    download: let torchvision download cifar10/cifar100/stl10 into root (needs internet).
    kwargs: shapes: make_shapes' options (n, seed, colour, ...), which override the split's;
        stl10: image_size (resize, antialiased); imagefolder: image_size (shorter side to
        image_size, then a centre crop); cifar and imagefolder: cache=False skips the cache.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "shapes":
        if split not in SHAPES_SPLITS:
            raise ValueError(f"shapes has splits {', '.join(SHAPES_SPLITS)}; got {split!r}")
        return _shapes_cached(**{**SHAPES_SPLITS[split], **kwargs})
    if name == "imagefolder":
        if root is None:
            raise ValueError("imagefolder reads your own images: pass root=FOLDER, laid out as "
                             "FOLDER/<split>/<class>/<image> or FOLDER/<class>/<image>")
        return _load_imagefolder(Path(root).expanduser(), split, **kwargs)
    if split not in _TORCHVISION_SPLITS[name]:
        raise ValueError(f"{name} has splits {', '.join(_TORCHVISION_SPLITS[name])}; got {split!r}")
    root = Path(root).expanduser() if root is not None else data_root() / name
    if name == "stl10":
        return _load_stl10(root, split, download, **kwargs)
    return _load_cifar(name, root, split, download, **kwargs)


def _how_to_get(name: str, root: Path) -> str:
    layout = ("root/train/<class>/*.jpg and root/test/<class>/*.jpg" if name != "stl10"
              else "torchvision's root/stl10_binary/")
    return (f"To get {name}: pass download=True (needs internet; torchvision saves it under "
            f"{root}), or point root at a folder laid out as {layout}, or use the embedded data "
            f"set that needs no download: load(\"shapes\") (--data shapes on the command line).")


def _from_torchvision(name: str, root: Path, split: str, download: bool):
    import torchvision.datasets  # slow to import; only these data sets need it

    try:
        if name == "stl10":
            return torchvision.datasets.STL10(str(root), split=split, download=download)
        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        return cls(str(root), train=split == "train", download=download)
    except (RuntimeError, OSError) as error:  # not found / corrupted, or offline (URLError)
        if download:
            raise RuntimeError(f"downloading {name} into {root} failed ({error}). "
                               + _how_to_get(name, root)) from error
        raise FileNotFoundError(f"{name} not found in {root}. " + _how_to_get(name, root)) from error


def _load_cifar(name: str, root: Path, split: str, download: bool, cache: bool = True) -> ImageData:
    if (root / split).is_dir():  # an image-folder copy, like the course's CIFAR-10 JPEG copy
        images, labels, classes = read_image_folder(root / split, cache=cache)
        if len(classes) != _NUM_CLASSES[name]:
            raise ValueError(f"{root / split} has {len(classes)} class folders, but {name} has "
                             f"{_NUM_CLASSES[name]}: point root at the {name} folder")
        return ImageData(images, labels, classes, name)
    ds = _from_torchvision(name, root, split, download)
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # N x 32 x 32 x 3 -> N x 3 x 32 x 32
    return ImageData(images, torch.as_tensor(ds.targets, dtype=torch.long), list(ds.classes), name)


def _load_stl10(root: Path, split: str, download: bool, image_size: int | None = None) -> ImageData:
    ds = _from_torchvision("stl10", root, split, download)
    images = torch.from_numpy(ds.data)  # N x 3 x 96 x 96 uint8 already
    if image_size is not None and image_size != images.shape[-1]:
        images = resize(images, image_size)
    labels = torch.as_tensor(ds.labels, dtype=torch.long)  # -1 for "unlabeled"
    return ImageData(images, labels, list(ds.classes), "stl10")


def resize(images: torch.Tensor, size: int, chunk_size: int = 1024) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, size, size) uint8, bilinear with antialiasing, in chunks."""
    out = torch.empty(len(images), 3, size, size, dtype=torch.uint8)
    for start in range(0, len(images), chunk_size):
        x = images[start:start + chunk_size].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + chunk_size] = x.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _load_imagefolder(root: Path, split: str, image_size: int | None = None, cache: bool = True) -> ImageData:
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist: pass root=FOLDER with "
                                f"FOLDER/<split>/<class>/<image> or FOLDER/<class>/<image>")
    folder = root / split
    if not folder.is_dir():
        splits = sorted(d.name for d in root.iterdir()
                        if d.is_dir() and d.name in ("train", "test", "val", "valid", "validation"))
        if splits:  # root holds split folders, just not this one
            raise FileNotFoundError(f"{root} has no split folder {split!r}; it has {', '.join(splits)}: "
                                    f"pass split={splits[0]!r}")
        folder = root  # root/<class>/*: one folder serves every split
    images, labels, classes = read_image_folder(folder, image_size, cache=cache)
    return ImageData(images, labels, classes, root.resolve().name)


def read_image_folder(folder: Path, image_size: int | None = None,
                      cache: bool = True) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Decode folder/<class>/<image> into ((N, 3, S, S) uint8, (N,) int64 labels, classes).

    Classes are the sub-folder names in sorted order; images are read in sorted file order.
    image_size: resize the shorter side to it, then centre-crop; None: keep the size, which
    must be square and the same for every image. The result is cached (see cache_dir()),
    keyed by the folder's absolute path, image_size and every file's name, size and mtime,
    so editing the folder invalidates it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise FileNotFoundError(
            f"no class folders in {folder}: lay the images out as {folder}/<class>/<image> "
            f"(one sub-folder per class, e.g. {folder}/cat/0001.jpg)")
    files, labels, listing, empty = [], [], [], []
    for label, name in enumerate(classes):
        entries = sorted((e for e in os.scandir(folder / name)
                          if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)), key=lambda e: e.name)
        if not entries:
            empty.append(name)
        for entry in entries:
            stat = entry.stat()
            files.append(Path(entry.path))
            labels.append(label)
            listing.append((name, entry.name, stat.st_size, stat.st_mtime_ns))
    if empty:
        raise FileNotFoundError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in the class folder(s) "
            f"{', '.join(str(folder / n) for n in empty[:5])}{' ...' if len(empty) > 5 else ''}: "
            f"add images or remove the folder(s)")
    labels = torch.tensor(labels, dtype=torch.long)

    key = json.dumps([str(folder.resolve()), image_size, listing]).encode()
    path = cache_dir() / f"imagefolder-{hashlib.sha256(key).hexdigest()[:24]}.pt"
    if cache and path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            if not (torch.equal(saved["labels"], labels) and saved["classes"] == classes
                    and saved["images"].dtype == torch.uint8 and len(saved["images"]) == len(files)):
                raise ValueError("its contents do not match the folder")
            return saved["images"], labels, classes
        except Exception as error:  # truncated write, older format, disk error: rebuild
            warnings.warn(f"ignoring the unreadable cache file {path} ({error}); decoding {folder} again")
    images = _decode(files, image_size)
    if cache:
        _save_atomic({"images": images, "labels": labels, "classes": classes}, path)
    return images, labels, classes


def _decode(files: list[Path], image_size: int | None) -> torch.Tensor:
    from PIL import Image

    size, out = None, None
    for i, path in enumerate(files):
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")  # also decodes: truncated files fail here
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ...
            raise RuntimeError(f"cannot read image {path} ({error}): delete or replace the file, "
                               f"or move it out of {path.parent.parent}") from error
        if image_size is not None:
            image = _resize_and_crop(image, image_size)
        if out is None:
            size = image.size
            if size[0] != size[1]:
                raise ValueError(f"{path} is {size[0]}x{size[1]}, not square: pass image_size=N to "
                                 f"resize the shorter side to N and centre-crop every image")
            out = np.empty((len(files), size[1], size[0], 3), dtype=np.uint8)
        elif image.size != size:
            raise ValueError(f"images differ in size: {files[0]} is {size[0]}x{size[1]} but {path} is "
                             f"{image.size[0]}x{image.size[1]}: pass image_size=N to resize every "
                             f"image to NxN")
        out[i] = np.asarray(image)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # N x H x W x 3 -> N x 3 x H x W


def _resize_and_crop(image, size: int):
    from PIL import Image

    w, h = image.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        w, h = max(size, round(w * scale)), max(size, round(h * scale))
        image = image.resize((w, h), Image.Resampling.BICUBIC)  # PIL antialiases when shrinking
        left, top = (w - size) // 2, (h - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return image


def _save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file beside `path`, then rename: a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(obj, f)
            os.chmod(tmp, 0o644)  # mkstemp makes it private (0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        warnings.warn(f"could not write the cache file {path} ({error}); the images will be "
                      f"decoded again next time")
