"""SYNTHETIC matting samples: Adobe Composition-1k in both official layouts, and a PPM-100-like portrait folder.

Introduced in Chapter 2 (image matting). :func:`write_sample` is the ``sample_writer`` of the registry's
``composition1k`` entry and :func:`write_portrait_sample` that of ``ppm100``; :mod:`course_lib.data.matting` reads
the samples and the real data with the same code. The foregrounds (:mod:`course_lib.synthetic.matting_shapes`)
have real soft edges: anti-aliased outlines, hair-like strands, motion blur, a glass-like disc at alpha 0.4, holes.
The backgrounds are crops of real photographs found under ``$COURSE_REAL_DATA`` (MS COCO, ADE20K, CamVid, VOC
folders) when there are some, else procedural pictures; the sample's ``README.md`` says which, and that it is
synthetic.

Example:
    >>> folder = write_sample(tmp_path)  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
    ['COURSE_SAMPLE.txt', 'Combined_Dataset', 'Composition-1k-testset', 'README.md', 'backgrounds']
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.matting_layout import (
    COMBINED,
    TEST_BGS_PER_FG,
    TESTSET,
    TRAIN_BGS_PER_FG,
    composite_8bit,
    composite_name,
    composition_plan,
    fit_background,
    generate_trimap,
)
from ..io.atomic import atomic_write, atomic_write_text
from ..io.matting import write_alpha, write_trimap
from .common import mark_sample, sample_is_current
from .matting_shapes import KINDS, background, discover_photos, foreground, photo_crop

__all__ = ["write_portrait_sample", "write_sample"]

_LOUD = "THIS IS A SYNTHETIC SAMPLE, NOT THE REAL DATASET."


def _save(path: Path, array: np.ndarray, quality: int | None = None) -> None:
    """Write an RGB or grey ``uint8`` picture atomically (PNG, or JPEG when ``quality`` is given)."""
    with atomic_write(path) as fh:
        Image.fromarray(np.ascontiguousarray(array)).save(fh, format="JPEG" if quality else "PNG",
                                                          **({"quality": quality} if quality else {}))


def _photos(photos) -> tuple[list[Path], Path | None]:
    """The photographs to crop backgrounds from, and the folder they were found in."""
    if photos is False:
        return [], None
    where = os.environ.get("COURSE_REAL_DATA") if photos is None else photos
    found = discover_photos(where)
    return found, (Path(where) if found else None)


def _shown(path: Path, where: Path | None) -> str:
    """``path`` relative to the searched folder (no machine-specific prefix in the README)."""
    try:
        return f"{path.relative_to(where)} (in the shared data folder)" if where else str(path)
    except ValueError:
        return str(path)


def _backgrounds(folder: Path, prefix: str, count: int, size_range, photos: list[Path], where: Path | None,
                 rng) -> tuple[list, list]:
    """Write ``count`` backgrounds ``<prefix>_NNN.jpg`` (photo crops, else procedural); returns names, sources."""
    lo, hi = size_range
    names, sources = [], []
    order = rng.permutation(len(photos)) if photos else []
    for i in range(count):
        height, width = (int(v) for v in rng.integers(int(0.75 * lo), int(1.5 * hi) + 1, 2))
        picture, source = None, "procedural"
        for j in range(len(order)):
            candidate = photos[order[(i + j) % len(order)]]
            picture = photo_crop(candidate, height, width, rng)
            if picture is not None:
                source = _shown(candidate, where)
                break
        if picture is None:
            picture = background(height, width, rng)
        name = f"{prefix}_{i:03d}.jpg"
        _save(folder / name, picture, quality=90)
        names.append(name)
        sources.append(f"{name}: {source}")
    return names, sources


def _bg_list(names: list[str], length: int, rng) -> list[str]:
    """A background list of ``length`` entries drawn from ``names`` (each used about equally often)."""
    reps = -(-length // len(names))
    return [names[i] for i in np.concatenate([rng.permutation(len(names)) for _ in range(reps)])[:length]]


def _params_key(photos: list[Path]) -> str:
    return hashlib.sha1("\n".join(map(str, photos)).encode()).hexdigest()[:12] if photos else "procedural"


def write_sample(root: str | os.PathLike, *, n_train: int = 8, n_test: int = 4, size_range=(64, 128),
                 n_backgrounds: tuple[int, int] = (24, 12), photos: str | os.PathLike | bool | None = None,
                 seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small SYNTHETIC Adobe Composition-1k in both official layouts; returns ``root/Composition-1k``.

    Written: ``Combined_Dataset/Training_set/{Adobe-licensed images,Other}/{fg,alpha}/`` with
    ``training_fg_names.txt`` and ``training_bg_names.txt`` (100 entries per foreground: the DIM rule),
    ``Combined_Dataset/Test_set/Adobe-licensed images/{fg,alpha,trimaps}/`` with ``test_fg_names.txt`` and
    ``test_bg_names.txt`` (20 per foreground), ``Composition-1k-testset/{merged,alpha_copy,trimaps,fg,bg}/``
    composited from the test part with the DIM rule (background scaled to cover, top-left crop, 8-bit truncation:
    ``n_test`` x 20 composites), and the backgrounds in
    ``backgrounds/train/`` and ``backgrounds/test/`` (the real release's backgrounds are MS COCO and PASCAL VOC,
    downloaded separately). To stay small the background lists repeat a few background files (the real lists name
    43 100 and 1000 distinct images). ``README.md`` and ``COURSE_SAMPLE.txt`` say that it is synthetic. The sample
    is deterministic for a ``seed`` and a set of photographs; an existing one written with the same arguments is
    kept.

    Args:
        root: the folder to write into.
        n_train, n_test: training and test foregrounds (kinds cycle through hair, motion, glass, holes).
        size_range: ``(min, max)`` side of the foregrounds in pixels.
        n_backgrounds: how many distinct training and test background files.
        photos: a folder searched for photographs; ``None``: ``$COURSE_REAL_DATA``; ``False``: procedural only.
        seed: random seed.
        overwrite: rewrite even when an identical sample is present.
    """
    lo, hi = int(size_range[0]), int(size_range[1])
    if n_train < 2 or n_test < 1:
        raise ValueError(f"need at least 2 training and 1 test foregrounds, got n_train={n_train}, n_test={n_test}")
    if not 16 <= lo <= hi:
        raise ValueError(f"size_range must be (min, max) with 16 <= min <= max, got {size_range}")
    found, where = _photos(photos)
    folder = Path(root).expanduser() / "Composition-1k"
    params = {"n_train": n_train, "n_test": n_test, "size_range": (lo, hi), "n_backgrounds": tuple(n_backgrounds),
              "photos": _params_key(found), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    sources = []
    bg_names = {}
    for part, count in zip(("train", "test"), n_backgrounds, strict=True):
        bg_names[part], made = _backgrounds(folder / "backgrounds" / part, f"{part}_bg", count, (lo, hi), found,
                                                 where, rng)
        sources += made
    combined = folder / COMBINED
    test_layers = {}
    for part, n, per_fg in (("train", n_train, TRAIN_BGS_PER_FG), ("test", n_test, TEST_BGS_PER_FG)):
        base = combined / ("Training_set" if part == "train" else "Test_set")
        names = []
        for i in range(n):
            kind = KINDS[(i + (1 if part == "test" else 0)) % len(KINDS)]
            name = f"synth_{part}_{i:02d}_{kind}.png"
            subset = "Other" if part == "train" and i % 2 else "Adobe-licensed images"
            height, width = (int(v) for v in rng.integers(lo, hi + 1, 2))
            fg, alpha = foreground(height, width, kind, rng)
            _save(base / subset / "fg" / name, fg)
            write_alpha(base / subset / "alpha" / name, alpha)
            if part == "test":
                trimap = generate_trimap(alpha, max(2, round(min(height, width) / 24)))
                write_trimap(base / subset / "trimaps" / name, trimap)
                test_layers[name] = (fg, alpha, trimap)
            names.append(name)
        prefix = "training" if part == "train" else "test"
        atomic_write_text(base / f"{prefix}_fg_names.txt", "".join(f"{n}\n" for n in names))
        listed = _bg_list(bg_names[part], len(names) * per_fg, rng)
        atomic_write_text(base / f"{prefix}_bg_names.txt", "".join(f"{n}\n" for n in listed))
        if part == "test":
            _write_testset(folder, names, listed, per_fg, test_layers)
    _write_readme(folder, n_train, n_test, TRAIN_BGS_PER_FG, TEST_BGS_PER_FG, sources)
    mark_sample(folder, params, f"{_LOUD} Synthetic Adobe Composition-1k (Combined_Dataset and Composition-1k-"
                "testset layouts) written by course_lib.synthetic.matting.write_sample; see README.md.")
    return folder


def _write_testset(folder: Path, names: list[str], bg_list: list[str], per_fg: int, layers: dict) -> None:
    """``Composition-1k-testset`` from the test foregrounds with the DIM rule, as the shared test set was made."""
    out = folder / TESTSET
    for index, (fg_name, bg_name) in enumerate(composition_plan(names, bg_list, per_fg)):
        fg, alpha, trimap = layers[fg_name]
        with Image.open(folder / "backgrounds" / "test" / bg_name) as img:
            bg = fit_background(np.asarray(img.convert("RGB")), *alpha.shape)
        name = composite_name(fg_name, index % per_fg)
        _save(out / "merged" / name, composite_8bit(fg, bg, alpha))
        write_alpha(out / "alpha_copy" / name, alpha)
        write_trimap(out / "trimaps" / name, trimap)
        _save(out / "fg" / name, fg)
        _save(out / "bg" / name, bg)


def _write_readme(folder: Path, n_train: int, n_test: int, train_per_fg: int, test_per_fg: int,
                  sources: list[str]) -> None:
    photos = sum(not s.endswith(": procedural") for s in sources)
    text = f"""# {_LOUD}

Synthetic stand-in for Adobe Composition-1k (Xu et al., "Deep Image Matting", CVPR 2017, arXiv:1703.03872),
written by `course_lib.synthetic.matting.write_sample` in exactly the layouts and formats of the real release, so
that `course_lib.data.matting` reads it with the same code. Numbers measured on it say nothing about the real
benchmark. The real data: `course_lib.data.registry.get("composition1k").note`.

- `Combined_Dataset/Training_set/`: {n_train} foregrounds (`Adobe-licensed images/` and `Other/`, `fg/` + `alpha/`),
  `training_fg_names.txt`, `training_bg_names.txt` ({train_per_fg} backgrounds per foreground: foreground i over
  entries {train_per_fg}*i .. {train_per_fg}*i+{train_per_fg - 1}).
- `Combined_Dataset/Test_set/Adobe-licensed images/`: {n_test} foregrounds with `alpha/` and `trimaps/`;
  `test_fg_names.txt`, `test_bg_names.txt` ({test_per_fg} per foreground).
- `Composition-1k-testset/{{merged,alpha_copy,trimaps,fg,bg}}/<fg>_<k>.png`: the test foregrounds composited over
  their backgrounds with the release's rule ({n_test * test_per_fg} composites).
- `backgrounds/train/`, `backgrounds/test/`: the backgrounds (the real ones are MS COCO train2014 and PASCAL VOC
  images, downloaded separately). The lists repeat these few files; the real lists name distinct images.

Foregrounds: opaque bodies with anti-aliased outlines, hair-like strands, motion blur, glass-like discs at
alpha 0.4, holes; colours F and alphas a are exact, so I = aF + (1-a)B holds up to 8-bit rounding.
Backgrounds: {photos} of {len(sources)} are crops of real photographs from the course's shared data (their terms
are those of the source datasets, see the SOURCES files there), the others procedural:

""" + "".join(f"- {s}\n" for s in sources)
    atomic_write_text(folder / "README.md", text)


def write_portrait_sample(root: str | os.PathLike, *, n: int = 6, size_range=(64, 128),
                          photos: str | os.PathLike | bool | None = None, seed: int = 0,
                          overwrite: bool = False) -> Path:
    """Write a small SYNTHETIC portrait set in the PPM-100 layout (``image/*.jpg`` + ``matte/*.png``); returns
    ``root/PPM-100``.

    Head-and-shoulders foregrounds with hair strands composited over photographs (or procedural backgrounds) as in
    :func:`write_sample`; ``README.md`` and ``COURSE_SAMPLE.txt`` say that it is synthetic.

    Args:
        root: the folder to write into.
        n: number of portraits.
        size_range: ``(min, max)`` side in pixels.
        photos: a folder searched for photographs; ``None``: ``$COURSE_REAL_DATA``; ``False``: procedural only.
        seed: random seed.
        overwrite: rewrite even when an identical sample is present.
    """
    lo, hi = int(size_range[0]), int(size_range[1])
    if n < 1 or not 16 <= lo <= hi:
        raise ValueError(f"need n >= 1 and size_range (min, max) with 16 <= min <= max, got n={n}, {size_range}")
    found, where = _photos(photos)
    folder = Path(root).expanduser() / "PPM-100"
    params = {"n": n, "size_range": (lo, hi), "photos": _params_key(found), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    sources = []
    order = rng.permutation(len(found)) if found else []
    for i in range(n):
        height, width = (int(v) for v in rng.integers(lo, hi + 1, 2))
        fg, alpha = foreground(height, width, KINDS[i % len(KINDS)], rng, portrait=True)
        photo = found[order[i % len(order)]] if found else None
        bg = photo_crop(photo, height, width, rng) if photo is not None else None
        sources.append(f"portrait_{i:03d}: " + (_shown(photo, where) if bg is not None else "procedural"))
        bg = bg if bg is not None else background(height, width, rng)
        _save(folder / "image" / f"portrait_{i:03d}.jpg", composite_8bit(fg, bg, alpha), quality=95)
        write_alpha(folder / "matte" / f"portrait_{i:03d}.png", alpha)
    buffer = io.StringIO()
    buffer.write(f"# {_LOUD}\n\nSynthetic stand-in for PPM-100 (MODNet, arXiv:2011.11961) in its layout: `image/` "
                 "(JPEG photographs) and `matte/` (8-bit PNG alpha mattes), written by course_lib.synthetic.matting."
                 "write_portrait_sample. Backgrounds:\n\n" + "".join(f"- {s}\n" for s in sources))
    atomic_write_text(folder / "README.md", buffer.getvalue())
    mark_sample(folder, params, f"{_LOUD} Synthetic PPM-100-like portrait set written by course_lib.synthetic."
                "matting.write_portrait_sample; see README.md.")
    return folder
