"""Image matting data, the parts without torch: compositing, the DIM composition rule, trimaps and the layouts.

Introduced in Chapter 2 (image matting). Xu, Price, Cohen, Huang, "Deep Image Matting", CVPR 2017,
https://arxiv.org/abs/1703.03872. The torch datasets built on these pieces are in :mod:`course_lib.data.matting`.

**The Adobe release** (``Adobe_Deep_Matting_Dataset.zip``, from the authors after registration) holds foregrounds
and alphas, never composites; its composition script pastes them over backgrounds that the user downloads::

    Combined_Dataset/
        Training_set/
            Adobe-licensed images/{fg,alpha}/<name>   same file names in fg/ and alpha/
            Other/{fg,alpha}/<name>                   the Creative-Commons foregrounds (431 in all with the above)
            training_fg_names.txt                     foreground names, in composition order
            training_bg_names.txt                     MS COCO train2014 file names, 100 per foreground
        Test_set/
            Adobe-licensed images/{fg,alpha,trimaps}/<name>     50 foregrounds and their trimaps
            test_fg_names.txt  test_bg_names.txt      PASCAL VOC file names, 20 per foreground

**The composition rule** (the release's ``Composition_code.py`` and its README): foreground ``i`` of the fg list is
pasted over backgrounds ``i * N`` to ``i * N + N - 1`` of the bg list (:func:`composition_plan`; ``N`` = 100 for
training, 20 for the test set: 431 x 100 = 43 100 training images, 50 x 20 = 1000 test images, hence
"Composition-1k"). A background smaller than the foreground in either direction is first scaled up (bicubic, both
sides by the same ratio, rounded up) so that it covers the foreground, then its top-left ``H x W`` corner is used
(:func:`fit_background`). The composite ``I = a F + (1 - a) B`` is computed in floating point (:func:`composite`);
the script then stores it as 8-bit by truncation (:func:`composite_8bit`) under ``<fg name without extension>_<k>.png``.

**The test set as matting code reads it** (``Composition-1k-testset``, the 1000 composites made once with the rule
above and shared between research groups)::

    Composition-1k-testset/
        merged/<fg>_<k>.png        the composites
        alpha_copy/<fg>_<k>.png    the alpha of each composite (copies of the 50 test alphas)
        trimaps/<fg>_<k>.png       the trimap of each composite (0 / 128 / 255)
        fg/  bg/                   optional: the foreground and the cropped background of each composite

Files of the three folders are matched by name (:func:`list_testset`); a missing partner is an error naming both.

**Trimaps for training** are made from the alpha by morphology (:func:`generate_trimap`), as the papers' training
code does: unknown = dilate(alpha > 0) minus erode(alpha = 1).

Example:
    >>> composition_plan(["a.png", "b.png"], ["x", "y", "z", "w"], per_fg=2)
    [('a.png', 'x'), ('a.png', 'y'), ('b.png', 'z'), ('b.png', 'w')]
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.matting import check_trimap
from .splits import check_inside, read_list_lines

__all__ = [
    "COMBINED", "IMAGE_SUFFIXES", "TEST_BGS_PER_FG", "TESTSET", "TESTSET_FOLDERS", "TRAIN_BGS_PER_FG", "AdobeSplit",
    "CompositeFiles", "composite", "composite_8bit", "composite_name", "composition_plan", "find_backgrounds",
    "fit_background", "generate_trimap", "list_testset", "match_by_stem", "read_adobe_split", "to_float_image",
    "trimap_to_float",
]  # fmt: skip

TRAIN_BGS_PER_FG = 100  # each training foreground over 100 MS COCO backgrounds
TEST_BGS_PER_FG = 20  # each test foreground over 20 PASCAL VOC backgrounds
COMBINED = "Combined_Dataset"
TESTSET = "Composition-1k-testset"
#: the folders of ``Composition-1k-testset``: required ones, then optional ones
TESTSET_FOLDERS = (("merged", "alpha_copy", "trimaps"), ("fg", "bg"))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_SPLIT_DIRS = {"train": ("Training_set", "training"), "test": ("Test_set", "test")}
_SUBSETS = ("Adobe-licensed images", "Other")
_INDEX = re.compile(r"^(?P<fg>.+)_(?P<k>\d+)$")
_EPS = 1e-3  # alpha within this of 0 or 1 counts as 0 or 1 in generated trimaps (half an 8-bit step is 0.00196)


# ----------------------------------------------------------------------------------------------- compositing
def to_float_image(array, what: str = "image") -> np.ndarray:
    """``float32`` in ``[0, 1]`` from a ``uint8`` (divided by 255) or float array (checked to lie in ``[0, 1]``)."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all() or (array.size and (array.min() < -1e-6 or array.max() > 1 + 1e-6)):
        raise ValueError(f"{what}: float values must be finite and in [0, 1] (uint8 is read as 0..255)")
    return array


