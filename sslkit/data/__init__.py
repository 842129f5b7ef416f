"""Data: ImageData (uint8 images in memory), the embedded shapes data set, CIFAR/STL/ImageFolder.

    data = sslkit.data.load("shapes")            # no download: 10,000 images, 32 px, 10 classes
    data = sslkit.data.load("cifar10", root=...)  # a JPEG folder copy, or torchvision's release
"""

from sslkit.data.datasets import DATASETS, load
from sslkit.data.images import ImageData
from sslkit.data.shapes import (SCAN_SPLITS, aae_pairs, make_scan_slices, make_shapes,
                                make_volume_slices, neighbour_slice_pairs, object_masks,
                                render_shape, scan_neighbour_stacks)

__all__ = [
    "DATASETS", "ImageData", "SCAN_SPLITS", "aae_pairs", "load", "make_scan_slices", "make_shapes",
    "make_volume_slices", "neighbour_slice_pairs", "object_masks", "render_shape",
    "scan_neighbour_stacks",
]
