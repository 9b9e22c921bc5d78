"""The bad-input matrix: every reader and parser of ``course_lib`` against hostile files (issue 11).

Each reader is one row of :data:`READERS`: how to read a file, how to write a good one, and the bad cases specific
to it (wrong mode or bit depth, out-of-range labels, non-finite values, ...). Every row also gets the generic cases
(empty, truncated, wrong format, a folder or a looping symlink in place of the file, a name that is not UTF-8).
Each case asserts "a correct result or a named error": the reader either returns what the good file holds, or
raises an error of the library's kinds (``ValueError``, ``OSError``, ``RuntimeError`` and their subclasses) whose
message contains the file's name. Cases marked ``must_fail`` must raise. A new reader is one more row.

The binary formats (``.flo``, KITTI PNG, OFF, NIfTI headers, checkpoints) are also fuzzed with ``hypothesis``:
random bytes and random mutations of a good file give a correct result or a named error, never another exception.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from course_lib.checkpoint import load_checkpoint, save_checkpoint
from course_lib.data.ade20k import parse_object_info, parse_scene_categories
from course_lib.data.ade20k_annotations import read_annotation, read_index
from course_lib.data.ade20k_full import read_instance_mask, read_seg
from course_lib.data.camvid import parse_list_file
from course_lib.data.camvid32 import parse_label_colors, read_colour_label
from course_lib.data.chairs import read_split_list
from course_lib.data.cityscapes import read_kitti_instances, read_polygons
from course_lib.data.kitti_flow import read_calib_cam_to_cam
from course_lib.data.parsing import read_parsing_ids
from course_lib.data.splits import read_id_list
from course_lib.data.vistas import read_config as read_vistas_config
from course_lib.io.archive import ArchiveError, safe_extract
from course_lib.io.boxes import read_bboxes
from course_lib.io.checksums import read_sidecar
from course_lib.io.flow import read_flo, read_flow, read_kitti_flow, write_flo, write_kitti_flow
from course_lib.io.images import MaskWarning, check_labels, read_binary_mask, read_label, read_rgb
from course_lib.io.jsonfile import read_json
from course_lib.io.matting import read_alpha, read_trimap
from course_lib.io.nifti import read_nifti, save_nifti
from course_lib.io.off import read_off, write_off
from course_lib.io.points import read_point_h5, read_point_txt, write_point_h5, write_point_txt

NAMED_ERRORS = (ValueError, OSError, RuntimeError, EOFError)


# ------------------------------------------------------------------------------------------------ good files
def _png(path: Path, mode: str = "L") -> Path:
    array = np.zeros((6, 8), np.uint8)
    array[2:4, 3:6] = 1
    Image.fromarray(array, "L").convert(mode).save(path)
    return path


def _mask(path: Path) -> Path:
    array = np.zeros((16, 16, 3), np.uint8)
    array[4:12, 4:12] = 255
    Image.fromarray(array, "RGB").save(path)
    return path


def _nifti(path: Path, array: np.ndarray | None = None) -> Path:
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4) if array is None else array
    save_nifti(array, np.diag([-1.0, -1.0, 1.0, 1.0]), path)
    return path


def _off(path: Path) -> Path:
    return write_off(path, np.eye(4, 3), [[0, 1, 2], [0, 2, 3]])


def _points(path: Path) -> Path:
    return write_point_txt(path, np.arange(12, dtype=np.float64).reshape(2, 6) / 10)


def _h5(path: Path) -> Path:
    return write_point_h5(path, np.ones((2, 5, 3), np.float32), np.array([1, 2]))


def _flo(path: Path) -> Path:
    write_flo(path, np.full((3, 4, 2), 0.5, np.float32))
    return path


def _kitti(path: Path) -> Path:
    write_kitti_flow(path, np.full((3, 4, 2), 1.25, np.float32))
    return path


def _checkpoint(path: Path) -> Path:
    return save_checkpoint({"model": {"w": torch.arange(64, dtype=torch.float32)}, "epoch": 1}, path)


def _tar(path: Path) -> Path:
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        data = b"hello\n" * 100
        info = tarfile.TarInfo("folder/a.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


def _text(content: str) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        path.write_text(content, encoding="utf-8")
        return path
    return write


def _bytes(content: bytes) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        path.write_bytes(content)
        return path
    return write


# ------------------------------------------------------------------------------------------------ the table
@dataclass
class Reader:
    """One row: a reader, a writer of a good file (name, writer) and the reader-specific bad cases."""

    name: str
    read: Callable[[Path], object]
    good: tuple[str, Callable[[Path], Path]]
    cases: dict[str, tuple[Callable[[Path], Path], bool]] = field(default_factory=dict)  # name -> (writer, must_fail)
    generic: tuple[str, ...] = ("empty", "truncated", "wrong_format", "folder", "symlink_loop", "non_utf8_name")


def _extract(path: Path):
    return safe_extract(path, path.parent / "out")


def _label_in_range(path: Path):
    mask = read_label(path)
    check_labels(mask, num_classes=2, ignore_index=255, path=path)
    return mask


def _labels_out_of_range(path: Path) -> Path:
    Image.fromarray(np.full((4, 4), 7, np.uint8), "L").save(path)
    return path


def _nifti_nan(path: Path) -> Path:
    array = np.ones((2, 3, 4), np.float32)
    array[1, 1, 1] = np.nan
    return _nifti(path, array)


def _nifti_inf(path: Path) -> Path:
    array = np.ones((2, 3, 4), np.float32)
    array[0, 0, 0] = np.inf
    return _nifti(path, array)


def _nifti_2d(path: Path) -> Path:
    return _nifti(path, np.ones((3, 4), np.float32))


def _flo_nan(path: Path) -> Path:
    flow = np.zeros((2, 2, 2), np.float32)
    flow[0, 0, 0] = np.nan
    path.write_bytes(b"PIEH" + struct.pack("<ii", 2, 2) + flow.astype("<f4").tobytes())
    return path


def _kitti_8bit(path: Path) -> Path:
    Image.fromarray(np.zeros((3, 4, 3), np.uint8), "RGB").save(path)
    return path


def _h5_nan(path: Path) -> Path:
    points = np.ones((1, 4, 3), np.float32)
    points[0, 2, 1] = np.nan
    return write_point_h5(path, points, np.array([0]))


def _colour_photo(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB").save(path)
    return path


def _flipped_checkpoint(path: Path) -> Path:
    _checkpoint(path)
    raw = bytearray(path.read_bytes())
    start = raw.find(struct.pack("<f", 10.0))  # inside the tensor data: the float 10.0 of arange(64)
    assert start > 0
    raw[start + 3] ^= 0x01
    path.write_bytes(bytes(raw))
    return path


def _bomb_tar(path: Path) -> Path:
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 80 << 20  # 80 MiB of zeros compress to about 80 KB: a ratio of 1000
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    return path


READERS = [
    Reader("io.images.read_rgb", read_rgb, ("a.png", lambda p: _png(p, "RGB"))),
    Reader("io.images.read_label", _label_in_range, ("a.png", _png), {
        "wrong_mode_rgb": (lambda p: _png(p, "RGB"), True),
        "out_of_range_labels": (_labels_out_of_range, True),
    }),
    Reader("io.images.read_binary_mask", read_binary_mask, ("m.png", _mask), {
        "colour_photograph": (_colour_photo, True),
    }),
    Reader("io.nifti.read_nifti", read_nifti, ("v.nii.gz", _nifti), {
        "nan_voxel": (_nifti_nan, True),
        "inf_voxel": (_nifti_inf, True),
        "not_3d": (_nifti_2d, True),
        "gzip_of_garbage": (lambda p: _bytes(gzip.compress(b"not nifti" * 50))(p), True),
    }),
    Reader("io.off.read_off", read_off, ("m.off", _off), {
        "nan_coordinate": (_text("OFF\n3 1 0\n0 0 0\nnan 1 0\n0 1 0\n3 0 1 2\n"), True),
        "float32_overflow": (_text("OFF\n3 1 0\n0 0 0\n1e39 1 0\n0 1 0\n3 0 1 2\n"), True),
        "face_out_of_range": (_text("OFF\n3 1 0\n0 0 0\n1 1 0\n0 1 0\n3 0 1 7\n"), True),
        "fewer_faces_than_declared": (_text("OFF\n3 2 0\n0 0 0\n1 1 0\n0 1 0\n3 0 1 2\n"), True),
    }),
    Reader("io.points.read_point_txt", read_point_txt, ("c.txt", _points), {
        "ragged_rows_6_7_5": (_text("1,2,3,4,5,6\n1,2,3,4,5,6,7\n1,2,3,4,5\n"), True),
        "nan_value": (_text("1,2,3,4,5,6\n1,nan,3,4,5,6\n"), True),
        "inf_value": (_text("1,2,3\ninf,2,3\n"), True),
        "float32_overflow": (_text("1,2,3\n1e39,2,3\n"), True),
        "four_columns": (_text("1,2,3,4\n"), True),
    }),
    Reader("io.points.read_point_h5", read_point_h5, ("p.h5", _h5), {"nan_point": (_h5_nan, True)}),
    Reader("io.flow.read_flo", read_flow, ("f.flo", _flo), {
        "impossible_size": (_bytes(b"PIEH" + struct.pack("<ii", -1, 5)), True),
        "trailing_bytes": (lambda p: _bytes(_flo(p).read_bytes() + b"xx")(p), True),
    }),
    Reader("io.flow.read_kitti_flow", read_kitti_flow, ("k.png", _kitti), {
        "eight_bit_png": (_kitti_8bit, True),
    }),
    Reader("io.boxes.read_bboxes", read_bboxes, ("b.json", _text(json.dumps({}))), {
        "not_an_object": (_text("[1, 2]"), True),
    }, generic=("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")),
    Reader("io.archive.safe_extract", _extract, ("a.tar.gz", _tar), {
        "decompression_bomb": (_bomb_tar, True),
    }),
    Reader("checkpoint.load_checkpoint", load_checkpoint, ("last.pt", _checkpoint), {
        "flipped_tensor_bytes": (_flipped_checkpoint, True),
    }),
    Reader("data.splits.read_id_list", read_id_list, ("train.txt", _text("a\nb\n")), {
        "non_utf8_content": (_bytes(b"a\n\xff\xfe\n"), True),
        "duplicate_ids": (_text("a\na\n"), True),
    }, generic=("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")),
    Reader("data.chairs.read_split_list", read_split_list, ("FlyingChairs_train_val.txt", _text("1\n2\n1\n")), {
        "non_utf8_content": (_bytes(b"1\n\xff\n"), True),
        "out_of_range_value": (_text("1\n3\n"), True),
    }, generic=("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")),
    Reader("data.camvid.parse_list_file", lambda p: parse_list_file(p, p.parent),
           ("train.txt", _text("/SegNet/CamVid/train/a.png /SegNet/CamVid/trainannot/a.png\n")), {
        "non_utf8_content": (_bytes(b"train/a.png trainannot/\xff.png\n"), True),
        "climbs_out_with_dotdot": (_text("train/../../../etc/passwd trainannot/a.png\n"), True),
        "one_path_per_line": (_text("train/a.png\n"), True),
    }, generic=("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")),
    Reader("io.checksums.read_sidecar", read_sidecar, ("a.zip.sha256", _text("ab" * 32 + "  a.zip\n")), {
        "not_a_sha256": (_text("1234  a.zip\n"), True),
    }, generic=("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")),
]

try:  # the scoring command's list reader (python -m course_lib.score), where the package is present
    from course_lib.score.common import read_ids
except ImportError:  # pragma: no cover - before the scoring command landed
    read_ids = None
if read_ids is not None:
    READERS.append(Reader("score.common.read_ids", read_ids, ("val.txt", _text("a.png\nb\n")), {
        "non_utf8_content": (_bytes(b"a\n\xff\n"), True),
        "duplicate_ids": (_text("a\na.png\n"), False),
    }, generic=("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")))


# ------------------------------------------------------------------------------------------------ matting (Chapter 2)
def _grey(values, mode: str = "L") -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        if mode == "I;16":  # a 16-bit grey PNG
            Image.fromarray(np.asarray(values, np.uint16)).save(path)
        else:
            Image.fromarray(np.asarray(values, np.uint8), "L").convert(mode).save(path)
        return path
    return write


_ALPHA = [[0, 64, 128, 255], [255, 128, 64, 0]]
_TRIMAP = [[0, 128, 255, 128], [255, 0, 128, 0]]
READERS += [
    Reader("io.matting.read_alpha", read_alpha, ("alpha.png", _grey(_ALPHA)), {
        "rgba_alpha": (_grey(_ALPHA, "RGBA"), True),
        "la_alpha": (_grey(_ALPHA, "LA"), True),
        "coloured_rgb": (_colour_photo, True),
        "sixteen_bit_png": (_grey([[0, 32768], [65535, 1000]], "I;16"), False),  # read, divided by 65535
        "rgb_with_equal_channels": (_grey(_ALPHA, "RGB"), False),  # read as grey
    }),
    Reader("io.matting.read_trimap", read_trimap, ("trimap.png", _grey(_TRIMAP)), {
        "jpeg_like_values_127_129": (_grey([[0, 127, 128, 129], [255, 255, 0, 128]]), True),
        "jpeg_file": (lambda p: _bytes(_jpeg(_TRIMAP))(p), True),
        "sixteen_bit_png": (_grey([[0, 128], [255, 0]], "I;16"), True),
        "rgba_trimap": (_grey(_TRIMAP, "RGBA"), True),
        "coloured_rgb": (_colour_photo, True),
    }),
]


def _jpeg(values) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.kron(np.asarray(values, np.uint8), np.ones((5, 5), np.uint8)), "L").save(buffer, "JPEG",
                                                                                               quality=75)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ ADE20K (Chapter 3)
_TEXT_GENERIC = ("empty", "wrong_format", "folder", "symlink_loop", "non_utf8_name")
_INFO150 = "Idx\tRatio\tTrain\tVal\tName\n1\t0.1576\t11664\t1172\twall\n2\t0.1072\t6046\t612\tbuilding, edifice\n"
_HEAD150 = "Idx\tRatio\tTrain\tVal\tName\n"


def _seg(red: int = 10, mode: str = "RGB") -> Callable[[Path], Path]:
    """An ADE20K _seg.png: class 401 (R 10, G 145) with instance code 7 on a 6 x 8 picture; ``red`` may break it."""
    def write(path: Path) -> Path:
        rgb = np.zeros((6, 8, 3), np.uint8)
        rgb[1:4, 2:6] = (red, 145, 7)
        Image.fromarray(rgb, "RGB").convert(mode).save(path)
        return path
    return write


def _ade_json(edit: Callable[[dict], None] | None = None, raw: str | None = None) -> Callable[[Path], Path]:
    """A small ADE20K .json (a car with a wheel as its part); ``edit`` changes its annotation, ``raw`` replaces it."""
    def write(path: Path) -> Path:
        car = {"id": 0, "name": "car, auto", "name_ndx": 401, "raw_name": "car", "occluded": "no", "crop": "0",
               "attributes": [], "parts": {"part_level": 0, "ispartof": [], "hasparts": [1]},
               "polygon": {"x": [0, 5, 5], "y": [0, 0, 3]}, "instance_mask": "a/instance_000_a.png"}
        wheel = {"id": 1, "name": "wheel", "name_ndx": 3035, "occluded": [], "crop": "0", "attributes": "",
                 "parts": {"part_level": 1, "ispartof": 0, "hasparts": []}, "polygon": {"x": [1, 2], "y": [2, 3]}}
        ann = {"filename": "a.jpg", "folder": "ADE/training/urban/street", "imsize": [6, 8, 3],
               "scene": ["outdoor", "street"], "object": [car, wheel]}
        if edit is not None:
            edit(ann)
        path.write_text(raw if raw is not None else json.dumps({"annotation": ann}), encoding="utf-8")
        return path
    return write


def _pickle(obj) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        import pickle

        path.write_bytes(pickle.dumps(obj))
        return path
    return write


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


READERS += [
    Reader("data.ade20k.parse_object_info", parse_object_info, ("objectInfo150.txt", _text(_INFO150)), {
        "non_utf8_content": (_bytes(_HEAD150.encode() + b"1\t0.1\t1\t1\tw\xe9ll\n"), True),
        "no_header": (_text(_INFO150.split("\n", 1)[1]), True),
        "index_gap": (_text(_HEAD150 + "1\t0.1\t1\t1\twall\n3\t0.1\t1\t1\tsky\n"), True),
        "four_fields": (_text(_HEAD150 + "1\t0.1\t1\twall\n"), True),
        "ratio_above_one": (_text(_HEAD150 + "1\t1.5\t1\t1\twall\n"), True),
        "negative_count": (_text(_HEAD150 + "1\t0.1\t-1\t1\twall\n"), True),
        "empty_name": (_text(_HEAD150 + "1\t0.1\t1\t1\t,\n"), True),
        "header_only": (_text(_HEAD150), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.ade20k.parse_scene_categories", parse_scene_categories,
           ("sceneCategories.txt", _text("ADE_val_00000001 abbey\nADE_val_00000002 abbey\n")), {
        "non_utf8_content": (_bytes(b"ADE_val_00000001 caf\xe9\n"), True),
        "three_fields": (_text("ADE_val_00000001 abbey church\n"), True),
        "duplicate_id": (_text("ADE_val_00000001 abbey\nADE_val_00000001 street\n"), True),
        "path_as_id": (_text("../../etc/passwd abbey\n"), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.ade20k_full.read_seg", read_seg, ("ADE_train_00000001_seg.png", _seg()), {
        "red_not_a_multiple_of_10": (_seg(red=15), True),
        "grey_png": (_seg(mode="L"), True),
        "rgba_png": (_seg(mode="RGBA"), True),
        "palette_png": (_seg(mode="P"), True),
    }),
    Reader("data.ade20k_full.read_instance_mask", read_instance_mask, ("instance_000_a.png", _grey(_TRIMAP)), {
        "grey_value_64": (_grey([[0, 64], [128, 255]]), True),
        "rgb_mask": (_grey(_TRIMAP, "RGB"), True),
        "sixteen_bit_png": (_grey([[0, 128], [255, 0]], "I;16"), True),
    }),
    Reader("data.ade20k_annotations.read_annotation", read_annotation, ("ADE_train_00000001.json", _ade_json()), {
        "not_an_annotation": (_ade_json(raw="[1, 2]"), True),
        "non_utf8_content": (_bytes(b'{"annotation": {"filename": "caf\xe9.jpg"}}'), True),
        "imsize_zero": (_ade_json(lambda a: a.update(imsize=[0, 8, 3])), True),
        "imsize_text": (_ade_json(lambda a: a.update(imsize="6x8")), True),
        "id_is_text": (_ade_json(lambda a: a["object"][0].update(id="0")), True),
        "duplicate_ids": (_ade_json(lambda a: a["object"][1].update(id=0)), True),
        "part_of_a_missing_object": (_ade_json(lambda a: a["object"][1]["parts"].update(ispartof=9)), True),
        "part_without_owner": (_ade_json(lambda a: a["object"][1]["parts"].update(ispartof=[])), True),
        "polygon_ragged": (_ade_json(lambda a: a["object"][0]["polygon"]["x"].pop()), True),
        "polygon_nan": (_ade_json(raw='{"annotation": {"imsize": [6, 8, 3], "object": [{"id": 0, "name": "car", '
                                      '"name_ndx": 401, "parts": {"part_level": 0}, "polygon": {"x": [NaN], '
                                      '"y": [1]}}]}}'), True),
        "class_index_beyond_the_png": (_ade_json(lambda a: a["object"][0].update(name_ndx=70000)), True),
        "mask_path_climbs_out": (_ade_json(lambda a: a["object"][0].update(instance_mask="../../x.png")), True),
        "deeply_nested": (_ade_json(raw="[" * 100000 + "]" * 100000), True),
    }),
    Reader("data.ade20k_annotations.read_index", read_index, ("index_ade20k.pkl", _pickle(
        {"objectnames": np.array(["wall", "building, edifice"], object), "filename": ["ADE_train_00000001.jpg"],
         "objectPresence": np.zeros((2, 1), np.int64)})), {
        "runs_code": (_pickle({"objectnames": _RunsCode()}), True),
        "not_a_dict": (_pickle(["wall", "sky"]), True),
        "no_objectnames": (_pickle({"filename": ["a.jpg"]}), True),
    }),
]

# ------------------------------------------------------------------------------------------------ driving (Chapter 10)
_POLY = {"imgHeight": 2, "imgWidth": 3, "objects": [{"label": "road", "polygon": [[0, 0], [2, 0], [2, 1]]}]}
_VISTAS = {"labels": [{"name": "nature--sky", "readable": "Sky", "color": [70, 130, 180], "instances": False,
                       "evaluate": True}]}


def _json_edit(base: dict, edit: Callable[[dict], None]) -> Callable[[Path], Path]:
    data = json.loads(json.dumps(base))
    edit(data)
    return _text(json.dumps(data))


def _rgb(values) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        Image.fromarray(np.asarray(values, np.uint8), "RGB").save(path)
        return path
    return write


READERS += [
    Reader("io.jsonfile.read_json", read_json, ("a.json", _text('{"a": [1, 2]}')), {
        "non_utf8_content": (_bytes(b'{"a": "caf\xe9"}'), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }),
    Reader("data.cityscapes.read_polygons", read_polygons, ("a_000000_000000_gtFine_polygons.json", _text(
        json.dumps(_POLY))), {
        "height_zero": (_json_edit(_POLY, lambda d: d.update(imgHeight=0)), True),
        "unknown_label": (_json_edit(_POLY, lambda d: d["objects"][0].update(label="spaceship")), True),
        "point_of_three_values": (_json_edit(_POLY, lambda d: d["objects"][0]["polygon"].append([1, 2, 3])), True),
        "nan_coordinate": (_text(json.dumps(_POLY).replace("[2, 1]", "[NaN, 1]")), True),
        "not_an_object": (_text("[1, 2]"), True),
        "non_utf8_content": (_bytes(b'{"imgHeight": 2, "label": "caf\xe9"}'), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }),
    Reader("data.cityscapes.read_kitti_instances", read_kitti_instances, ("000000_10.png", _grey(
        [[26 * 256 + 1, 7 * 256], [24 * 256 + 2, 0]], "I;16")), {
        "eight_bit_png": (_grey([[26, 7], [24, 0]]), True),
        "label_id_above_33": (_grey([[40 * 256 + 1, 0]], "I;16"), True),
    }),
    Reader("data.camvid32.parse_label_colors", parse_label_colors, ("label_colors.txt", _text(
        "64 128 64\tAnimal\n0 0 0\t\tVoid\n")), {
        "non_utf8_content": (_bytes(b"64 128 64\tAnim\xe4l\n"), True),
        "value_300": (_text("300 0 0\tRed\n"), True),
        "no_name": (_text("64 128 64\n"), True),
        "same_colour_twice": (_text("0 0 0\tVoid\n0 0 0\tOther\n"), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.camvid32.read_colour_label", read_colour_label, ("0001TP_006690_L.png", _rgb([[[128, 64, 128],
                                                                                              [0, 0, 0]]])), {
        "grey_png": (_grey([[0, 1]]), True),
        "unknown_colour": (_rgb(np.full((2, 2, 3), 7)), True),
    }),
    Reader("data.kitti_flow.read_calib_cam_to_cam", read_calib_cam_to_cam, ("000000.txt", _text(
        "calib_time: 09-Jan-2012 13:57:47\nP_rect_02: 721.5 0 609.6 44.9 0 721.5 172.9 0.2 0 0 1 0.003\n")), {
        "non_utf8_content": (_bytes(b"P_rect_02: 7\xff 0 0\n"), True),
        "eleven_numbers": (_text("P_rect_02: 1 2 3 4 5 6 7 8 9 10 11\n"), True),
        "nan_value": (_text("P_rect_02: nan 0 609.6 44.9 0 721.5 172.9 0.2 0 0 1 0.003\n"), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.vistas.read_config", read_vistas_config, ("config_v1.2.json", _text(json.dumps(_VISTAS))), {
        "colour_out_of_range": (_json_edit(_VISTAS, lambda d: d["labels"][0].update(color=[0, 0, 256])), True),
        "evaluate_not_a_bool": (_json_edit(_VISTAS, lambda d: d["labels"][0].update(evaluate="yes")), True),
        "no_labels": (_text(json.dumps({"labels": []})), True),
        "non_utf8_content": (_bytes(b'{"labels": [{"name": "caf\xe9"}]}'), True),
    }),
]


def _generic(case: str, reader: Reader, tmp: Path) -> tuple[Path, bool]:
    """Write the generic ``case`` for ``reader`` into ``tmp``; return (path, must_fail)."""
    name, write = reader.good
    path = tmp / name
    if case == "empty":
        path.write_bytes(b"")
        return path, True
    if case == "truncated":
        data = write(tmp / f"full-{name}").read_bytes()
        cut = len(data) // 2
        if data[cut - 1:cut] == b"\n":  # a headerless text file cut at a line break is a valid shorter file
            cut -= 1
        path.write_bytes(data[:cut])
        return path, True
    if case == "wrong_format":
        path.write_bytes(b"\x00\x01 this is not the format at all \xff" * 3)
        return path, True
    if case == "folder":
        path.mkdir()
        return path, True
    if case == "symlink_loop":
        path.symlink_to(path.name)
        return path, True
    if case == "non_utf8_name":
        weird = tmp / (os.fsdecode(b"\xff\xfe-") + name)
        try:
            write(weird)
        except (OSError, UnicodeEncodeError):
            pytest.skip("this file system refuses non-UTF-8 names")
        return weird, False
    raise AssertionError(case)


READERS += [  # Chapter 4: human-parsing split lists (LIP, CIHP, ATR, PASCAL-Person-Part)
    Reader("data.parsing.read_parsing_ids", read_parsing_ids, ("val_id.txt", _text("100034_483681\n0002190")), {
        "non_utf8_content": (_bytes(b"100034_483681\n\xff\xfe\n"), True),
        "duplicate_ids": (_text("a\na\n"), True),
        "id_with_extension": (_text("100034_483681.jpg\n"), True),
        "id_with_folder": (_text("train_images/100034_483681\n"), True),
        "two_fields": (_text("100034_483681 1\n"), True),
        "crlf_and_bom": (_bytes(b"\xef\xbb\xbf100034_483681\r\n0002190\r\n"), False),
    }, generic=_TEXT_GENERIC),
]
# ------------------------------------------------------------------------------------------------ panoptic (Chapter 11)
from course_lib.data.cityscapes_panoptic import read_instance_ids  # noqa: E402
from course_lib.data.coco_panoptic import read_panoptic_json  # noqa: E402
from course_lib.io.panoptic import read_panoptic_png, write_panoptic_png  # noqa: E402


def _panoptic_png(path: Path) -> Path:
    return write_panoptic_png(path, np.array([[0, 5, 70000], [256, 256, 0]]))


def _panoptic_json(edit: Callable[[dict], None] | None = None) -> Callable[[Path], Path]:
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "person", "isthing": 1}],
           "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 5, "category_id": 1}]}]}
    if edit:
        edit(doc)
    return _text(json.dumps(doc))


def _grey16(values) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        Image.fromarray(np.asarray(values, np.uint16)).save(path)
        return path
    return write


READERS += [
    Reader("io.panoptic.read_panoptic_png", read_panoptic_png, ("000000000001.png", _panoptic_png), {
        "grey_label_png": (lambda p: _png(p, "L"), True),
        "palette_png": (lambda p: _png(p, "P"), True),
        "rgba_png": (lambda p: _png(p, "RGBA"), True),
        "jpeg_named_png": (lambda p: _bytes(_jpeg([[0, 255], [255, 0]]))(p), True),
    }),
    Reader("data.coco_panoptic.read_panoptic_json", read_panoptic_json, ("panoptic_val2017.json", _panoptic_json()), {
        "non_utf8_content": (_bytes(b'{"annotations": [], "categories": [{"name": "caf\xe9"}]}'), True),
        "not_an_object": (_text("[1, 2]"), True),
        "no_categories": (_panoptic_json(lambda d: d.pop("categories")), True),
        "duplicate_segment": (_panoptic_json(lambda d: d["annotations"][0]["segments_info"].append(
            {"id": 5, "category_id": 1})), True),
        "unknown_category": (_panoptic_json(lambda d: d["annotations"][0]["segments_info"][0].update(
            category_id=9)), True),
        "segment_id_zero": (_panoptic_json(lambda d: d["annotations"][0]["segments_info"][0].update(id=0)), True),
        "segment_id_text": (_panoptic_json(lambda d: d["annotations"][0]["segments_info"][0].update(id="5")), True),
        "file_name_climbs_out": (_panoptic_json(lambda d: d["annotations"][0].update(file_name="../../a.png")), True),
        "image_without_entry": (_panoptic_json(lambda d: d["annotations"][0].update(image_id=2)), True),
        "isthing_text": (_panoptic_json(lambda d: d["categories"][0].update(isthing="yes")), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.cityscapes_panoptic.read_instance_ids", read_instance_ids,
           ("a_000000_000000_gtFine_instanceIds.png", _grey16([[7, 26000], [26001, 24]])), {
        "rgb_png": (lambda p: _png(p, "RGB"), True),
        "label_id_above_33": (_grey16([[7, 40]]), True),
        "instance_of_a_stuff_class": (_grey16([[7, 7001]]), True),
    }),
]


# Chapter 5: COCO instances JSON, Penn-Fudan annotation text, COCO results (the coco-segm scorer's reader)
from course_lib.data.coco import read_instances  # noqa: E402
from course_lib.data.pennfudan import parse_annotation  # noqa: E402
from course_lib.score.coco_segm import read_results  # noqa: E402
from course_lib.synthetic.pennfudan import annotation_text  # noqa: E402

_COCO_GT = {"images": [{"id": 1, "height": 2, "width": 3, "file_name": "a.jpg"}],
            "categories": [{"id": 1, "name": "person"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 2.0, "bbox": [0, 0, 2, 1],
                             "segmentation": [[0, 0, 2, 0, 2, 1]]},
                            {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 6.0, "bbox": [0, 0, 3, 2],
                             "segmentation": {"size": [2, 3], "counts": [0, 6]}}]}


def _coco_json(edit: Callable[[dict], None] | None = None, base: object = None) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        data = json.loads(json.dumps(_COCO_GT if base is None else base))
        if edit is not None:
            edit(data)
        path.write_text(json.dumps(data))
        return path
    return write


_RESULT = [{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [2, 3], "counts": "01102"}}]
_PF_BOXES = [(1, 1, 3, 2)]

READERS += [
    Reader("data.coco.read_instances", read_instances, ("instances_val2017.json", _coco_json()), {
        "non_utf8_content": (_bytes(b'{"images": [], "annotations": [], "categories": [{"name": "caf\xe9"}]}'), True),
        "not_an_object": (_text("[1, 2]"), True),
        "no_annotations_list": (_coco_json(lambda d: d.pop("annotations")), True),
        "duplicate_image_id": (_coco_json(lambda d: d["images"].append(dict(d["images"][0]))), True),
        "image_height_zero": (_coco_json(lambda d: d["images"][0].update(height=0)), True),
        "file_name_climbs_out": (_coco_json(lambda d: d["images"][0].update(file_name="../../a.jpg")), True),
        "unknown_image": (_coco_json(lambda d: d["annotations"][0].update(image_id=5)), True),
        "unknown_category": (_coco_json(lambda d: d["annotations"][0].update(category_id=5)), True),
        "iscrowd_2": (_coco_json(lambda d: d["annotations"][0].update(iscrowd=2)), True),
        "bbox_nan": (_text(json.dumps(_COCO_GT).replace("[0, 0, 2, 1]", "[0, 0, NaN, 1]")), True),
        "polygon_of_two_points": (_coco_json(lambda d: d["annotations"][0].update(segmentation=[[0, 0, 1, 1]])), True),
        "rle_of_another_size": (_coco_json(lambda d: d["annotations"][1]["segmentation"].update(size=[3, 2])), True),
        "rle_runs_short": (_coco_json(lambda d: d["annotations"][1]["segmentation"].update(counts=[0, 5])), True),
        "rle_string_garbage": (_coco_json(lambda d: d["annotations"][1]["segmentation"].update(counts="\x7f")), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }),
    Reader("data.pennfudan.parse_annotation", parse_annotation,
           ("FudanPed00001.txt", lambda p: _bytes(annotation_text("FudanPed00001", 4, 3, _PF_BOXES))(p)), {
        "lf_line_endings": (lambda p: _bytes(annotation_text("F", 4, 3, _PF_BOXES).replace(b"\r\n", b"\n"))(p),
                            False),
        "non_utf8_content": (_bytes(b"Image size (X x Y x C) : 4 x 3 x 3\r\nd\xe9j\xe0\r\n"), True),
        "box_outside_image": (lambda p: _bytes(annotation_text("F", 4, 3, [(1, 1, 5, 2)]))(p), True),
        "box_zero_based": (lambda p: _bytes(annotation_text("F", 4, 3, [(0, 0, 3, 2)]))(p), True),
        "corners_swapped": (lambda p: _bytes(annotation_text("F", 4, 3, [(3, 2, 1, 1)]))(p), True),
        "count_differs": (lambda p: _bytes(annotation_text("F", 4, 3, _PF_BOXES).replace(
            b"ground truth : 1", b"ground truth : 2"))(p), True),
        "no_size_line": (lambda p: _bytes(annotation_text("F", 4, 3, _PF_BOXES).replace(b"Image size", b"Size"))(p),
                         True),
    }),
    Reader("score.coco_segm.read_results", lambda p: read_results(p, _COCO_GT),
           ("results.json", _coco_json(base=_RESULT)), {
        "not_a_list": (_text('{"image_id": 1}'), True),
        "unknown_image_id": (_coco_json(lambda d: d[0].update(image_id=2), _RESULT), True),
        "unknown_category": (_coco_json(lambda d: d[0].update(category_id=2), _RESULT), True),
        "image_id_text": (_coco_json(lambda d: d[0].update(image_id="1"), _RESULT), True),
        "rle_wrong_size": (_coco_json(lambda d: d[0]["segmentation"].update(size=[3, 2]), _RESULT), True),
        "rle_bad_characters": (_coco_json(lambda d: d[0]["segmentation"].update(counts="0 1"), _RESULT), True),
        "rle_ends_mid_run": (_coco_json(lambda d: d[0]["segmentation"].update(counts="0q"), _RESULT), True),
        "score_infinite": (_text(json.dumps(_RESULT).replace("0.5", "Infinity")), True),
        "no_segmentation": (_coco_json(lambda d: d[0].pop("segmentation"), _RESULT), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }, generic=_TEXT_GENERIC),
]


# ------------------------------------------------------------------------------------------------ video (Chapters 7, 8)
from course_lib.data.davis import read_sequence_list  # noqa: E402
from course_lib.data.video import read_index_mask  # noqa: E402
from course_lib.data.youtube import read_meta, read_vis_json  # noqa: E402
from course_lib.io.rle import encode_rle  # noqa: E402
from course_lib.score.davis import read_result  # noqa: E402

_META = {"videos": {"0043f083b5": {"objects": {"1": {"category": "bike", "frames": ["00000", "00005"]}}}}}
_VIS = {"videos": [{"id": 1, "width": 3, "height": 2, "length": 2, "file_names": ["v/00000.jpg", "v/00005.jpg"]}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [{"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0,
                         "segmentations": [encode_rle(np.eye(2, 3, dtype=bool), compressed=True), None]}]}


def _ids_png(path: Path) -> Path:
    """A palette PNG of object ids (DAVIS 2017 / YouTube-VOS annotations and results): 0, 1, 2 and void 255."""
    Image.fromarray(np.array([[0, 1], [2, 255]], np.uint8), "P").save(path)
    return path


READERS += [
    Reader("data.davis.read_sequence_list", read_sequence_list, ("val.txt", _text("bike-packing\nblackswan\n")), {
        "non_utf8_content": (_bytes(b"bike\n\xff\xfe\n"), True),
        "three_fields": (_text("a b c\n"), True),
        "name_climbs_out": (_text("/JPEGImages/480p/../00000.jpg /Annotations/480p/../00000.png\n"), True),
        "2016_frame_lines": (_text("/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\n"), False),
        "path_as_name": (_text("480p/bear\n"), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.video.read_index_mask", read_index_mask, ("00000.png", _ids_png), {
        "rgb_mask": (lambda p: _png(p, "RGB"), True),
        "sixteen_bit_png": (_grey([[0, 1], [2, 3]], "I;16"), True),
        "grey_2016_mask": (_grey([[0, 255], [255, 0]]), False),
        "jpeg_named_png": (lambda p: _bytes(_jpeg([[0, 255], [255, 0]]))(p), True),
    }),
    Reader("data.youtube.read_meta", read_meta, ("meta.json", _text(json.dumps(_META))), {
        "not_an_object": (_text("[1, 2]"), True),
        "object_id_text": (_json_edit(_META, lambda d: d["videos"]["0043f083b5"]["objects"].update(x={})), True),
        "object_id_255": (_json_edit(_META, lambda d: d["videos"]["0043f083b5"]["objects"].update(
            {"255": {"frames": ["00000"]}})), True),
        "no_frames": (_json_edit(_META, lambda d: d["videos"]["0043f083b5"]["objects"]["1"].update(frames=[])), True),
        "video_climbs_out": (_json_edit(_META, lambda d: d["videos"].update({"../x": {"objects": {}}})), True),
        "non_utf8_content": (_bytes(b'{"videos": {"caf\xe9": {}}}'), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }, generic=_TEXT_GENERIC),
    Reader("data.youtube.read_vis_json", read_vis_json, ("train.json", _text(json.dumps(_VIS))), {
        "unknown_video": (_json_edit(_VIS, lambda d: d["annotations"][0].update(video_id=9)), True),
        "unknown_category": (_json_edit(_VIS, lambda d: d["annotations"][0].update(category_id=9)), True),
        "one_segmentation_short": (_json_edit(_VIS, lambda d: d["annotations"][0]["segmentations"].pop()), True),
        "rle_of_another_size": (_json_edit(_VIS, lambda d: d["annotations"][0]["segmentations"].__setitem__(
            1, encode_rle(np.ones((4, 4), bool)))), True),
        "height_text": (_json_edit(_VIS, lambda d: d["videos"][0].update(height="2")), True),
        "file_name_climbs_out": (_json_edit(_VIS, lambda d: d["videos"][0]["file_names"].__setitem__(
            0, "../../x.jpg")), True),
        "duplicate_video": (_json_edit(_VIS, lambda d: d["videos"].append(dict(d["videos"][0]))), True),
        "non_utf8_content": (_bytes(b'{"videos": [], "categories": [{"name": "caf\xe9"}]}'), True),
        "deeply_nested": (_text("[" * 100000 + "]" * 100000), True),
    }, generic=_TEXT_GENERIC),
    Reader("score.davis.read_result", lambda p: read_result(p, binary=False), ("00001.png", _ids_png), {
        "rgb_result": (lambda p: _png(p, "RGB"), True),
        "sixteen_bit_png": (_grey([[0, 1], [2, 3]], "I;16"), True),
        "grey_ids": (_grey([[0, 1], [2, 0]]), False),
        "jpeg_named_png": (lambda p: _bytes(_jpeg([[0, 1], [1, 0]]))(p), True),
    }),
]


def _cases():
    for reader in READERS:
        for case in reader.generic:
            yield pytest.param(reader, case, None, id=f"{reader.name}-{case}")
        for case, (write, must_fail) in reader.cases.items():
            yield pytest.param(reader, case, (write, must_fail), id=f"{reader.name}-{case}")


def assert_named(read: Callable, path: Path, must_fail: bool) -> object | None:
    """Run ``read(path)``: a result (only when not ``must_fail``) or a named error of the library's kinds."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MaskWarning)
            result = read(path)
    except NAMED_ERRORS as err:
        assert path.name in str(err), f"the error does not name the file {path.name!r}: {err}"
        return None
    assert not must_fail, f"{path.name}: read without an error, returned {type(result).__name__}"
    return result


