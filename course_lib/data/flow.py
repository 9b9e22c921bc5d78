"""What the optical flow datasets share: the sample type, the base dataset, augmentation and batching.

Introduced in Chapter 9 (optical flow); the datasets :mod:`course_lib.data.kitti_flow` and
:mod:`course_lib.data.chairs` build on it (and it imports neither).

A flow dataset item is ``(images, target)``:

* ``images``: ``float32 [6, H, W]`` in ``[0, 1]``, frame 1 (channels 0-2) and frame 2 (channels 3-5); grayscale
  frames (KITTI 2012 ``image_0``) are repeated to three channels;
* ``target``: a dict of tensors

  ``flow``      ``float32 [2, H, W]``, ``(u, v)`` in pixels (0 where unknown);
  ``valid``     ``float32 [H, W]``, the pixels a loss should use (``valid_occ`` where given, else ``valid_noc``);
  ``valid_occ`` ``bool [H, W]``, every pixel with known flow, occluded or not (KITTI ``flow_occ``);
  ``valid_noc`` ``bool [H, W]``, the known pixels that stay visible in frame 2 (KITTI ``flow_noc``);
  ``has_occ``, ``has_noc`` ``bool []``: whether the dataset gives that mask for this pair.

So a batch can be fed to ``course_lib.engine.Trainer`` as it is. Pairs of different sizes (KITTI: 1241x376,
1226x370, 1242x375, ...) are batched by :func:`flow_collate`, which pads at the bottom and right and marks the
padding invalid, or cropped to one size by :class:`FlowAugment`. Finding the data (or writing a synthetic sample)
is :func:`course_lib.datasets.locate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..io.flow import read_flow, read_kitti_flow
from ..io.images import read_label, read_rgb
from .registry import is_sample_folder

__all__ = ["FlowAugment", "FlowItem", "FlowPairDataset", "FlowSample", "flow_collate", "sample_to_tensors"]


@dataclass
class FlowSample:
    """One pair as stored (NumPy): what :meth:`FlowPairDataset.load_raw` returns and :class:`FlowAugment` changes.

    Attributes:
        image1, image2: ``uint8 [H, W, 3]``.
        flow: ``float32 [H, W, 2]`` or ``None`` (no ground truth, e.g. a test split).
        valid_occ: ``bool [H, W]`` (all pixels with known flow) or ``None``.
        valid_noc: ``bool [H, W]`` (known and not occluded) or ``None``.
        name: an identifier, e.g. ``"000045_10"``.
    """

    image1: np.ndarray
    image2: np.ndarray
    flow: np.ndarray | None = None
    valid_occ: np.ndarray | None = None
    valid_noc: np.ndarray | None = None
    name: str = ""

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return tuple(self.image1.shape[:2])


@dataclass
class FlowItem:
    """The files of one pair; a missing ground truth is ``None``.

    Attributes:
        image1, image2: the two frames.
        flow: a ``.flo`` (dense, every pixel known) or KITTI ``flow_occ`` PNG.
        flow_noc: a KITTI ``flow_noc`` PNG.
        occlusion: a PNG, non-zero where the pixel of frame 1 is occluded in frame 2 (the synthetic set writes it).
        name: an identifier.
    """

    image1: Path
    image2: Path
    flow: Path | None = None
    flow_noc: Path | None = None
    occlusion: Path | None = None
    name: str = ""
    extra: dict = field(default_factory=dict)


def _read_image(path: Path) -> np.ndarray:
    return np.asarray(read_rgb(path), dtype=np.uint8).copy()


def _read_occlusion(path: Path) -> np.ndarray:
    return read_label(path, modes=("L", "1", "P")) > 0


def sample_to_tensors(sample: FlowSample) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Turn a :class:`FlowSample` into ``(images [6, H, W], target dict)`` (see the module docstring).

    Example:
        >>> s = FlowSample(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
        >>> images, target = sample_to_tensors(s)
        >>> tuple(images.shape), bool(target["has_occ"])
        ((6, 4, 5), False)
    """
    h, w = sample.size
    images = np.concatenate([sample.image1, sample.image2], axis=-1)
    images = torch.from_numpy(np.ascontiguousarray(images.transpose(2, 0, 1))).float().div_(255.0)
    flow = np.zeros((h, w, 2), np.float32) if sample.flow is None else sample.flow
    occ = np.zeros((h, w), bool) if sample.valid_occ is None else sample.valid_occ
    noc = np.zeros((h, w), bool) if sample.valid_noc is None else sample.valid_noc
    main = occ if sample.valid_occ is not None else noc
    target = {
        "flow": torch.from_numpy(np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)),
        "valid": torch.from_numpy(np.ascontiguousarray(main, dtype=np.float32)),
        "valid_occ": torch.from_numpy(np.ascontiguousarray(occ, dtype=bool)),
        "valid_noc": torch.from_numpy(np.ascontiguousarray(noc, dtype=bool)),
        "has_occ": torch.tensor(sample.valid_occ is not None),
        "has_noc": torch.tensor(sample.valid_noc is not None),
    }
    return images, target


