"""The torch Datasets of BraTS: whole cases for evaluation, random patches for training, and the on-disk cache.

Introduced in Chapter 3 (3D U-Net on BraTS). The cases, their splits and the preprocessing of one case are in
:mod:`course_lib.data.brats`; this module loads cases through the on-disk cache (:func:`load_cached`, built on
:class:`course_lib.data.cache.FileCache`: decoding five gzip NIfTI files costs about a second per case, reading
the memory-mapped ``.npy`` entries a few milliseconds) and serves them as :class:`BratsVolumes` (whole cases) and
:class:`BratsPatches` (random, tumour-centred, augmented training patches).

Example:
    >>> from course_lib.synthetic.brats import write_sample
    >>> folder = write_sample(tmp_path)  # doctest: +SKIP
    >>> ds = BratsPatches(folder, "train", patch_size=32, cache_dir=tmp_path / "cache")  # doctest: +SKIP
    >>> [t.shape for t in ds[0]]  # doctest: +SKIP
    [torch.Size([4, 32, 32, 32]), torch.Size([3, 32, 32, 32])]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .brats import BratsCase, BratsVolume, find_cases, labels_to_regions, load_case, split_cases
from .cache import FileCache

__all__ = ["CACHE_VERSION", "BratsCases", "BratsPatches", "BratsVolumes", "is_cached", "load_cached"]


# ----------------------------------------------------------------------------------------------- the cache
#: Part of every cache entry's key: raise it when the preprocessing (:func:`course_lib.data.brats.load_case`)
#: changes, and old entries are no longer read.
CACHE_VERSION = 1


def _cache_how(margin: int, part: str) -> str:
    return f"brats-v{CACHE_VERSION}-margin{margin}-{part}"


def _cache_parts(case: BratsCase) -> tuple[str, ...]:
    return ("image", "seg", "meta") if case.seg is not None else ("image", "meta")


def is_cached(case: BratsCase, cache: FileCache, margin: int = 2) -> bool:
    """Whether :func:`load_cached` would read ``case`` (with this ``margin``) from ``cache`` without decoding.

    Example:
        >>> is_cached(find_cases("data/brats")[0], FileCache("runs/cache/brats"))  # doctest: +SKIP
        True
    """
    if cache.folder is None:
        return False
    return all(cache.path(case.files, _cache_how(margin, part), ".npz" if part == "meta" else ".npy",
                          f"{case.case_id}.{part}").is_file() for part in _cache_parts(case))


def load_cached(case: BratsCase, cache: FileCache, margin: int = 2, mmap: bool = True) -> BratsVolume:
    """The preprocessed case: read from ``cache``, or loaded with :func:`~course_lib.data.brats.load_case` and stored
    there first.

    A case is three entries of the :class:`course_lib.data.cache.FileCache`: ``<case>.image`` (``float16 [4, X, Y,
    Z]``, the normalised crop), ``<case>.seg`` (``uint8``) and ``<case>.meta`` (``.npz``: affine, original shape,
    crop box). Each is keyed on the name, size and modification time of the case's five source files, the crop
    ``margin`` and :data:`CACHE_VERSION`, so an edited or replaced file, or new settings, give a new entry instead of
    a stale one; each is written atomically. The arrays are memory-mapped on reading: a patch costs the bytes it
    touches. The cache folder belongs in the work folder (``<work dir>/cache/brats``), never in a data root.

    Args:
        case: the case.
        cache: the cache (``FileCache(None)`` stores nothing: every call decodes the files again).
        margin: the crop margin of :func:`course_lib.data.brats.load_case`.
        mmap: memory-map the arrays (``False`` reads them into memory).

    Example:
        >>> cache = FileCache("runs/cache/brats")  # doctest: +SKIP
        >>> vol = load_cached(find_cases("data/brats")[0], cache)  # decodes and stores  # doctest: +SKIP
        >>> vol = load_cached(find_cases("data/brats")[0], cache)  # memory-maps the .npy files  # doctest: +SKIP
    """
    decoded: list[BratsVolume] = []

    def volume() -> BratsVolume:  # decoded at most once, and only when an entry is missing
        if not decoded:
            decoded.append(load_case(case, margin=margin, require_seg=case.seg is not None))
        return decoded[0]

    def entry(part: str, compute, suffix: str = ".npy"):
        how, name = _cache_how(margin, part), f"{case.case_id}.{part}"
        if suffix == ".npz":
            return cache.arrays(case.files, how, compute, name=name)
        return cache.array(case.files, how, compute, mmap=mmap, name=name)

    image = entry("image", lambda: volume().image.astype(np.float16))
    seg = entry("seg", lambda: volume().seg.astype(np.uint8)) if case.seg is not None else None
    meta = entry("meta", lambda: {"affine": np.asarray(volume().affine, np.float64),
                                  "shape": np.asarray(volume().shape, np.int64),
                                  "bbox": np.asarray(volume().bbox, np.int64)}, ".npz")
    return BratsVolume(case.case_id, image, seg, np.asarray(meta["affine"]), tuple(int(s) for s in meta["shape"]),
                       tuple((int(a), int(b)) for a, b in meta["bbox"]), {"cached": cache.folder is not None})


# ----------------------------------------------------------------------------------------------- datasets
class BratsCases(Dataset):
    """Cases of one split and the way to load them (through a :class:`FileCache` or decoding every time)."""

    def __init__(self, root: str | os.PathLike | Sequence[BratsCase], split: str = "all", *, val_fraction: float = 0.2,
                 seed: int = 0, val_cases: Sequence[str] | None = None, cache_dir: str | os.PathLike | None = None,
                 margin: int = 2, max_cases: int | None = None):
        cases = find_cases(root) if isinstance(root, (str, os.PathLike)) else list(root)
        if not cases:
            raise ValueError(f"no BraTS cases in {root}")
        self.cases = split_cases(cases, split, val_fraction, seed, val_cases)[:max_cases]
        if not self.cases:
            raise ValueError(f"split {split!r} of {root} holds no case")
        self.split, self.margin = split, margin
        self.cache = FileCache(cache_dir) if cache_dir is not None else None

    @property
    def case_ids(self) -> list[str]:
        return [c.case_id for c in self.cases]

    def volume(self, index: int) -> BratsVolume:
        """The preprocessed case ``index`` (memory-mapped from the cache when there is one)."""
        case = self.cases[index]
        if self.cache is not None:
            return load_cached(case, self.cache, margin=self.margin)
        return load_case(case, margin=self.margin)


class BratsVolumes(BratsCases):
    """Whole cases for evaluation: ``(image float32 [4, X, Y, Z], regions float32 [3, X, Y, Z])``.

    The volumes are cropped to the brain and normalised (:func:`course_lib.data.brats.load_case`); :meth:`volume`
    gives the :class:`BratsVolume` with the crop box and affine, to put a prediction back into the original grid.

    Args:
        root: a folder (see :func:`course_lib.data.brats.find_cases`) or a list of :class:`BratsCase`.
        split: ``"train"``, ``"val"`` or ``"all"`` (see :func:`course_lib.data.brats.split_cases`).
        val_fraction, seed, val_cases: the split.
        cache_dir: a cache folder (see :func:`load_cached`), or ``None`` to decode the NIfTI files on every access.
        margin: crop margin in voxels.
        max_cases: keep only the first cases of the split.

    Example:
        >>> from course_lib.synthetic.brats import write_sample
        >>> ds = BratsVolumes(write_sample(tmp_path), "val")  # doctest: +SKIP
        >>> image, regions = ds[0]; image.shape[0], regions.shape[0]  # doctest: +SKIP
        (4, 3)
    """

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        vol = self.volume(index)
        image = torch.from_numpy(np.asarray(vol.image, dtype=np.float32))
        regions = torch.from_numpy(vol.regions().astype(np.float32))
        return image, regions


class BratsPatches(BratsCases):
    """Random training patches ``(image float32 [4, P, P, P], regions float32 [3, P, P, P])``.

    Each item draws one patch from case ``index % len(cases)``: with probability ``foreground_ratio`` the patch
    holds a tumour voxel (a label among 1, 2, 4 present in the case is drawn first, then a voxel of it, so the
    small enhancing and necrotic parts are seen as often as the large edema), otherwise it lies anywhere in the
    brain's box. Of the tumour patches, a share ``rim_ratio`` is centred on an edema voxel (label 2) and moved a
    quarter patch further away from the tumour's centre of mass, so that the patch reaches into the edema around
    the tumour rather than its core. (Measured on the four real cases with 32^3 patches at 3 mm, 96 mm wide: such a
    patch still holds most of the tumour, the core's share of its tumour voxels stays at 0.37, and 4 % of these
    patches hold almost no core against none of 24 tumour-centred ones: a small effect at this patch size.)
    Volumes smaller than the patch are padded with zeros. With
    ``downsample = f > 1`` a patch of ``P * f`` voxels is cut and averaged down by ``f`` (the image by area, the
    region masks into fractions: soft targets that keep the partial volume). Augmentation: a flip along each axis
    with probability 0.5; with ``zoom_out = z > 0`` a patch ``1 + U(0, z)`` times larger is cut and averaged down to
    ``P`` (everything, tumours included, looks up to that much smaller); per channel a random intensity scale
    ``1 + U(-s, s)`` and shift ``U(-s, s)`` of the brain voxels, and with ``gamma = g > 0`` a random gamma
    ``exp(U(-g, g))`` of the brain voxels' intensities mapped to [0, 1] and back (a contrast change, as nnU-Net's).

    Args:
        root: a folder (see :func:`course_lib.data.brats.find_cases`) or a list of :class:`BratsCase`.
        split: usually ``"train"``.
        patch_size: edge ``P`` of the cubic patch (or three edges), in (downsampled) voxels.
        downsample: integer factor ``f``.
        foreground_ratio: share of patches centred on tumour.
        samples_per_case: items per case and epoch.
        augment: flips and intensity changes.
        intensity: ``s`` above.
        rim_ratio: share of the tumour patches placed on the edema's outer rim (see above).
        zoom_out: ``z`` above (0: no scale augmentation).
        gamma: ``g`` above (0: no gamma augmentation).
        val_fraction, seed, val_cases, cache_dir, margin, max_cases: see :class:`BratsVolumes`.

    Example:
        >>> from course_lib.synthetic.brats import write_sample
        >>> ds = BratsPatches(write_sample(tmp_path), "train", patch_size=32)  # doctest: +SKIP
        >>> [t.shape for t in ds[0]]  # doctest: +SKIP
        [torch.Size([4, 32, 32, 32]), torch.Size([3, 32, 32, 32])]
    """

    def __init__(self, root, split: str = "train", *, patch_size: int | Sequence[int] = 64, downsample: int = 1,
                 foreground_ratio: float = 0.5, samples_per_case: int = 4, augment: bool = True,
                 intensity: float = 0.1, rim_ratio: float = 0.0, zoom_out: float = 0.0, gamma: float = 0.0,
                 **kwargs):
        super().__init__(root, split, **kwargs)
        size = (patch_size,) * 3 if isinstance(patch_size, int) else tuple(int(s) for s in patch_size)
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f"patch_size must be a positive int or three of them, got {patch_size!r}")
        if not 0.0 <= foreground_ratio <= 1.0:
            raise ValueError(f"foreground_ratio must lie in [0, 1], got {foreground_ratio}")
        if not 0.0 <= rim_ratio <= 1.0:
            raise ValueError(f"rim_ratio must lie in [0, 1], got {rim_ratio}")
        if zoom_out < 0 or gamma < 0:
            raise ValueError(f"zoom_out and gamma must be >= 0, got {zoom_out} and {gamma}")
        if int(downsample) != downsample or downsample < 1:
            raise ValueError(f"downsample must be a positive integer, got {downsample!r}")
        self.patch_size, self.downsample = size, int(downsample)
        self.foreground_ratio, self.samples_per_case = foreground_ratio, int(samples_per_case)
        self.augment, self.intensity = augment, intensity
        self.rim_ratio, self.zoom_out, self.gamma = rim_ratio, zoom_out, gamma
        self._foreground: dict[int, list[np.ndarray]] = {}
        self._centroid: dict[int, np.ndarray] = {}
        self._edema: dict[int, int] = {}  # case -> position of the edema coordinates in its foreground list

    def __len__(self) -> int:
        return len(self.cases) * self.samples_per_case

    def foreground(self, index: int, seg: np.ndarray) -> list[np.ndarray]:
        """Voxel coordinates ``[N, 3]`` of each tumour label present in case ``index`` (at most 20 000 each)."""
        if index not in self._foreground:
            coords = []
            for label in (1, 2, 4):
                found = np.argwhere(np.asarray(seg) == label)
                if len(found):
                    coords.append(found[:: max(1, len(found) // 20000)].astype(np.int32))
                    if label == 2:
                        self._edema[index] = len(coords) - 1
            self._foreground[index] = coords
            self._centroid[index] = np.concatenate(coords).mean(0) if coords else np.zeros(3)
        return self._foreground[index]

    def rim_centre(self, index: int, seg: np.ndarray, native: Sequence[int]) -> np.ndarray | None:
        """A patch centre on the edema's outer rim of case ``index``: an edema voxel moved a quarter patch away from
        the tumour's centre of mass (``None`` when the case has no edema)."""
        coords = self.foreground(index, seg)
        k = self._edema.get(index)
        if k is None:
            return None
        voxel = coords[k][int(torch.randint(len(coords[k]), ()))].astype(np.float64)
        away = voxel - self._centroid[index]
        away = away / max(float(np.linalg.norm(away)), 1e-6)
        return np.round(voxel + away * np.asarray(native) / 4).astype(np.int64)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        case_index = index % len(self.cases)
        vol = self.volume(case_index)
        zoom = 1.0 + float(torch.rand(())) * self.zoom_out if self.augment and self.zoom_out > 0 else 1.0
        cut = tuple(int(round(s * zoom)) for s in self.patch_size)  # patch edge before the zoom, downsampled voxels
        native = tuple(c * self.downsample for c in cut)
        shape = vol.image.shape[1:]
        lo = [min(0, d - p) for d, p in zip(shape, native, strict=True)]
        hi = [max(0, d - p) for d, p in zip(shape, native, strict=True)]
        fg = self.foreground(case_index, vol.seg) if vol.seg is not None else []
        if fg and float(torch.rand(())) < self.foreground_ratio:
            centre = None
            if self.rim_ratio > 0 and float(torch.rand(())) < self.rim_ratio:
                centre = self.rim_centre(case_index, vol.seg, native)
            if centre is None:
                coords = fg[int(torch.randint(len(fg), ()))]
                centre = coords[int(torch.randint(len(coords), ()))]
            start = [int(c) - p // 2 + int(torch.randint(-(p // 4), p // 4 + 1, ())) for c, p in zip(centre, native,
                                                                                                     strict=True)]
        else:
            start = [int(torch.randint(a, b + 1, ())) for a, b in zip(lo, hi, strict=True)]
        start = [min(max(s, a), b) for s, a, b in zip(start, lo, hi, strict=True)]
        image = torch.from_numpy(_extract(vol.image, start, native).astype(np.float32))
        seg = _extract(vol.seg[None], start, native)[0] if vol.seg is not None else np.zeros(native, np.uint8)
        regions = torch.from_numpy(labels_to_regions(seg).astype(np.float32))
        if self.downsample > 1:
            image = F.avg_pool3d(image[None], self.downsample)[0]
            regions = F.avg_pool3d(regions[None], self.downsample)[0]
        if cut != self.patch_size:
            image = F.adaptive_avg_pool3d(image[None], self.patch_size)[0]
            regions = F.adaptive_avg_pool3d(regions[None], self.patch_size)[0]
        if self.augment:
            image, regions = self._augment(image, regions)
        return image, regions

    def _augment(self, image: torch.Tensor, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        axes = [d + 1 for d in range(3) if float(torch.rand(())) < 0.5]
        if axes:
            image, regions = image.flip(axes), regions.flip(axes)
        s = self.intensity
        if s > 0:
            scale = 1 + (torch.rand(image.shape[0], 1, 1, 1) * 2 - 1) * s
            shift = (torch.rand(image.shape[0], 1, 1, 1) * 2 - 1) * s
            image = torch.where(image != 0, image * scale + shift, image)
        if self.gamma > 0:
            image = _random_gamma(image, self.gamma)
        return image.contiguous(), regions.contiguous()


def _random_gamma(image: torch.Tensor, g: float) -> torch.Tensor:
    """Per channel, map the brain voxels to [0, 1], raise them to ``exp(U(-g, g))`` and map them back."""
    brain = image != 0
    lo = torch.where(brain, image, torch.inf).amin(dim=(1, 2, 3), keepdim=True)
    hi = torch.where(brain, image, -torch.inf).amax(dim=(1, 2, 3), keepdim=True)
    lo, hi = torch.nan_to_num(lo, posinf=0.0), torch.nan_to_num(hi, neginf=0.0)  # a channel without brain voxels
    span = (hi - lo).clamp_min(1e-6)
    power = torch.exp((torch.rand(image.shape[0], 1, 1, 1) * 2 - 1) * g)
    return torch.where(brain, ((image - lo) / span).clamp(0, 1) ** power * span + lo, image)


def _extract(array: np.ndarray, start: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """``array[:, start:start+size]`` over the last three axes, zero-padded where the box leaves the array."""
    src, dst = [], []
    for s, n, d in zip(start, size, array.shape[-3:], strict=True):
        a, b = max(s, 0), min(s + n, d)
        src.append(slice(a, b))
        dst.append(slice(a - s, b - s))
    out = np.zeros(array.shape[:-3] + tuple(size), dtype=array.dtype)
    out[(...,) + tuple(dst)] = array[(...,) + tuple(src)]
    return out