@pytest.mark.parametrize(("reader", "case", "specific"), list(_cases()))
def test_bad_input(reader, case, specific, tmp_path):
    if specific is None:
        path, must_fail = _generic(case, reader, tmp_path)
    else:
        write, must_fail = specific
        path = write(tmp_path / reader.good[0])
    result = assert_named(reader.read, path, must_fail)
    if case == "non_utf8_name" and result is not None:  # a good file under an odd name reads as the good file
        good = reader.read(reader.good[1](tmp_path / f"good-{reader.good[0]}"))
        if isinstance(good, np.ndarray):
            np.testing.assert_array_equal(np.asarray(result), good)


@pytest.mark.parametrize("reader", READERS, ids=[r.name for r in READERS])
def test_good_file_reads(reader, tmp_path):
    """The control: each row's good file is read without an error (else the matrix proves nothing)."""
    assert reader.read(reader.good[1](tmp_path / reader.good[0])) is not None


def test_the_matrix_covers_every_reader_module():
    """Every module of ``course_lib.io`` with a public reader has a row (a new reader is not done without one)."""
    import course_lib.io as io_pkg

    readers = {f"io.{p.stem}" for p in Path(io_pkg.__file__).parent.glob("*.py")
               if p.stem not in ("__init__", "atomic") and "def read_" in p.read_text() or p.stem == "archive"}
    covered = {".".join(r.name.split(".")[:2]) for r in READERS}
    assert readers <= covered, f"readers without a row in the bad-input matrix: {sorted(readers - covered)}"


