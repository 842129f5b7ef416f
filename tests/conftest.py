"""Shared test fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from sslkit.data import load

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CIFAR10_TAR = SHARED_DATA / "cifar10-jpeg.tar.xz"


@pytest.fixture(scope="session")
def shapes32():
    """(train, test): 256 and 128 images of the synthetic shapes at 32 px, the smoke runs'."""
    return load("shapes", n=256), load("shapes", split="test", n=128)


@pytest.fixture(scope="session")
def shapes16():
    """(train, test): 512 and 128 images at 16 px. 16 px keeps the collapse runs to seconds on
    a shared CPU; SmallCNN works at 16 px."""
    return load("shapes", n=512, image_size=16), load("shapes", split="test", n=128,
                                                         image_size=16)


@pytest.fixture(scope="session")
def cifar10_root() -> Path:
    """The course's CIFAR-10 JPEG copy, unpacked once into $SSLKIT_CACHE/cifar10-jpeg
    (default ~/.cache/sslkit): a folder with train/<class>/*.jpg and test/<class>/*.jpg.

    A marker file holds the archive's checksum line, so a changed archive is unpacked again.
    """
    if not CIFAR10_TAR.exists():
        pytest.skip(f"CIFAR-10 JPEG copy not found at {SHARED_DATA} (only in the course's CI "
                    "and dev checkouts, beside the project as ../shared/data)")
    checksum = CIFAR10_TAR.with_name(CIFAR10_TAR.name + ".sha256")
    stamp = checksum.read_text() if checksum.exists() else str(CIFAR10_TAR.stat().st_mtime_ns)
    cache = Path(os.environ.get("SSLKIT_CACHE") or Path.home() / ".cache" / "sslkit")
    root, marker = cache / "cifar10-jpeg", cache / "cifar10-jpeg" / ".unpacked"
    if marker.exists() and marker.read_text() == stamp:
        return root
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix="cifar10-jpeg."))
    tmp.chmod(0o755)  # mkdtemp makes it private
    try:
        if shutil.which("tar"):  # ~3 s; Python's tarfile takes ~25 s for these 60,000 members
            subprocess.run(["tar", "-xJf", str(CIFAR10_TAR), "-C", str(tmp)], check=True)
        else:
            with tarfile.open(CIFAR10_TAR) as tar:
                tar.extractall(tmp, filter="data")
        (tmp / ".unpacked").write_text(stamp)
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)  # atomic: a half-unpacked copy never carries the marker
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left when something failed, or lost a race
    return root