class FlowPairDataset(Dataset):
    """Base class of the flow datasets: a list of :class:`FlowItem`, read with the same code for real and sample data.

    Args:
        root: the dataset folder (for messages and ``is_sample``).
        split: the split name.
        items: the pairs.
        transforms: ``FlowSample -> FlowSample`` (e.g. :class:`FlowAugment`), applied before the conversion.
        max_items: keep only the first ``max_items`` pairs.
    """

    def __init__(self, root: Path, split: str, items: Sequence[FlowItem],
                 transforms: Callable[[FlowSample], FlowSample] | None = None, max_items: int | None = None) -> None:
        self.root = Path(root)
        self.split = split
        self.items = list(items)[:max_items] if max_items else list(items)
        self.transforms = transforms
        self.is_sample = is_sample_folder(self.root)

    def __len__(self) -> int:
        return len(self.items)

    def load_raw(self, index: int) -> FlowSample:
        """The ``index``-th pair as stored, with its sizes checked."""
        item = self.items[index]
        image1, image2 = _read_image(item.image1), _read_image(item.image2)
        if image1.shape != image2.shape:
            raise ValueError(f"{item.image2}: frame 2 is {image2.shape[1]}x{image2.shape[0]} but frame 1 "
                             f"{item.image1} is {image1.shape[1]}x{image1.shape[0]}")
        flow = valid_occ = valid_noc = None
        if item.flow is not None:
            flow, valid_occ = read_flow(item.flow)  # .flo (unknown values invalid) or KITTI PNG
        if item.flow_noc is not None:
            flow_noc, valid_noc = read_kitti_flow(item.flow_noc)
            if flow is None:
                flow = flow_noc
            elif flow_noc.shape != flow.shape:
                raise ValueError(f"{item.flow_noc}: size {flow_noc.shape[:2]} differs from {item.flow} "
                                 f"{flow.shape[:2]}")
        if item.occlusion is not None and valid_occ is not None:
            occluded = _read_occlusion(item.occlusion)
            if occluded.shape != valid_occ.shape:
                raise ValueError(f"{item.occlusion}: occlusion mask is {occluded.shape[1]}x{occluded.shape[0]}, the "
                                 f"flow {item.flow} {valid_occ.shape[1]}x{valid_occ.shape[0]}")
            valid_noc = valid_occ & ~occluded
        if flow is not None and flow.shape[:2] != image1.shape[:2]:
            source = item.flow if item.flow is not None else item.flow_noc
            raise ValueError(f"{source}: flow is {flow.shape[1]}x{flow.shape[0]} but its frame {item.image1} is "
                             f"{image1.shape[1]}x{image1.shape[0]}")
        return FlowSample(image1, image2, flow, valid_occ, valid_noc, item.name)

    def __getitem__(self, index: int):
        sample = self.load_raw(index)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample_to_tensors(sample)

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, {kind})"