# ------------------------------------------------------------------------------------------------ partner files
def test_matting_image_and_alpha_of_different_sizes_are_named_by_the_dataset(tmp_path):
    from course_lib.data.matting import PortraitMatting

    for sub in ("image", "matte"):
        (tmp_path / sub).mkdir()
    _png(tmp_path / "image" / "p1.png", "RGB")  # 8 x 6
    Image.fromarray(np.zeros((5, 8), np.uint8)).save(tmp_path / "matte" / "p1.png")
    with pytest.raises(ValueError, match=r"matte/p1\.png: is 8x5 .*image/p1\.png is 8x6"):
        PortraitMatting(tmp_path)[0]


def test_matting_file_without_its_partner_is_named(tmp_path):
    from course_lib.data.matting import list_testset

    for sub in ("merged", "alpha_copy", "trimaps"):
        (tmp_path / sub).mkdir()
        _png(tmp_path / sub / "fg_0.png")
    _png(tmp_path / "merged" / "fg_1.png")
    with pytest.raises(ValueError, match=r"merged/fg_1\.png has no partner in .*alpha_copy \(expected fg_1\.\*\)"):
        list_testset(tmp_path)


def test_mask_of_another_size_than_its_image_is_named(tmp_path):
    from course_lib.io.images import check_same_size

    image = read_rgb(_png(tmp_path / "img.png", "RGB"))
    mask = np.zeros((5, 5), np.uint8)
    with pytest.raises(ValueError, match="m.png.*img.png"):
        check_same_size(image, mask, tmp_path / "img.png", tmp_path / "m.png")


