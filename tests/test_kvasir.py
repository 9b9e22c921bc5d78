"""course_lib.data.kvasir on its synthetic sample (course_lib.synthetic.kvasir) and on deliberately broken copies:
layout, JPEG masks, splits, missing ids, bounding boxes, transforms, download, bad files."""

import dataclasses
import functools
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data import kvasir as K
from course_lib.data import registry
from course_lib.data.collate import binary_collate
from course_lib.data.registry import SAMPLE_MARKER, find_root
from course_lib.data.transforms import KvasirTransforms
from course_lib.datasets import locate
from course_lib.io.boxes import read_bboxes
from course_lib.io.images import MaskWarning, read_binary_mask
from course_lib.recipes import get_recipe
from course_lib.synthetic import kvasir as synthetic_kvasir


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A small sample; returns the folder *above* Kvasir-SEG (which also holds Data-split/)."""
    root = tmp_path_factory.mktemp("kvasir_sample")
    synthetic_kvasir.write_sample(root, n_train=6, n_val=3, size_range=(96, 160), seed=1)
    return root


@pytest.fixture
def copy(sample, tmp_path) -> Path:
    """A private copy of the sample that a test may damage."""
    shutil.copytree(sample, tmp_path / "copy")
    return tmp_path / "copy"


def test_sample_has_the_official_layout(sample):
    folder = sample / "Kvasir-SEG"
    images = sorted(p.name for p in (folder / "images").iterdir())
    masks = sorted(p.name for p in (folder / "masks").iterdir())
    assert images == masks and len(images) == 9 and all(n.endswith(".jpg") for n in images)
    assert (folder / "kavsir_bboxes.json").is_file() and (folder / SAMPLE_MARKER).is_file()
    lists = {s: (sample / "Data-split" / f"{s}.txt").read_text().split() for s in ("train", "val")}
    assert len(lists["train"]) == 6 and len(lists["val"]) == 3 and not set(lists["train"]) & set(lists["val"])
    sizes = {Image.open(folder / "images" / n).size for n in images}
    assert len(sizes) > 1  # varying sizes, like the real images
    assert synthetic_kvasir.write_sample(sample, n_train=6, n_val=3, size_range=(96, 160), seed=1) == folder  # kept


def test_sample_masks_are_jpeg_rgb_and_not_binary_like_the_real_ones(sample):
    raw_values = set()
    for path in (sample / "Kvasir-SEG" / "masks").iterdir():
        img = Image.open(path)
        assert img.format == "JPEG" and img.mode == "RGB"
        raw_values |= set(np.unique(np.asarray(img)).tolist())
        assert set(np.unique(read_binary_mask(path)).tolist()) <= {0, 1}
    assert any(0 < v < 255 for v in raw_values)  # JPEG ringing, so thresholding is needed


def test_read_mask_thresholds_at_128(tmp_path):
    grey = np.array([[0, 100, 127, 128, 200, 255]], np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    Image.fromarray(rgb, "RGB").save(tmp_path / "m.png")  # lossless: the values stay exactly as written
    with pytest.warns(MaskWarning, match="m.png"):  # four of six pixels are grey: thresholded, and said
        assert read_binary_mask(tmp_path / "m.png").tolist() == [[0, 0, 0, 1, 1, 1]]
        assert read_binary_mask(tmp_path / "m.png", threshold=129).tolist() == [[0, 0, 0, 0, 1, 1]]
        assert read_binary_mask(tmp_path / "m.png", threshold=100).tolist() == [[0, 1, 1, 1, 1, 1]]


def test_dataset_items(sample):
    ds = K.KvasirSEG(sample, "train")
    assert len(ds) == 6 and ds.missing == [] and ds.protocol.startswith("official") and ds.is_sample
    image, mask = ds[0]
    raw_image, raw_mask = ds.load_raw(0)
    assert image.dtype == torch.float32 and image.shape == (3, raw_image.height, raw_image.width)
    assert mask.dtype == torch.int64 and mask.shape == raw_mask.shape
    assert set(mask.unique().tolist()) == {0, 1}
    assert -2.2 < image.min() and image.max() < 2.7  # ImageNet-normalised [0, 1] values
    assert len(K.KvasirSEG(sample / "Kvasir-SEG", "val")) == 3  # the dataset folder itself works as root
    assert len(K.KvasirSEG(sample, "all")) == 9 and len(K.KvasirSEG(sample, "train", max_items=2)) == 2
    assert registry.get("kvasir").num_classes == 2 and get_recipe("unet-kvasir").dataset_class is K.KvasirSEG


def test_bounding_boxes_match_the_masks(sample):
    ds = K.KvasirSEG(sample, "all")
    assert ds.bboxes is not None
    for i in range(len(ds)):
        image, mask = ds.load_raw(i)
        entry = ds.bboxes[ds.ids[i]]
        assert (entry["width"], entry["height"]) == image.size
        inside = np.zeros_like(mask, bool)
        for b in ds.boxes(i):
            inside[b["ymin"]:b["ymax"] + 1, b["xmin"]:b["xmax"] + 1] = True
        assert mask[inside].sum() >= 0.98 * mask.sum()  # the JPEG mask may bleed a pixel beyond the box


def test_listed_but_missing_ids_are_skipped_and_counted(copy):
    victim = (copy / "Data-split" / "train.txt").read_text().split()[2]
    for sub in ("images", "masks"):
        (copy / "Kvasir-SEG" / sub / f"{victim}.jpg").unlink()
    ds = K.KvasirSEG(copy, "train")
    assert len(ds) == 5 and ds.missing == [victim] and victim not in ds.ids
    assert "5 of 6 listed" in ds.protocol and "1 missing" in ds.protocol
    assert ds.split_info.listed == 6


def test_seeded_split_without_lists(copy):
    shutil.rmtree(copy / "Data-split")
    train, val = K.KvasirSEG(copy, "train", seed=3), K.KvasirSEG(copy, "val", seed=3)
    assert train.protocol.startswith("seeded") and len(train) + len(val) == 9 and len(val) == 1
    assert not set(train.ids) & set(val.ids)
    assert K.KvasirSEG(copy, "val", seed=3).ids == val.ids  # deterministic
    ids = [f"im{i:03d}" for i in range(100)]
    a, b = K.split_ids(ids, "val", seed=0), K.split_ids(ids, "val", seed=1)
    assert len(a.ids) == 12 and a.ids != b.ids
    # the lists, when present, can be ignored on purpose
    assert K.KvasirSEG(copy, "val", split_dir=False).protocol.startswith("seeded")


def test_split_lists_inside_the_kvasir_folder_and_with_extensions(copy):
    shutil.move(copy / "Data-split", copy / "Kvasir-SEG" / "Data-split")
    val = copy / "Kvasir-SEG" / "Data-split" / "val.txt"
    val.write_text("".join(f"{i}.jpg\n\n" for i in val.read_text().split()))  # ids with suffix, blank lines
    assert len(K.KvasirSEG(copy, "val")) == 3


def test_bad_split_lists(copy):
    lists = copy / "Data-split"
    train = (lists / "train.txt").read_text().split()
    (lists / "val.txt").write_text(f"{train[0]}\n")
    with pytest.raises(ValueError, match="both train.txt and val.txt"):
        K.KvasirSEG(copy, "train")
    (lists / "val.txt").write_text("a b\n")
    with pytest.raises(ValueError, match=r"val.txt: entry 1 \('a b'\): expected one id"):
        K.KvasirSEG(copy, "val")
    (lists / "val.txt").write_text("x\nx\n")
    with pytest.raises(ValueError, match=r"val.txt: split list names 1 id\(s\) twice"):
        K.KvasirSEG(copy, "val")
    (lists / "val.txt").write_text("x\nimages/x.jpg\n")  # the same id, once with its folder and suffix
    with pytest.raises(ValueError, match="listed twice"):
        K.KvasirSEG(copy, "val")
    (lists / "val.txt").write_text("not_on_disk\n")
    with pytest.raises(ValueError, match="none of its 1 ids"):
        K.KvasirSEG(copy, "val")
    with pytest.raises(ValueError, match="unknown Kvasir-SEG split"):
        K.KvasirSEG(copy, "test")


def test_unpaired_files_are_an_error_naming_them(copy):
    mask = next((copy / "Kvasir-SEG" / "masks").iterdir())
    mask.unlink()
    with pytest.raises(ValueError, match=f"{mask.stem}.jpg has no mask"):
        K.KvasirSEG(copy, "train")


def test_broken_files_are_clear_errors(copy):
    ds = K.KvasirSEG(copy, "train")
    image_path, mask_path = ds.items[0]
    mask_path.write_bytes(mask_path.read_bytes()[:200])  # truncated JPEG
    with pytest.raises(ValueError, match=f"{mask_path.name}.*(truncated|not a readable)"):
        ds[0]
    mask_path.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{mask_path.name}.*empty"):
        ds[0]
    Image.new("RGB", (7, 5)).save(mask_path, format="JPEG")  # a mask of the wrong size
    with pytest.raises(ValueError, match=f"{mask_path.name}.*{image_path.name}"):
        ds[0]
    bad_json = copy / "Kvasir-SEG" / K.BBOX_FILE
    bad_json.write_text("{not json")
    with pytest.raises(ValueError, match="kavsir_bboxes.json: not valid JSON"):
        K.KvasirSEG(copy, "train")
    bad_json.write_text(json.dumps({"x": {"height": 5, "width": 5, "bbox": [{"xmin": 0, "ymin": 0, "xmax": 9}]}}))
    with pytest.raises(ValueError, match="entry 'x' is malformed"):
        read_bboxes(bad_json)


def test_find_root(copy, tmp_path):
    assert find_root("kvasir", copy) == copy / "Kvasir-SEG"
    assert find_root("kvasir", copy.parent) == copy / "Kvasir-SEG"  # two levels above
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    with pytest.raises(FileNotFoundError, match="Kvasir-SEG folder"):
        find_root("kvasir", tmp_path / "empty")  # images/ without any image is not a Kvasir-SEG folder


def test_train_transforms_keep_masks_binary_and_aligned():
    rng = np.random.default_rng(0)
    mask = np.zeros((90, 140), np.uint8)
    mask[5:50, 10:70] = 1  # off-centre, so that a flip applied to one of the two would show
    image = rng.integers(0, 60, (90, 140, 3), dtype=np.uint8)
    image[..., 0] = mask * 255  # the red channel draws the mask
    t = KvasirTransforms(train=True, size=(64, 48), color_jitter=None)
    for seed in range(5):
        torch.manual_seed(seed)
        x, y = t(image, mask)
        assert x.shape == (3, 64, 48) and y.shape == (64, 48) and set(y.unique().tolist()) <= {0, 1}
        red = x[0] * 0.229 + 0.485 > 0.5  # undo the normalisation of the red channel
        agree = (red == y.bool()).float().mean()
        assert agree > 0.95  # image and mask got the same crop and flips (edges differ: antialias vs nearest)
        assert (red == y.flip(-1).bool()).float().mean() < agree or (y == y.flip(-1)).all()


def test_eval_transforms_keep_the_native_mask():
    mask = np.ones((50, 70), np.uint8)
    x, y = KvasirTransforms(train=False, size=(32, 32), resize_mask=False)(np.zeros((50, 70, 3), np.uint8), mask)
    assert x.shape == (3, 32, 32) and y.shape == (50, 70)
    x, y = KvasirTransforms(train=False, size=(32, 32))(np.zeros((50, 70, 3), np.uint8), mask)
    assert y.shape == (32, 32)
    with pytest.raises(ValueError, match="needs a size"):
        KvasirTransforms(train=True, size=None)


def test_binary_collate():
    x, y = binary_collate([(torch.zeros(3, 8, 8), torch.zeros(8, 8)), (torch.ones(3, 8, 8), torch.ones(8, 8))])
    assert x.shape == (2, 3, 8, 8) and y.shape == (2, 8, 8)
    with pytest.raises(ValueError, match="share a size"):
        binary_collate([(torch.zeros(3, 8, 8), torch.zeros(8, 8)), (torch.zeros(3, 4, 8), torch.zeros(4, 8))])


def test_locate_prefers_real_data_and_falls_back_to_the_sample(sample, tmp_path, monkeypatch):
    small = functools.partial(synthetic_kvasir.write_sample, n_train=2, n_val=1, size_range=(64, 80))
    monkeypatch.setattr(synthetic_kvasir, "write_sample", small)  # locate writes it through the registry's writer
    data_root, work = tmp_path / "data", tmp_path / "work"
    folder, is_sample = locate("kvasir", data_root, "quick", verbose=False, work=work)
    assert is_sample and folder == work / "samples" / "kvasir" / "Kvasir-SEG"
    assert not data_root.exists()  # nothing is written inside a data root
    with pytest.raises(FileNotFoundError, match="kvasir"):
        locate("kvasir", tmp_path / "nothing", "full", verbose=False, work=work, download=False)
    real = data_root / "kvasir-seg"
    shutil.copytree(sample, real)
    (real / "Kvasir-SEG" / SAMPLE_MARKER).unlink()  # looks like a real download now
    folder, is_sample = locate("kvasir", data_root, "quick", verbose=False, work=work)
    assert not is_sample and folder == real / "Kvasir-SEG"


def test_download_from_local_urls(sample, tmp_path):
    # the same code path as the real download, with file:// URLs: zip (trust on first use) + checked split lists
    download = pytest.importorskip("course_lib.download")
    archive = tmp_path / "kvasir-seg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((sample / "Kvasir-SEG").rglob("*")):
            if path.is_file() and path.name != SAMPLE_MARKER:
                zf.write(path, path.relative_to(sample).as_posix())
    info = registry.get("kvasir")
    zip_resource, *lists = info.resources
    assert [r.sha256 is not None for r in info.resources] == [False, True, True]
    assert [r.target for r in lists] == ["Data-split/train.txt", "Data-split/val.txt"]

    def local(sha=None):
        split_files = [sample / r.target for r in lists]
        return dataclasses.replace(info, resources=(
            dataclasses.replace(zip_resource, url=archive.as_uri()),
            *(dataclasses.replace(r, url=f.as_uri(), sha256=sha or hashlib.sha256(f.read_bytes()).hexdigest(),
                                  size=f.stat().st_size) for r, f in zip(lists, split_files, strict=True))))

    target = tmp_path / "dl"
    download.fetch_dataset(local(), target, progress=False)
    folder = find_root("kvasir", target)
    assert folder == target / "kvasir" / "Kvasir-SEG" and len(K.KvasirSEG(target, "val")) == 3
    assert (target / "kvasir" / "downloads" / "kvasir-seg.zip.sha256").is_file()  # trusted on first use, recorded
    # a split list that does not match its pinned checksum is refused
    with pytest.raises(Exception, match="sha256"):
        download.fetch_dataset(local(sha="0" * 64), tmp_path / "dl2", progress=False)