class FlowAugment:
    """Training augmentation of a :class:`FlowSample`: random crop, flips and photometric jitter.

    Geometry changes the flow consistently: a horizontal flip mirrors the field and negates ``u``, a vertical flip
    negates ``v``. Brightness and contrast change both frames alike (brightness constancy must still hold), plus a
    little independent noise per frame.

    Args:
        crop: ``(height, width)`` of the random crop; ``None`` keeps the size. Pictures smaller than the crop are
            padded with black and invalid flow.
        hflip, vflip: probabilities of the flips.
        brightness, contrast: the largest relative change.
        noise: standard deviation of per-frame pixel noise (0..255 scale).
        seed: seed of the augmentation's own generator (``None``: fresh randomness); DataLoader workers each derive
            their own stream from it.

    Example:
        >>> s = FlowSample(np.zeros((10, 12, 3), np.uint8), np.zeros((10, 12, 3), np.uint8),
        ...                np.ones((10, 12, 2), np.float32), np.ones((10, 12), bool), None)
        >>> FlowAugment(crop=(8, 8), seed=0)(s).flow.shape
        (8, 8, 2)
    """

    def __init__(self, crop: tuple[int, int] | None = None, hflip: float = 0.5, vflip: float = 0.1,
                 brightness: float = 0.2, contrast: float = 0.2, noise: float = 2.0, seed: int | None = None) -> None:
        self.crop = tuple(crop) if crop is not None else None
        self.hflip, self.vflip = hflip, vflip
        self.brightness, self.contrast, self.noise = brightness, contrast, noise
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._worker: int | None = None

    def _generator(self) -> np.random.Generator:
        # each DataLoader worker holds a copy of this object: give each its own stream (torch seeds the workers
        # differently, and reproducibly after course_lib.seed_everything)
        info = torch.utils.data.get_worker_info()
        if info is not None and info.id != self._worker:
            self._worker = info.id
            self.rng = np.random.default_rng(None if self.seed is None else [self.seed, info.seed % 2**32])
        return self.rng

    def _pad(self, s: FlowSample, h: int, w: int) -> FlowSample:
        ph, pw = max(0, h - s.size[0]), max(0, w - s.size[1])
        if ph == 0 and pw == 0:
            return s

        def pad(a, value=0):
            if a is None:
                return None
            return np.pad(a, ((0, ph), (0, pw)) + ((0, 0),) * (a.ndim - 2), constant_values=value)

        return replace(s, image1=pad(s.image1), image2=pad(s.image2), flow=pad(s.flow),
                       valid_occ=pad(s.valid_occ, False), valid_noc=pad(s.valid_noc, False))

    def __call__(self, s: FlowSample) -> FlowSample:
        rng = self._generator()
        if self.crop is not None:
            ch, cw = self.crop
            s = self._pad(s, ch, cw)
            h, w = s.size
            y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            cut = np.s_[y0 : y0 + ch, x0 : x0 + cw]
            s = replace(s, image1=s.image1[cut], image2=s.image2[cut],
                        flow=None if s.flow is None else s.flow[cut],
                        valid_occ=None if s.valid_occ is None else s.valid_occ[cut],
                        valid_noc=None if s.valid_noc is None else s.valid_noc[cut])
        if rng.random() < self.hflip:
            flow = None if s.flow is None else s.flow[:, ::-1] * np.array([-1, 1], np.float32)
            s = replace(s, image1=s.image1[:, ::-1], image2=s.image2[:, ::-1], flow=flow,
                        valid_occ=None if s.valid_occ is None else s.valid_occ[:, ::-1],
                        valid_noc=None if s.valid_noc is None else s.valid_noc[:, ::-1])
        if rng.random() < self.vflip:
            flow = None if s.flow is None else s.flow[::-1] * np.array([1, -1], np.float32)
            s = replace(s, image1=s.image1[::-1], image2=s.image2[::-1], flow=flow,
                        valid_occ=None if s.valid_occ is None else s.valid_occ[::-1],
                        valid_noc=None if s.valid_noc is None else s.valid_noc[::-1])
        gain = 1 + rng.uniform(-self.contrast, self.contrast)
        offset = 255 * rng.uniform(-self.brightness, self.brightness) * 0.5
        images = []
        for img in (s.image1, s.image2):
            x = (img.astype(np.float32) - 127.5) * gain + 127.5 + offset
            if self.noise:
                x += rng.normal(0, self.noise, x.shape).astype(np.float32)
            images.append(np.clip(np.rint(x), 0, 255).astype(np.uint8))
        return replace(s, image1=images[0], image2=images[1],
                       flow=None if s.flow is None else np.ascontiguousarray(s.flow))


def flow_collate(batch: Sequence[tuple[torch.Tensor, dict]], multiple: int = 1) -> tuple[torch.Tensor, dict]:
    """Stack flow items of different sizes: pad at the bottom and right; padded pixels are invalid.

    Args:
        batch: ``(images [6, H, W], target dict)`` items.
        multiple: round the padded height and width up to a multiple of this.

    Returns:
        ``images [B, 6, Hmax, Wmax]`` (padding 0) and the target dict stacked (``flow`` 0, masks False in padding).

    Example:
        >>> a = sample_to_tensors(FlowSample(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)))
        >>> b = sample_to_tensors(FlowSample(np.zeros((6, 3, 3), np.uint8), np.zeros((6, 3, 3), np.uint8)))
        >>> x, t = flow_collate([a, b]); tuple(x.shape), tuple(t["valid"].shape)
        ((2, 6, 6, 5), (2, 6, 5))
    """
    if len(batch) == 0:
        raise ValueError("flow_collate got an empty batch")
    height = max(images.shape[-2] for images, _ in batch)
    width = max(images.shape[-1] for images, _ in batch)
    height, width = -(-height // multiple) * multiple, -(-width // multiple) * multiple

    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, width - x.shape[-1], 0, height - x.shape[-2]))

    images = torch.stack([pad(images) for images, _ in batch])
    keys = batch[0][1].keys()
    target = {}
    for key in keys:
        values = [t[key] for _, t in batch]
        target[key] = torch.stack([pad(v) if v.dim() >= 2 else v for v in values])
    return images, target