def test_grey_level_mask_is_thresholded_with_a_warning_naming_it(tmp_path):
    ramp = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    Image.fromarray(ramp, "L").save(tmp_path / "soft.png")
    with pytest.warns(MaskWarning, match="soft.png"):
        mask = read_binary_mask(tmp_path / "soft.png")
    assert mask.tolist()[0] == [int(v >= 128) for v in range(0, 256, 16)]


def test_off_extra_lines_and_columns_are_said(tmp_path):
    from course_lib.io.off import OFFWarning

    path = tmp_path / "extra.off"
    path.write_text("OFF\n3 1 0\n0 0 0 9\n1 0 0\n0 1 0\n3 0 1 2\n3 0 2 1\n")
    with pytest.warns(OFFWarning, match="extra.off") as caught:
        mesh = read_off(path)
    assert mesh.faces.tolist() == [[0, 1, 2]] and mesh.vertices[0].tolist() == [0, 0, 0]
    assert {("ignored" in str(w.message)) for w in caught} == {True} and len(caught) == 2


def test_corrupted_cache_entry_is_rebuilt(tmp_path):
    from course_lib.data.cache import FileCache

    cache = FileCache(tmp_path / "cache")
    src = _png(tmp_path / "a.png")
    first = cache.array([src], "v1", lambda: np.arange(5))
    entry = cache.path([src], "v1")
    entry.write_bytes(entry.read_bytes()[:20])  # a crash or a full disk damaged it
    again = cache.array([src], "v1", lambda: np.arange(5))
    np.testing.assert_array_equal(first, again)
    assert np.load(entry).tolist() == [0, 1, 2, 3, 4]


