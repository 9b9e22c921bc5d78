"""DAVIS 2016 and 2017: densely annotated videos for video object segmentation, one loader for both.

Introduced in Chapter 7. F. Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
Segmentation", CVPR 2016 (DAVIS 2016: 50 sequences, one object each); J. Pont-Tuset et al., "The 2017 DAVIS
Challenge on Video Object Segmentation", https://arxiv.org/abs/1704.00675 (DAVIS 2017: 150 sequences, several
objects each).

Official layouts (the zips unpack to a ``DAVIS/`` folder)::

    DAVIS/                                       2017 (DAVIS-2017-trainval-480p.zip, ...-Full-Resolution.zip)
        JPEGImages/{480p,Full-Resolution}/<seq>/00000.jpg ...
        Annotations/{480p,Full-Resolution}/<seq>/00000.png ...   palette PNGs: 0 background, 1..N objects, 255 void
        ImageSets/2017/{train,val}.txt                            one sequence name per line (60 / 30)
        ImageSets/2016/{train,val}.txt                            the 2016 sequences, by name
    DAVIS/                                       2016 (DAVIS-data.zip)
        JPEGImages/{480p,1080p}/<seq>/00000.jpg ...
        Annotations/{480p,1080p}/<seq>/00000.png ...              grey 0/255 masks, one object
        ImageSets/{480p,1080p}/{train,val,trainval}.txt           "/JPEGImages/480p/bear/00000.jpg /Annotations/..."

Every frame is annotated; sequences differ in length (25 to 104 frames). Oddities the loader handles: the year is
told by the annotations' mode (grey = 2016, palette = 2017) unless given; 255 is void in 2017 and *object* in 2016;
a sequence named in a list but not on disk is skipped and counted (``missing``); a sequence with annotations but no
frames (a partial copy) is kept for scoring and skipped where frames are needed (``need_frames=True``).

``root`` may be the ``DAVIS`` folder or a folder up to three levels above it (:func:`course_lib.data.registry
.find_root` with the ``davis2016``/``davis2017`` entries). Where to download them, their terms and citations:
``course_lib.data.registry.get("davis2017")``; the synthetic sample: :mod:`course_lib.synthetic.davis`.

Example:
    >>> davis = DAVIS("/work/shared/data/davis2017", split="train")  # doctest: +SKIP
    >>> seq = davis[0]; seq.name, len(seq), seq.object_ids()  # doctest: +SKIP
    ('tennis', 2, [1, 2])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..io.images import open_image
from .splits import check_inside, read_list_lines
from .video import VOID, VideoSequence

__all__ = ["DAVIS", "RESOLUTIONS", "VOID", "YEARS", "davis_root", "detect_year", "list_sequences",
           "read_sequence", "read_sequence_list"]

YEARS = ("2016", "2017")
#: folder names of the resolutions (2016 calls its full resolution 1080p)
RESOLUTIONS = ("480p", "Full-Resolution", "1080p")
_FRAME = re.compile(r"^\d+$")


def davis_root(root: str | os.PathLike) -> Path:
    """The folder holding ``JPEGImages/`` or ``Annotations/``: ``root`` itself or its ``DAVIS/`` sub-folder.

    Raises:
        FileNotFoundError: neither holds ``Annotations/`` or ``JPEGImages/`` (the message names ``root``).
    """
    root = Path(root)
    for candidate in (root, root / "DAVIS", root / "DAVIS2017", root / "DAVIS2016"):
        if (candidate / "Annotations").is_dir() or (candidate / "JPEGImages").is_dir():
            return candidate
    raise FileNotFoundError(f"{root}: no DAVIS layout here (expected Annotations/<resolution>/<seq>/ and "
                            "JPEGImages/<resolution>/<seq>/, or a DAVIS/ folder holding them)")


def read_sequence_list(path: str | os.PathLike) -> list[str]:
    """The sequence names of a split list, in order: 2017 lists name one sequence per line; 2016 lists name a
    frame and its annotation per line (``/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png``).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not UTF-8 text, empty, a line of another form, a name that leaves the dataset folder.

    Example:
        >>> p = Path(getfixture("tmp_path")) / "val.txt"
        >>> _ = p.write_text("/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\\n")
        >>> read_sequence_list(p)
        ['bear']
    """
    names: list[str] = []
    for number, line in read_list_lines(path, "DAVIS sequence list"):
        where = f"{path}:{number}"
        fields = line.split()
        if len(fields) == 1 and "/" not in fields[0]:
            name = fields[0]
        elif len(fields) == 2 and fields[0].lower().endswith((".jpg", ".jpeg")):
            parts = fields[0].strip("/").split("/")
            if len(parts) < 3:
                raise ValueError(f"{where}: expected '/JPEGImages/<res>/<seq>/<frame>.jpg ...', got {line!r}")
            name = parts[-2]
        else:
            raise ValueError(f"{where}: expected one sequence name, or a frame and its annotation path, got {line!r}")
        check_inside(name, where)
        if name in (".", ".."):
            raise ValueError(f"{where}: {name!r} is no sequence name")
        if name not in names:
            names.append(name)
    return names


def detect_year(root: str | os.PathLike, resolution: str = "480p") -> str:
    """``"2016"`` when the first annotation is a grey (mode ``L``) mask, ``"2017"`` when it is a palette PNG.

    Raises:
        FileNotFoundError: no annotation under ``root/Annotations/<resolution>/``.
        ValueError: the first annotation is unreadable or of another mode.
    """
    folder = davis_root(root) / "Annotations" / resolution
    first = next((p for d in sorted(folder.iterdir()) if d.is_dir() for p in sorted(d.glob("*.png"))), None) \
        if folder.is_dir() else None
    if first is None:
        raise FileNotFoundError(f"{folder}: no annotation PNGs (<seq>/00000.png) to tell DAVIS 2016 from 2017")
    mode = open_image(first, "annotation").mode
    if mode not in ("L", "P", "1"):
        raise ValueError(f"{first}: annotation has PIL mode {mode!r}; DAVIS uses grey (2016) or palette (2017) PNGs")
    return "2017" if mode == "P" else "2016"


def _frames_in(folder: Path, suffixes: tuple[str, ...]) -> dict[int, Path]:
    found: dict[int, Path] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in suffixes and _FRAME.match(p.stem) and p.is_file():
                found[int(p.stem)] = p
    return found


def read_sequence(root: str | os.PathLike, name: str, *, year: str, resolution: str = "480p") -> VideoSequence:
    """One sequence of a DAVIS folder (paths only).

    Raises:
        FileNotFoundError: the sequence has neither frames nor annotations.
        ValueError: frame files without a 5-digit-number name sequence starting at 0 (a gap is an error naming it).
    """
    root = davis_root(root)
    frames = _frames_in(root / "JPEGImages" / resolution / name, (".jpg", ".jpeg"))
    annotations = _frames_in(root / "Annotations" / resolution / name, (".png",))
    if not frames and not annotations:
        raise FileNotFoundError(f"{root}: sequence {name!r} has no JPEGImages/{resolution}/{name}/*.jpg and no "
                                f"Annotations/{resolution}/{name}/*.png")
    if frames and sorted(frames) != list(range(len(frames))):
        gap = next(i for i in range(len(frames)) if i not in frames)
        raise ValueError(f"{root / 'JPEGImages' / resolution / name}: frame {gap:05d}.jpg is missing (frames must be "
                         "numbered 00000, 00001, ... without gaps)")
    extra = [i for i in annotations if frames and i not in frames]
    if extra:
        raise ValueError(f"{annotations[extra[0]]}: annotation without a frame image")
    return VideoSequence(name, tuple(frames[i] for i in sorted(frames)), annotations, binary=year == "2016")


def list_sequences(root: str | os.PathLike, *, year: str, split: str | None = None,
                   resolution: str = "480p") -> tuple[list[str], list[str]]:
    """The sequence names of ``split`` on disk, and those the split list names but that are not on disk.

    Without ``split`` (or without the split list), every sequence folder under ``Annotations/<resolution>`` and
    ``JPEGImages/<resolution>``.

    Raises:
        FileNotFoundError: ``split`` is given but its list is missing.
    """
    root = davis_root(root)
    on_disk = sorted({d.name for kind in ("Annotations", "JPEGImages") if (root / kind / resolution).is_dir()
                      for d in (root / kind / resolution).iterdir() if d.is_dir() and not d.name.startswith(".")})
    if split is None:
        return on_disk, []
    lists = ([root / "ImageSets" / "2017" / f"{split}.txt"] if year == "2017" else
             [root / "ImageSets" / resolution / f"{split}.txt", root / "ImageSets" / "480p" / f"{split}.txt",
              root / "ImageSets" / "2016" / f"{split}.txt"])
    path = next((p for p in lists if p.exists()), None)
    if path is None:
        raise FileNotFoundError(f"{lists[0]}: split list is missing (pass split=None to use every sequence on disk)")
    listed = read_sequence_list(path)
    return [n for n in listed if n in on_disk], [n for n in listed if n not in on_disk]


class DAVIS(Sequence):
    """The sequences of a DAVIS 2016 or 2017 folder: ``davis[i]`` is a :class:`VideoSequence`.

    Args:
        root: the ``DAVIS`` folder or its parent.
        year: ``"2016"`` or ``"2017"``; ``None``: told by the annotations (:func:`detect_year`).
        split: ``"train"``, ``"val"`` (a list of ``ImageSets``) or ``None`` (every sequence on disk).
        resolution: ``"480p"`` or ``"Full-Resolution"`` (2016: ``"1080p"``).
        sequences: only these sequence names (in this order).
        need_frames: skip sequences whose frame images are not on disk (they are listed in ``no_frames``).

    Attributes:
        missing: sequences named in the split list (or ``sequences``) that are not on disk.
        no_frames: sequences skipped for want of frame images.
    """

    def __init__(self, root: str | os.PathLike, *, year: str | None = None, split: str | None = None,
                 resolution: str = "480p", sequences: Sequence[str] | None = None, need_frames: bool = False) -> None:
        self.root = davis_root(root)
        self.year = str(year) if year is not None else detect_year(self.root, resolution)
        if self.year not in YEARS:
            raise ValueError(f"year must be one of {YEARS}, got {year!r}")
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
        self.split, self.resolution = split, resolution
        names, self.missing = list_sequences(self.root, year=self.year, split=split, resolution=resolution)
        if sequences is not None:
            self.missing += [n for n in sequences if n not in names]
            names = [n for n in sequences if n in names]
        self.sequences: list[VideoSequence] = []
        self.no_frames: list[str] = []
        for name in names:
            seq = read_sequence(self.root, name, year=self.year, resolution=resolution)
            if need_frames and not seq.frames:
                self.no_frames.append(name)
            else:
                self.sequences.append(seq)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index):
        if isinstance(index, str):
            return next((s for s in self.sequences if s.name == index), None) or self._unknown(index)
        return self.sequences[index]

    def _unknown(self, name: str):
        raise KeyError(f"{self.root}: no sequence {name!r} here (have {[s.name for s in self.sequences][:8]})")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sequences]

    def __repr__(self) -> str:
        return (f"DAVIS(year={self.year}, split={self.split}, resolution={self.resolution}, sequences={len(self)}, "
                f"missing={len(self.missing)}, no_frames={len(self.no_frames)}, root={str(self.root)!r})")

