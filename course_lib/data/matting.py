"""Image matting datasets: Adobe Composition-1k (composited on the fly or as the shared test set) and portrait sets.

Introduced in Chapter 2 (image matting). Xu et al., "Deep Image Matting", CVPR 2017, arXiv:1703.03872; Ke et al.,
"MODNet", AAAI 2022, arXiv:2011.11961. The layouts, the composition rule and trimap generation are documented and
implemented in :mod:`course_lib.data.matting_layout` (re-exported here).

Items are dicts of torch tensors: ``image [3, H, W]`` float in ``[0, 1]``, ``trimap [1, H, W]`` in ``{0, 0.5, 1}``,
``alpha [1, H, W]`` in ``[0, 1]``, ``name`` (str) and, for items composited from a foreground, ``fg`` and ``bg``
``[3, H, W]``. Training items are random crops of one size (the default collate batches them); evaluation items
keep their native size (batch size 1).

- :class:`Composition1k` ``"train"``: the training foregrounds composited over their backgrounds on the fly
  (the DIM rule: foreground ``i`` over backgrounds ``100 i .. 100 i + 99``), DIM's augmentation: a square crop of
  ``crop_size``, 1.5 or 2 times ``crop_size`` (320 / 480 / 640 in the paper) centred on an unknown pixel of a
  trimap made with a random width, resized to ``crop_size``, a random horizontal flip, and the trimap made again on
  the crop; ``"val"``: a hashed hold-out of training foregrounds (:func:`course_lib.data.splits.hashed_holdout`),
  each over its first ``val_per_fg`` backgrounds, native size, seeded trimaps; ``"test"``: ``Composition-1k-testset``.
- :class:`PortraitMatting`: an image folder and an alpha folder (PPM-100 ``image/`` + ``matte/``, P3M-10k, AM-2k),
  optionally a trimap folder; names matched across extensions; trimaps generated when absent.

Example:
    >>> from course_lib.synthetic.matting import write_sample
    >>> ds = Composition1k(write_sample(tmp_path), "train", crop_size=64)  # doctest: +SKIP
    >>> {k: tuple(v.shape) for k, v in ds[0].items() if k != "name"}  # doctest: +SKIP
    {'image': (3, 64, 64), 'trimap': (1, 64, 64), 'alpha': (1, 64, 64), 'fg': (3, 64, 64), 'bg': (3, 64, 64)}
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..io.images import read_rgb
from ..io.matting import read_alpha, read_trimap
from .common import dataset_folder
from .matting_layout import (
    COMBINED,
    TEST_BGS_PER_FG,
    TESTSET,
    TESTSET_FOLDERS,
    TRAIN_BGS_PER_FG,
    AdobeSplit,
    CompositeFiles,
    composite,
    composite_8bit,
    composite_name,
    composition_plan,
    find_backgrounds,
    fit_background,
    generate_trimap,
    list_testset,
    match_by_stem,
    read_adobe_split,
    trimap_to_float,
)
from .registry import is_sample_folder
from .splits import hashed_holdout

__all__ = [
    "BACKGROUND_FOLDERS", "COMBINED", "SPLITS", "TEST_BGS_PER_FG", "TESTSET", "TRAIN_BGS_PER_FG", "AdobeSplit",
    "Composition1k", "PortraitMatting", "CompositeFiles", "composite", "composite_8bit", "composite_name",
    "composition_plan", "find_backgrounds", "fit_background", "generate_trimap", "list_testset", "match_by_stem",
    "random_matting_crop", "read_adobe_split", "trimap_to_float",
]  # fmt: skip

SPLITS = ("train", "val", "test")
#: where the training backgrounds are looked for when ``bg_root`` is not given (relative to the dataset folder and
#: to the folder above it): MS COCO's ``train2014`` folder, or the sample's ``backgrounds/train``
BACKGROUND_FOLDERS = ("train2014", "coco/train2014", "backgrounds/train")


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(read_rgb(path), dtype=np.float32) / 255.0


def _same_size(arrays: dict[Path, np.ndarray]) -> None:
    """Raise ``ValueError`` naming both files when two of the arrays differ in height or width (never resized)."""
    (first, a), *rest = arrays.items()
    for path, b in rest:
        if a.shape[:2] != b.shape[:2]:
            raise ValueError(f"{path}: is {b.shape[1]}x{b.shape[0]} (WxH) but its partner {first} is "
                             f"{a.shape[1]}x{a.shape[0]}; matting files of one item must have one size (never "
                             "resized silently)")


def _chw(array: np.ndarray) -> torch.Tensor:
    array = np.asarray(array, np.float32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1) if array.ndim == 3 else array[None]))


def _item_rng() -> np.random.Generator:
    """A numpy generator drawn from torch's global generator (seeded by ``torch.manual_seed`` and per worker)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ())))