def test_symlink_loop_inside_a_data_root_is_skipped_or_named(tmp_path):
    from course_lib.data.registry import find_root

    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "up").symlink_to("..")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        find_root("camvid", tmp_path)


def test_archive_member_never_overwrites_a_users_file(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz")
    target = tmp_path / "out"
    (target / "folder").mkdir(parents=True)
    mine = target / "folder" / "a.txt"
    mine.write_text("my notes")
    with pytest.raises(ArchiveError, match="a.txt"):
        safe_extract(archive, target)
    assert mine.read_text() == "my notes"
    mine.write_text("hello\n" * 100)  # the same content: nothing is lost, extraction proceeds
    assert safe_extract(archive, target) == [mine]


def test_archive_target_that_is_a_file_is_named(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz")
    (tmp_path / "out").write_text("a file")
    with pytest.raises(ArchiveError, match="out.*is a file"):
        safe_extract(archive, tmp_path / "out")


def test_empty_checksum_sidecar_is_an_error_naming_it(tmp_path):
    from course_lib.download import DownloadError, Resource, fetch

    source = tmp_path / "x.zip"
    source.write_bytes(b"data")
    sidecar = tmp_path / "root" / "downloads" / "x.zip.sha256"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text("\n")
    with pytest.raises(DownloadError, match=r"x\.zip\.sha256.*empty"):
        fetch(Resource(source.as_uri(), "x.zip", extract=False), tmp_path / "root", progress=False)
    assert sorted(p.name for p in sidecar.parent.iterdir()) == ["x.zip.sha256"]  # nothing downloaded or trusted


# ------------------------------------------------------------------------------------------------ property tests
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BINARY = {
    "flo": (_flo, read_flo),
    "kitti.png": (_kitti, read_kitti_flow),
    "off": (_off, read_off),
    "nii": (lambda p: _nifti(p), read_nifti),
    "pt": (_checkpoint, load_checkpoint),
    "panoptic.png": (_panoptic_png, read_panoptic_png),
}


def _fuzz_once(tmp_path: Path, kind: str, data: bytes) -> None:
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BINARY[kind][1](path)
    except NAMED_ERRORS as err:
        assert path.name in str(err), f"unnamed error for {kind}: {type(err).__name__}: {err}"


@FUZZ
@given(kind=st.sampled_from(sorted(BINARY)), data=st.binary(max_size=300))
def test_random_bytes_give_a_named_error(tmp_path, kind, data):
    _fuzz_once(tmp_path, kind, data)


@FUZZ
@given(kind=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 8),
       cut=st.floats(0.0, 1.0))
def test_mutated_good_files_give_a_result_or_a_named_error(tmp_path, kind, seed, flips, cut):
    good = bytearray(BINARY[kind][0](tmp_path / f"good.{kind}").read_bytes())
    rng = np.random.default_rng(seed)
    for position in rng.integers(0, len(good), flips):
        good[position] = int(rng.integers(0, 256))
    data = bytes(good[: max(1, int(len(good) * cut))]) if cut < 0.9 else bytes(good)
    _fuzz_once(tmp_path, kind, data)


@FUZZ
@given(header=st.binary(min_size=348, max_size=348), body=st.binary(max_size=64))
def test_random_nifti_headers_give_a_named_error(tmp_path, header, body):
    """A NIfTI-1 header (348 bytes, sizeof_hdr first) with random fields, then a few data bytes."""
    path = tmp_path / "h.nii"
    path.write_bytes(struct.pack("<i", 348) + header[4:344] + b"n+1\x00" + b"\x00" * 4 + body)
    try:
        read_nifti(path)
    except NAMED_ERRORS as err:
        assert path.name in str(err)


def test_matrix_size():
    """How many bad inputs the matrix tries (reported in the closing note of issue 11)."""
    generic = sum(len(r.generic) for r in READERS)
    specific = sum(len(r.cases) for r in READERS)
    assert len(READERS) >= 15 and generic + specific >= 100


def test_decompression_bombs_are_named_on_every_image_path(tmp_path, monkeypatch):
    """PIL refuses images over 2 x MAX_IMAGE_PIXELS; each reader (also the header-only size check used before
    shrinking Kvasir images while decoding) says which file."""
    from course_lib.io.images import image_size

    path = _png(tmp_path / "huge.png", "RGB")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # the 8 x 6 picture now counts as a bomb
    for read in (read_rgb, read_label, read_binary_mask, image_size):
        with pytest.raises(ValueError, match="huge.png.*too large"):
            read(path)
