"""The real minibatch the zero-cost proxies score with.

The package ships ``proxies/data/cifar10_batch.npz``: 160 CIFAR-10 training images (the first 16 of
each class among the first 1,000 images of the official training batches), built byte for byte by
``scripts/build_proxy_batch.py`` from ``shared/data/cifar10/cifar10_train_first1000.npz``.

:func:`proxy_batch` draws ``batch_size`` of them without replacement with
``numpy.random.default_rng(seed)`` (the same images for every architecture at a seed) and prepares
them for the family's network:

* **CIFAR families** (10-class heads, 32x32 inputs: nb101, nb201, nb301, hiaml, two_path,
  inception): pixels scaled to [0, 1] and normalised with the CIFAR-10 mean/std that NASLib's loaders
  use, no augmentation (NASLib's loader applied random crops and flips and drew a new batch per
  architecture; a fixed, unaugmented batch keeps scores deterministic and comparable).
* **ImageNet families** (1000-class heads: ofa_mbv3, ofa_pn, ofa_resnet): the *same CIFAR-10 images*
  resized bilinearly (``align_corners=False``, no antialiasing) from 32x32 to the architecture's input
  resolution (``family.module_input_shape(arch)``, e.g. 128..224 for OFA), normalised with the ImageNet
  mean/std. Labels stay CIFAR-10 classes 0..9, valid indices of a 1000-way head. No ImageNet image is
  shipped; proxy scores on these families therefore measure the networks on upsampled CIFAR-10 data.

Proxies that ignore data (``params``, ``flops``, ``l2_norm``) or replace it (``synflow``: all-ones input;
``zen``: Gaussian inputs) only use the batch's shape.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import torch

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "DEFAULT_BATCH_SIZE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "is_imagenet_family",
    "load_images",
    "proxy_batch",
]

#: NAS-Bench-Suite-Zero's batch size (NASLib ``runners/zc/zc_config.yaml``: ``batch_size: 32``).
DEFAULT_BATCH_SIZE = 32
#: CIFAR-10 channel mean and std of NASLib's data loaders.
CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)
#: The usual ImageNet channel mean and std (torchvision, OFA).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_FILE = "cifar10_batch.npz"


@lru_cache(maxsize=1)
def load_images() -> tuple[np.ndarray, np.ndarray]:
    """The packaged images ``(160, 32, 32, 3)`` uint8 NHWC and labels ``(160,)`` uint8 (read once)."""
    ref = resources.files("gennape_naslib.proxies").joinpath("data", _FILE)
    with resources.as_file(ref) as path, np.load(path) as data:
        x, y = np.array(data["x"]), np.array(data["y"])
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def is_imagenet_family(family: Any) -> bool:
    """Whether ``family``'s networks are ImageNet models (1000-class heads)."""
    return int(getattr(family, "num_classes", 10)) >= 1000


def proxy_batch(
    family: Any, arch: Any, batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels for scoring ``arch`` (see the module docstring for the preparation).

    Args:
        family: The family adapter (its ``num_classes`` and ``module_input_shape`` are read).
        arch: The architecture (its input resolution may depend on it).
        batch_size: Number of images, 1..160.
        seed: Seed of the draw.

    Returns:
        ``(inputs, targets)``: float32 ``(batch_size, 3, H, W)`` and int64 ``(batch_size,)``.

    Raises:
        ValueError: If ``batch_size`` is out of range or the network does not take 3-channel input.
    """
    x, y = load_images()
    if not 1 <= int(batch_size) <= len(x):
        raise ValueError(f"batch_size must be in 1..{len(x)} (the packaged CIFAR-10 batch), got {batch_size}")
    idx = np.random.default_rng(int(seed)).choice(len(x), size=int(batch_size), replace=False)
    channels, height, width = (int(v) for v in family.module_input_shape(arch))
    if channels != 3:
        raise ValueError(f"family {family.name!r}: networks take {channels} input channels, proxies need RGB (3)")
    images = torch.from_numpy(x[idx].astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    if is_imagenet_family(family):
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        mean, std = CIFAR10_MEAN, CIFAR10_STD
    if (height, width) != (32, 32):
        images = torch.nn.functional.interpolate(
            images, size=(height, width), mode="bilinear", align_corners=False, antialias=False
        )
    images = (images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    targets = torch.from_numpy(y[idx].astype(np.int64))
    return images, targets