def _draw_width(width, rng: np.random.Generator) -> int:
    if isinstance(width, (tuple, list)):
        return int(rng.integers(int(width[0]), int(width[1]) + 1))
    return int(width)


def random_matting_crop(layers: dict[str, np.ndarray], *, crop_size: int, crop_sizes=None, trimap_width=(1, 30),
                        flip: bool = True, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """DIM's training crop: a square of a random side centred on an unknown pixel, resized, flipped; new trimap.

    Args:
        layers: ``"alpha"`` ``[H, W]`` and any ``[H, W, 3]`` layers (``"fg"``, ``"bg"``, ``"image"``), one size.
        crop_size: the output side.
        crop_sizes: the crop sides to draw from (clipped to the picture); default ``crop_size`` times 1, 1.5 and 2
            (DIM: 320, 480, 640 resized to 320).
        trimap_width: the trimap band width or an inclusive range (drawn once, used for centring and for the crop).
        flip: flip horizontally with probability 1/2.
        rng: the random generator.

    Returns:
        the cropped layers (``float32``, ``crop_size`` square) plus ``"trimap"`` (``uint8``, made on the crop).
    """
    import cv2

    alpha = layers["alpha"]
    height, width = alpha.shape
    sizes = crop_sizes or (crop_size, int(round(1.5 * crop_size)), 2 * crop_size)
    side = max(1, min(int(rng.choice(sizes)), height, width))
    band = _draw_width(trimap_width, rng)
    unknown = np.flatnonzero(generate_trimap(alpha, band) == 128)
    centre = int(rng.choice(unknown)) if unknown.size else int(rng.integers(0, height * width))
    cy, cx = divmod(centre, width)
    y0 = int(np.clip(cy - side // 2, 0, height - side))
    x0 = int(np.clip(cx - side // 2, 0, width - side))
    mirror = flip and bool(rng.integers(0, 2))
    interp = cv2.INTER_AREA if side > crop_size else cv2.INTER_LINEAR
    out = {}
    for key, layer in layers.items():
        crop = np.ascontiguousarray(layer[y0:y0 + side, x0:x0 + side], dtype=np.float32)
        if side != crop_size:
            crop = np.clip(cv2.resize(crop, (crop_size, crop_size), interpolation=interp), 0.0, 1.0)
        out[key] = np.ascontiguousarray(crop[:, ::-1]) if mirror else crop
    out["trimap"] = generate_trimap(out["alpha"], band)
    return out


def _tensors(layers: dict[str, np.ndarray], trimap: np.ndarray, name: str) -> dict:
    item = {"image": _chw(layers["image"]), "trimap": _chw(trimap_to_float(trimap)), "alpha": _chw(layers["alpha"])}
    item.update({key: _chw(layers[key]) for key in ("fg", "bg") if key in layers})
    item["name"] = name
    return item


# ----------------------------------------------------------------------------------------------- Composition-1k
class Composition1k(Dataset):
    """Adobe Composition-1k for training (composited on the fly), validation and the shared test set.

    Args:
        root: the folder holding ``Combined_Dataset/`` and/or ``Composition-1k-testset/`` (or a folder up to three
            levels above it, or one of those two folders); for ``"test"`` also any folder holding ``merged/``,
            ``alpha_copy/`` and ``trimaps/``.
        split: ``"train"``, ``"val"`` (held-out training foregrounds) or ``"test"`` (``Composition-1k-testset``).
        crop_size: side of the training crops (default 320, as DIM); evaluation items keep their native size.
        max_items: keep the first items only. Items run over the foregrounds first (item ``j`` of ``F`` foregrounds
            uses foreground ``j mod F``), so a few items already cover many foregrounds.
        seed: seed of the validation hold-out and of the validation trimaps.
        trimap_width: trimap band width in pixels or an inclusive range drawn per item (DIM-style random dilation;
            ``(1, 30)`` for full-size pictures); for ``"val"`` drawn with ``seed``.
        bg_root: the folder of the training backgrounds (MS COCO train2014); default: the first of
            :data:`BACKGROUND_FOLDERS` found beside ``Combined_Dataset`` or one level up.
        crop_sizes: the crop sides before resizing (default ``crop_size`` x 1, 1.5, 2).
        flip: random horizontal flips for training.
        val_fraction: share of the training foregrounds held out for ``"val"``.
        val_per_fg: backgrounds per held-out foreground in ``"val"`` (20: the test protocol's count).
        verbose: print what the split holds.

    Attributes:
        folder: the dataset folder; ``items``: ``(fg name, bg name, composite name)`` for train/val, or
        :class:`CompositeFiles` for test; ``protocol``: a sentence saying what the split is; ``is_sample``.

    Raises:
        FileNotFoundError: the folder, a list, a foreground or a background is missing (named).
        ValueError: an unknown split, a file without its partner, or files of one item of different sizes (named).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", *, crop_size: int | None = None,
                 max_items: int | None = None, seed: int = 0, trimap_width=(1, 30),
                 bg_root: str | os.PathLike | None = None, crop_sizes=None, flip: bool = True,
                 val_fraction: float = 0.1, val_per_fg: int = TEST_BGS_PER_FG, verbose: bool = False) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown Composition-1k split {split!r}; choose one of {SPLITS}")
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items must be positive or None, got {max_items}")
        root = Path(root)
        renamed = split == "test" and all((root / kind).is_dir() for kind in TESTSET_FOLDERS[0])
        self.folder = root if renamed else dataset_folder("composition1k", root)
        self.split, self.seed, self.trimap_width, self.flip = split, seed, trimap_width, flip
        self.crop_size = int(crop_size or 320)
        self.crop_sizes = crop_sizes
        if split == "test":
            testset = self.folder if renamed else self.folder / TESTSET
            if not testset.is_dir():
                raise FileNotFoundError(f"{testset}: folder is missing; the test split reads Composition-1k-testset/"
                                        "{merged,alpha_copy,trimaps}/ (see course_lib.data.registry.get("
                                        "'composition1k').note)")
            items: list = list_testset(testset)
            self.protocol = (f"Composition-1k test set ({TESTSET}): {len(items)} composites, native size, the "
                             "trimaps of the release")
        else:
            items = self._plan(bg_root, val_fraction, val_per_fg, max_items)
        self.items = items[:max_items] if max_items else items
        if verbose:
            print(f"Composition-1k {split}: {len(self)} items; {self.protocol}")

    def _plan(self, bg_root, val_fraction: float, val_per_fg: int, max_items: int | None
              ) -> list[tuple[str, str, str]]:
        combined = self.folder / COMBINED
        if not combined.is_dir():
            raise FileNotFoundError(f"{combined}: folder is missing; the {self.split} split reads the Adobe release "
                                    "(Combined_Dataset/Training_set) (see course_lib.data.registry.get("
                                    "'composition1k').note)")
        release = read_adobe_split(combined, "train")
        self.release = release
        held = hashed_holdout(sorted(set(release.foregrounds)), val_fraction, self.seed)
        keep = [fg for fg in release.foregrounds if (fg in held) == (self.split == "val")]
        per_fg = release.per_fg if self.split == "train" else min(val_per_fg, release.per_fg)
        plan = release.plan()
        by_fg: dict[str, list[str]] = {}
        for fg, bg in plan:
            by_fg.setdefault(fg, []).append(bg)
        items = [(fg, by_fg[fg][k], composite_name(fg, k)) for k in range(per_fg) for fg in dict.fromkeys(keep)]
        items = items[:max_items] if max_items else items  # only their backgrounds need to be on disk
        root = Path(bg_root) if bg_root is not None else self._find_bg_root()
        self.backgrounds = find_backgrounds(root, sorted({bg for _, bg, _ in items}), release.bg_list)
        used, total = len({fg for fg, _, _ in items}), len(set(release.foregrounds))
        self.protocol = (f"{self.split}: {len(items)} composites of {used} of the {total} training foregrounds "
                         f"(hashed hold-out of {val_fraction:.0%}, seed {self.seed}; up to {per_fg} backgrounds each "
                         f"by the DIM rule, foreground i over backgrounds {release.per_fg} i ..), composited on the fly"
                         + (f", random {self.crop_size}-pixel crops" if self.split == "train" else ", native size"))
        return items

    def _find_bg_root(self) -> Path:
        for base in (self.folder, self.folder.parent):
            for name in BACKGROUND_FOLDERS:
                if (base / name).is_dir():
                    return base / name
        raise FileNotFoundError(
            f"{self.folder}: no background folder ({', '.join(BACKGROUND_FOLDERS)}) beside {COMBINED}; the training "
            "composites need the MS COCO train2014 images named in training_bg_names.txt: pass bg_root=")

    @property
    def is_sample(self) -> bool:
        """``True`` when the folder holds a synthetic sample, not the real dataset."""
        return is_sample_folder(self.folder)

    @property
    def names(self) -> list[str]:
        """The composite names (``<fg>_<k>``) of the items, in order."""
        return [self.name(i) for i in range(len(self))]

    def name(self, index: int) -> str:
        """The composite name (``<fg>_<k>``) of item ``index``."""
        item = self.items[index]
        return item.name if isinstance(item, CompositeFiles) else Path(item[2]).stem

    def __len__(self) -> int:
        return len(self.items)

    def load_layers(self, index: int) -> dict[str, np.ndarray]:
        """The ``index``-th item at native size, as numpy: ``image``, ``alpha``, ``trimap`` (test only), ``fg``,
        ``bg`` (``float32``; the trimap ``uint8``); files of different sizes are an error naming both."""
        item = self.items[index]
        if isinstance(item, CompositeFiles):
            layers = {"image": _rgb(item.image), "alpha": read_alpha(item.alpha), "trimap": read_trimap(item.trimap)}
            paths = [item.image, item.alpha, item.trimap]
            for key in ("fg", "bg"):
                if getattr(item, key) is not None:
                    layers[key] = _rgb(getattr(item, key))
                    paths.append(getattr(item, key))
            _same_size(dict(zip(paths, layers.values(), strict=True)))
            return layers
        fg_name, bg_name, _ = item
        fg_path, alpha_path = self.release.fg[fg_name], self.release.alpha[fg_name]
        fg, alpha = _rgb(fg_path), read_alpha(alpha_path)
        _same_size({fg_path: fg, alpha_path: alpha})
        bg = fit_background(_rgb(self.backgrounds[bg_name]), *alpha.shape)
        return {"image": composite(fg, bg, alpha), "alpha": alpha, "fg": fg, "bg": bg}

    def __getitem__(self, index: int) -> dict:
        layers = self.load_layers(index)
        name = self.name(index)
        if self.split == "test":
            return _tensors(layers, layers.pop("trimap"), name)
        if self.split == "val":
            rng = np.random.default_rng([self.seed, index])
            return _tensors(layers, generate_trimap(layers["alpha"], _draw_width(self.trimap_width, rng)), name)
        layers.pop("image")  # composited again after cropping and resizing, so that I = aF + (1-a)B holds exactly
        crop = random_matting_crop(layers, crop_size=self.crop_size, crop_sizes=self.crop_sizes,
                                   trimap_width=self.trimap_width, flip=self.flip, rng=_item_rng())
        crop["image"] = composite(crop["fg"], crop["bg"], crop["alpha"])
        return _tensors(crop, crop.pop("trimap"), name)

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return f"Composition1k(folder={str(self.folder)!r}, split={self.split!r}, n={len(self)}, {kind})"


# ----------------------------------------------------------------------------------------------- portrait folders
def _portrait_folder(root: Path, image_dir: str, alpha_dir: str, depth: int = 2) -> Path:
    """``root`` when it holds ``image_dir/`` and ``alpha_dir/``, else the first such folder up to ``depth`` below."""
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            if (folder / image_dir).is_dir() and (folder / alpha_dir).is_dir():
                return folder
        level = [c for f in level if f.is_dir() for c in sorted(f.iterdir()) if c.is_dir() and c.name[0] != "."]
    raise FileNotFoundError(f"{root}: no folder holding {image_dir}/ and {alpha_dir}/ there or up to {depth} levels "
                            "below it (pass image_dir= and alpha_dir= for other layouts)")


class PortraitMatting(Dataset):
    """An image folder and an alpha folder (and optionally a trimap folder), matched by name across extensions.

    PPM-100 (``image/`` + ``matte/``), P3M-10k (``blurred_image/`` + ``mask/``), AM-2k (``original/`` + ``mask/``)
    and the like. Evaluation items keep their native size; with ``crop_size`` they become DIM-style random crops
    (training; the trimap of a crop is then made from its alpha, as in :func:`random_matting_crop`).

    Args:
        root: the folder holding the sub-folders (or a folder up to two levels above it).
        image_dir, alpha_dir: the sub-folders of images and alpha mattes.
        trimap_dir: a sub-folder of trimaps (0/128/255), or ``None`` to generate them from the alphas.
        crop_size: random square crops of this side (training); ``None``: native size.
        max_items: keep the first items only (sorted by name).
        seed: seed of the generated trimaps of evaluation items.
        trimap_width: width (or inclusive range) of generated trimaps (:func:`generate_trimap`).
        flip: random horizontal flips of training crops.

    Raises:
        FileNotFoundError: a folder is missing.
        ValueError: a file without its partner, or an image and its alpha (or trimap) of different sizes; the
            message names both files.

    Example:
        >>> ds = PortraitMatting("data/ppm100/PPM-100")  # doctest: +SKIP
        >>> sorted(ds[0])  # doctest: +SKIP
        ['alpha', 'image', 'name', 'trimap']
    """

    def __init__(self, root: str | os.PathLike, *, image_dir: str = "image", alpha_dir: str = "matte",
                 trimap_dir: str | None = None, crop_size: int | None = None, max_items: int | None = None,
                 seed: int = 0, trimap_width=10, flip: bool = True) -> None:
        self.root = _portrait_folder(Path(root), image_dir, alpha_dir)
        folders = {"image": self.root / image_dir, "alpha": self.root / alpha_dir}
        if trimap_dir is not None:
            folders["trimap"] = self.root / trimap_dir
        pairs = match_by_stem(folders)
        self.items = list(pairs.items())[:max_items] if max_items else list(pairs.items())
        self.crop_size, self.seed, self.trimap_width, self.flip = crop_size, seed, trimap_width, flip

    @property
    def is_sample(self) -> bool:
        """``True`` when the folder holds a synthetic sample, not the real dataset."""
        return is_sample_folder(self.root)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def load_layers(self, index: int) -> dict[str, np.ndarray]:
        """The ``index``-th image, alpha and trimap (given or generated with ``seed``) at native size, as numpy."""
        _, files = self.items[index]
        layers = {"image": _rgb(files["image"]), "alpha": read_alpha(files["alpha"])}
        arrays = {files["image"]: layers["image"], files["alpha"]: layers["alpha"]}
        if "trimap" in files:
            layers["trimap"] = arrays[files["trimap"]] = read_trimap(files["trimap"])
        _same_size(arrays)
        if "trimap" not in layers:
            rng = np.random.default_rng([self.seed, index])
            layers["trimap"] = generate_trimap(layers["alpha"], _draw_width(self.trimap_width, rng))
        return layers

    def __getitem__(self, index: int) -> dict:
        name = self.items[index][0]
        layers = self.load_layers(index)
        trimap = layers.pop("trimap")
        if self.crop_size is None:
            return _tensors(layers, trimap, name)
        crop = random_matting_crop(layers, crop_size=int(self.crop_size), trimap_width=self.trimap_width,
                                   flip=self.flip, rng=_item_rng())
        return _tensors(crop, crop.pop("trimap"), name)

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return f"PortraitMatting(root={str(self.root)!r}, n={len(self)}, {kind})"
