"""Make ``Composition-1k-testset`` from the Adobe Deep Image Matting release and PASCAL VOC backgrounds.

The release ships the 50 test foregrounds (``Combined_Dataset/Test_set``) and the list of the 1000 VOC images to
composite them over (``test_bg_names.txt``), not the composites. This applies the authors' rule (foreground ``i`` over
backgrounds ``20 i .. 20 i + 19`` of the list, each background scaled up to cover the foreground and cropped at the top
left, ``I = aF + (1 - a)B`` in floating point, truncated to 8 bits) and writes the layout that matting code reads::

    python data_scripts/compose_composition1k.py --combined data/composition1k/Combined_Dataset \\
        --backgrounds data/VOCdevkit/VOC2012/JPEGImages --out data/composition1k

giving ``OUT/Composition-1k-testset/{merged,alpha_copy,trimaps,fg,bg}/<foreground>_<k>.png``. Existing files are
kept unless ``--overwrite``; every file is written atomically. Introduced in Chapter 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

try:
    import course_lib  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without installing course_lib
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data.matting import (  # noqa: E402
    composite_8bit,
    composite_name,
    composition_plan,
    find_backgrounds,
    fit_background,
    read_adobe_split,
)
from course_lib.io.atomic import atomic_write_bytes  # noqa: E402
from course_lib.io.matting import read_alpha, read_trimap, write_alpha, write_trimap  # noqa: E402

TESTSET = "Composition-1k-testset"


def _png_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="png")
    return buf.getvalue()


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def compose_testset(combined: Path, backgrounds: Path, out: Path, overwrite: bool = False,
                    progress: bool = True) -> Path:
    """Write ``out/Composition-1k-testset`` from ``combined`` (the release's ``Combined_Dataset``) and the folder
    holding the VOC images that ``test_bg_names.txt`` names; returns the test-set folder."""
    split = read_adobe_split(combined, "test")
    bg_files = find_backgrounds(backgrounds, split.backgrounds, split.bg_list)
    folder = out / TESTSET
    plan = composition_plan(split.foregrounds, split.backgrounds, split.per_fg)
    for index, (fg_name, bg_name) in enumerate(tqdm(plan, desc="composite", disable=not progress)):
        name = composite_name(fg_name, index % split.per_fg)
        if not overwrite and all((folder / kind / name).is_file() for kind in ("merged", "alpha_copy", "trimaps")):
            continue
        fg = _rgb(split.fg[fg_name])
        alpha = np.rint(read_alpha(split.alpha[fg_name]) * 255).astype(np.uint8)
        if fg.shape[:2] != alpha.shape:
            raise ValueError(f"{split.fg[fg_name]}: foreground {fg.shape[1]}x{fg.shape[0]} and its alpha "
                             f"{split.alpha[fg_name]} {alpha.shape[1]}x{alpha.shape[0]} differ in size")
        trimap = read_trimap(split.trimaps[fg_name])
        bg = fit_background(_rgb(bg_files[bg_name]), *alpha.shape)
        atomic_write_bytes(folder / "merged" / name, _png_bytes(composite_8bit(fg, bg, alpha)))
        write_alpha(folder / "alpha_copy" / name, alpha.astype(np.float32) / 255)
        write_trimap(folder / "trimaps" / name, trimap)
        atomic_write_bytes(folder / "fg" / name, _png_bytes(fg))
        atomic_write_bytes(folder / "bg" / name, _png_bytes(bg))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--combined", type=Path, required=True, help="the release's Combined_Dataset folder")
    parser.add_argument("--backgrounds", type=Path, required=True,
                        help="the folder (or its parent) holding the PASCAL VOC images of test_bg_names.txt")
    parser.add_argument("--out", type=Path, required=True, help="where Composition-1k-testset/ is written")
    parser.add_argument("--overwrite", action="store_true", help="rewrite composites that exist")
    args = parser.parse_args(argv)
    try:
        folder = compose_testset(args.combined, args.backgrounds, args.out, args.overwrite)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