def _check_layers(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    if alpha.ndim == 3 and alpha.shape[-1] == 1:
        alpha = alpha[..., 0]
    if fg.ndim != 3 or fg.shape[-1] != 3 or fg.shape != bg.shape or alpha.shape != fg.shape[:2]:
        raise ValueError(f"composite needs fg [H, W, 3], bg [H, W, 3] and alpha [H, W] of one size, got "
                         f"{fg.shape}, {bg.shape} and {alpha.shape}")
    return alpha


def composite(fg, bg, alpha) -> np.ndarray:
    """The compositing equation ``I = a F + (1 - a) B``, in ``float32``.

    Args:
        fg: foreground colours ``[H, W, 3]`` (float in ``[0, 1]`` or ``uint8``).
        bg: background colours ``[H, W, 3]``, same size.
        alpha: ``[H, W]`` or ``[H, W, 1]`` (float in ``[0, 1]`` or ``uint8``).

    Returns:
        ``float32 [H, W, 3]`` in ``[0, 1]``.

    Example:
        >>> fg = np.array([[[1.0, 0.0, 0.0]]]); bg = np.array([[[0.0, 0.0, 1.0]]])
        >>> composite(fg, bg, np.array([[0.25]])).tolist()
        [[[0.25, 0.0, 0.75]]]
    """
    fg, bg, alpha = to_float_image(fg, "fg"), to_float_image(bg, "bg"), to_float_image(alpha, "alpha")
    alpha = _check_layers(fg, bg, alpha)[..., None]
    return (alpha * fg + (1.0 - alpha) * bg).astype(np.float32)


def composite_8bit(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The composite as the DIM release stores it: ``a / 255`` times ``F`` plus ``(1 - a / 255)`` times ``B`` on the
    0..255 scale in ``float32``, truncated to ``uint8`` (not rounded).

    Args:
        fg, bg: ``uint8 [H, W, 3]``.
        alpha: ``uint8 [H, W]``.

    Example:
        >>> px = lambda v: np.full((1, 1, 3), v, np.uint8)
        >>> int(composite_8bit(px(200), px(100), np.full((1, 1), 128, np.uint8))[0, 0, 0])  # 150.196 -> 150
        150
    """
    for name, array in (("fg", fg), ("bg", bg), ("alpha", alpha)):
        if np.asarray(array).dtype != np.uint8:
            raise ValueError(f"composite_8bit: {name} must be uint8 (0..255), got {np.asarray(array).dtype}")
    alpha = _check_layers(np.asarray(fg), np.asarray(bg), np.asarray(alpha))
    a = (alpha.astype(np.float32) / np.float32(255.0))[..., None]
    return (a * fg.astype(np.float32) + (np.float32(1.0) - a) * bg.astype(np.float32)).astype(np.uint8)


def fit_background(bg: np.ndarray, height: int, width: int, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Scale a background up until it covers ``height x width`` (when it is smaller), then crop that size.

    The DIM rule: ``ratio = max(width / bw, height / bh)``; when ``ratio > 1`` the background is resized
    (bicubic) to ``(ceil(bw * ratio), ceil(bh * ratio))``; a larger background is never shrunk. The crop is the
    top-left corner, as in the release's script, or a random position with ``rng`` (training augmentation).

    Args:
        bg: ``[bh, bw, 3]``, ``uint8`` or float in ``[0, 1]`` (the result has the same dtype; floats are clipped to
            ``[0, 1]`` after the bicubic overshoot).
        height, width: the foreground's size.
        rng: random crop position; ``None``: top-left.

    Example:
        >>> fit_background(np.zeros((10, 20, 3), np.uint8), 30, 15).shape  # 3x: 30 x 60, then cropped
        (30, 15, 3)
    """
    import cv2

    bg = np.asarray(bg)
    if bg.ndim != 3 or bg.shape[-1] != 3 or min(bg.shape[:2]) < 1:
        raise ValueError(f"fit_background needs a background [H, W, 3], got shape {bg.shape}")
    bh, bw = bg.shape[:2]
    ratio = max(width / bw, height / bh)
    if ratio > 1:
        size = (math.ceil(bw * ratio), math.ceil(bh * ratio))
        resized = cv2.resize(bg.astype(np.float32) if bg.dtype != np.uint8 else bg, size, interpolation=cv2.INTER_CUBIC)
        bg = resized if bg.dtype == np.uint8 else np.clip(resized, 0.0, 1.0).astype(bg.dtype)
    y0 = int(rng.integers(0, bg.shape[0] - height + 1)) if rng is not None else 0
    x0 = int(rng.integers(0, bg.shape[1] - width + 1)) if rng is not None else 0
    return np.ascontiguousarray(bg[y0:y0 + height, x0:x0 + width])


def composition_plan(fg_names: Sequence[str], bg_names: Sequence[str], per_fg: int) -> list[tuple[str, str]]:
    """The DIM composition rule: foreground ``i`` over backgrounds ``i * per_fg`` .. ``i * per_fg + per_fg - 1``.

    Args:
        fg_names: the foreground list in its order (``training_fg_names.txt``).
        bg_names: the background list in its order (``training_bg_names.txt``).
        per_fg: backgrounds per foreground (:data:`TRAIN_BGS_PER_FG` = 100, :data:`TEST_BGS_PER_FG` = 20).

    Returns:
        ``(fg, bg)`` pairs, foreground by foreground: the ``k``-th pair of foreground ``i`` is item ``i * per_fg + k``
        and its composite is named :func:`composite_name` ``(fg, k)``.

    Raises:
        ValueError: ``per_fg < 1`` or fewer than ``len(fg_names) * per_fg`` backgrounds.
    """
    if per_fg < 1:
        raise ValueError(f"per_fg must be a positive number of backgrounds, got {per_fg}")
    need = len(fg_names) * per_fg
    if len(bg_names) < need:
        raise ValueError(f"the composition rule needs {len(fg_names)} foregrounds x {per_fg} = {need} background "
                         f"names, the list has {len(bg_names)}")
    return [(fg, bg_names[i * per_fg + k]) for i, fg in enumerate(fg_names) for k in range(per_fg)]


def composite_name(fg_name: str, k: int) -> str:
    """The file name of the ``k``-th composite of ``fg_name``: ``<fg name without extension>_<k>.png``.

    Example:
        >>> composite_name("boy-1518482_1920.png", 3)
        'boy-1518482_1920_3.png'
    """
    return f"{Path(fg_name).stem}_{k}.png"


# ----------------------------------------------------------------------------------------------- trimaps
def generate_trimap(alpha, width=10, *, rng: np.random.Generator | None = None, kernel: str = "ellipse") -> np.ndarray:
    """A trimap from an alpha matte: unknown = dilate(alpha > 0) minus erode(alpha == 1), as training code does.

    The structuring element is a ``(2 * width + 1)`` square or ellipse (OpenCV), so the unknown band reaches
    ``width`` pixels beyond the last non-zero alpha and ``width`` pixels into the opaque part; every pixel with
    ``0 < alpha < 1`` is unknown for any width (``width = 0`` marks exactly those). Alphas within 0.001 of 0 or 1
    (less than half an 8-bit step) count as 0 or 1, so that float alphas that went through resizing (1 becoming
    0.99999994) give the trimap of their 8-bit file.

    Args:
        alpha: ``[H, W]`` float in ``[0, 1]`` or ``uint8`` 0..255.
        width: band width in pixels, or an inclusive range ``(low, high)`` from which it is drawn with ``rng``
            (training: DIM-style random dilation).
        rng: the generator for a width range (``None``: a fresh unseeded one).
        kernel: ``"ellipse"`` (``cv2.MORPH_ELLIPSE``) or ``"square"`` (``cv2.MORPH_RECT``).

    Returns:
        ``uint8 [H, W]`` of 0 (background), 128 (unknown), 255 (foreground).

    Example:
        >>> alpha = np.zeros((1, 9), np.float32); alpha[0, 4:] = 1.0; alpha[0, 4] = 0.5
        >>> generate_trimap(alpha, 1, kernel="square").tolist()
        [[0, 0, 0, 128, 128, 128, 255, 255, 255]]
    """
    import cv2

    alpha = to_float_image(alpha, "alpha")
    if alpha.ndim != 2:
        raise ValueError(f"generate_trimap needs an alpha [H, W], got shape {alpha.shape}")
    if isinstance(width, (tuple, list)):
        low, high = (int(v) for v in width)
        if not 0 <= low <= high:
            raise ValueError(f"trimap width range must be (low, high) with 0 <= low <= high, got {width}")
        width = int((rng if rng is not None else np.random.default_rng()).integers(low, high + 1))
    width = int(width)
    if width < 0:
        raise ValueError(f"trimap width must be >= 0 pixels, got {width}")
    shapes = {"ellipse": cv2.MORPH_ELLIPSE, "square": cv2.MORPH_RECT}
    if kernel not in shapes:
        raise ValueError(f"kernel must be one of {sorted(shapes)}, got {kernel!r}")
    element = cv2.getStructuringElement(shapes[kernel], (2 * width + 1, 2 * width + 1))
    some = cv2.dilate((alpha > _EPS).astype(np.uint8), element)
    full = cv2.erode((alpha >= 1 - _EPS).astype(np.uint8), element)  # outside the picture counts as foreground
    trimap = np.where(some > 0, np.uint8(128), np.uint8(0))
    trimap[full > 0] = 255
    return trimap


def trimap_to_float(trimap: np.ndarray) -> np.ndarray:
    """``uint8`` trimap -> ``float32`` with 0 -> 0, 128 -> 0.5, 255 -> 1 (the networks' trimap channel).

    Example:
        >>> trimap_to_float(np.array([0, 128, 255], np.uint8)).tolist()
        [0.0, 0.5, 1.0]
    """
    trimap = check_trimap(np.asarray(trimap), "trimap")
    return (trimap // 127).astype(np.float32) / 2.0


# ----------------------------------------------------------------------------------------------- layouts
def _list_folder(folder: Path, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """``stem -> file`` of the image files of ``folder`` (hidden files skipped); two files of one stem: an error."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in suffixes or not path.is_file():
            continue
        if path.stem in found:
            raise ValueError(f"{path}: two files share the name {path.stem!r} ({found[path.stem].name}); keep one")
        found[path.stem] = path
    return found


def match_by_stem(folders: dict[str, Path], optional: Sequence[str] = ()) -> dict[str, dict[str, Path]]:
    """Match the image files of several folders by name, across extensions (``a.jpg`` <-> ``a.png``).

    Args:
        folders: ``kind -> folder``; the first kind leads (its files are the items).
        optional: kinds whose folder may be absent; when present, every item needs its file there too.

    Returns:
        ``name -> {kind: file}`` sorted by name.

    Raises:
        FileNotFoundError: a required folder is missing.
        ValueError: a file has no partner in another folder (the message names the file and the missing partner),
            or two files of one folder share a name.
    """
    listed: dict[str, dict[str, Path]] = {}
    for kind, folder in folders.items():
        if not folder.is_dir():
            if kind in optional:
                continue
            raise FileNotFoundError(f"{folder}: folder is missing (needed: {', '.join(folders)} folders)")
        listed[kind] = _list_folder(folder)
    lead = next(iter(folders))
    if not listed.get(lead):
        raise ValueError(f"{folders[lead]}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    problems = []
    for kind, files in listed.items():
        if kind == lead:
            continue
        problems += [f"{listed[lead][n]} has no partner in {folders[kind]} (expected {n}.*)"
                     for n in sorted(set(listed[lead]) - set(files))]
        problems += [f"{files[n]} has no partner in {folders[lead]} (expected {n}.*)"
                     for n in sorted(set(files) - set(listed[lead]))]
    if problems:
        raise ValueError(f"{len(problems)} unpaired file(s): " + "; ".join(problems[:5])
                         + (" ..." if len(problems) > 5 else ""))
    return {n: {kind: files[n] for kind, files in listed.items()} for n in sorted(listed[lead])}


@dataclass(frozen=True)
class CompositeFiles:
    """One composite of ``Composition-1k-testset``: its name (``<fg>_<k>``) and files (fg/bg ``None`` when absent)."""

    name: str
    image: Path
    alpha: Path
    trimap: Path
    fg: Path | None = None
    bg: Path | None = None


def _split_index(name: str) -> tuple[int, str]:
    match = _INDEX.match(name)
    return (int(match["k"]), match["fg"]) if match else (0, name)


def list_testset(folder: str | os.PathLike) -> list[CompositeFiles]:
    """The composites of a ``Composition-1k-testset`` folder, ordered background index first (all ``*_0`` files,
    then all ``*_1``, ...: the first items cover every foreground).

    ``merged/``, ``alpha_copy/`` and ``trimaps/`` are matched by file name (across extensions); ``fg/`` and
    ``bg/`` are optional, ``fg/`` may hold one file per composite (``<fg>_<k>``) or one per foreground (``<fg>``).

    Raises:
        FileNotFoundError: a required folder is missing.
        ValueError: a file without its partner (the message names the file and the missing partner).
    """
    folder = Path(folder)
    required, optional = TESTSET_FOLDERS
    pairs = match_by_stem({kind: folder / kind for kind in required})
    extra = {kind: _list_folder(folder / kind) for kind in optional if (folder / kind).is_dir()}
    items = []
    for name, files in pairs.items():
        found: dict[str, Path | None] = {}
        for kind, listing in extra.items():
            path = listing.get(name) or (listing.get(_split_index(name)[1]) if kind == "fg" else None)
            if path is None:
                raise ValueError(f"{files['merged']} has no partner in {folder / kind} (expected {name}.*"
                                 + (f" or {_split_index(name)[1]}.*" if kind == "fg" else "") + ")")
            found[kind] = path
        items.append(CompositeFiles(name, files["merged"], files["alpha_copy"], files["trimaps"], **found))
    return sorted(items, key=lambda item: (*_split_index(item.name), item.name))


@dataclass(frozen=True)
class AdobeSplit:
    """The training or test part of the Adobe release (``Combined_Dataset``), resolved to files.

    Attributes:
        split: ``"train"`` or ``"test"``.
        foregrounds: the fg list in its order (``training_fg_names.txt`` / ``test_fg_names.txt``).
        fg, alpha: ``name -> file`` of each foreground and its alpha.
        trimaps: ``name -> file`` of the test trimaps (empty for training).
        backgrounds: the bg list in its order (MS COCO / PASCAL VOC file names).
        per_fg: backgrounds per foreground (100 / 20).
        fg_list, bg_list: the two list files.
    """

    split: str
    foregrounds: list[str]
    fg: dict[str, Path]
    alpha: dict[str, Path]
    backgrounds: list[str]
    per_fg: int
    fg_list: Path
    bg_list: Path
    trimaps: dict[str, Path] = field(default_factory=dict)

    def plan(self) -> list[tuple[str, str]]:
        """The ``(fg, bg)`` pairs of the composition rule (:func:`composition_plan`)."""
        return composition_plan(self.foregrounds, self.backgrounds, self.per_fg)


def _read_names(path: Path, what: str) -> list[str]:
    names = []
    for number, line in read_list_lines(path, what):
        check_inside(line, f"{path}:{number}")
        names.append(line.replace("\\", "/"))
    return names


def _find_partner(folder: Path, name: str) -> Path | None:
    exact = folder / name
    if exact.is_file():
        return exact
    stem = Path(name).stem
    return next((p for p in sorted(folder.glob(f"{stem}.*")) if p.suffix.lower() in IMAGE_SUFFIXES), None)


def read_adobe_split(combined: str | os.PathLike, split: str) -> AdobeSplit:
    """Read ``Combined_Dataset/Training_set`` (``split="train"``) or ``Test_set`` (``"test"``) of the Adobe release.

    Each listed foreground is looked up in ``Adobe-licensed images/fg/`` then ``Other/fg/``; its alpha (and for the
    test set its trimap) must sit in the same subset's ``alpha/`` (``trimaps/``) under the same name (or the same
    name with another image extension).

    Raises:
        FileNotFoundError: a list file or a listed foreground is missing (the message names the list and line).
        ValueError: a foreground without its alpha or trimap (named), a list that climbs out of the folder, or a
            background list too short for the composition rule.
    """
    if split not in _SPLIT_DIRS:
        raise ValueError(f"the Adobe release has the parts {sorted(_SPLIT_DIRS)}, not {split!r}")
    part_dir, prefix = _SPLIT_DIRS[split]
    part = Path(combined) / part_dir
    fg_list, bg_list = part / f"{prefix}_fg_names.txt", part / f"{prefix}_bg_names.txt"
    foregrounds = _read_names(fg_list, "foreground list")
    backgrounds = _read_names(bg_list, "background list")
    per_fg = TRAIN_BGS_PER_FG if split == "train" else TEST_BGS_PER_FG
    composition_plan(foregrounds, backgrounds, per_fg)  # checks the lengths
    fg, alpha, trimaps = {}, {}, {}
    for number, name in enumerate(foregrounds, start=1):
        subset = next((part / s for s in _SUBSETS if (part / s / "fg" / name).is_file()), None)
        if subset is None:
            raise FileNotFoundError(f"{fg_list}:{number}: foreground {name!r} is in none of "
                                    + ", ".join(str(part / s / "fg") for s in _SUBSETS))
        fg[name] = subset / "fg" / name
        for kind, store in (("alpha", alpha), *((("trimaps", trimaps),) if split == "test" else ())):
            partner = _find_partner(subset / kind, name)
            if partner is None:
                raise ValueError(f"{fg[name]} has no partner in {subset / kind} (expected {name})")
            store[name] = partner
    return AdobeSplit(split, foregrounds, fg, alpha, backgrounds, per_fg, fg_list, bg_list, trimaps)


def find_backgrounds(bg_root: str | os.PathLike, names: Sequence[str], list_file: str | os.PathLike = "") -> dict[
        str, Path]:
    """``name -> file`` for every background name, looked up in ``bg_root`` and its sub-folders (one level).

    Raises:
        FileNotFoundError: ``bg_root`` is missing or lacks some of the names (the message names a few, the list file
            and what the folder should hold).
    """
    bg_root = Path(bg_root)
    if not bg_root.is_dir():
        raise FileNotFoundError(f"{bg_root}: background folder is missing")
    wanted = set(names)
    found: dict[str, Path] = {}
    for folder in [bg_root, *sorted(p for p in bg_root.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name in wanted and entry.name not in found:
                    found[entry.name] = Path(entry.path)
        if len(found) == len(wanted):
            break
    missing = sorted(wanted - set(found))
    if missing:
        raise FileNotFoundError(
            f"{bg_root}: {len(missing)} of the {len(wanted)} backgrounds named by {list_file or 'the list'} are not "
            f"there (e.g. {missing[:3]}); training_bg_names.txt names MS COCO train2014 images, test_bg_names.txt "
            "PASCAL VOC images: pass the folder holding them as bg_root")
    return found
