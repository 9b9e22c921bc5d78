"""ModelNet loading (Chapter 6): the OFF reader, mesh sampling and its cache, the three layouts, splits, bad files,
the registry entry and the synthetic sample."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.data import modelnet, registry
from course_lib.data.modelnet import (
    MODELNET40_CLASSES,
    MODELNET40_TRAIN_COUNTS,
    ModelNet,
    find_forms,
    load_mesh_points,
    read_classes,
    sample_mesh,
)
from course_lib.data.point_transforms import PointAugment, normalize_to_unit_sphere, rotation_about_axis
from course_lib.data.splits import stratified_holdout
from course_lib.io.off import OFFError, read_off, triangulate, write_off
from course_lib.io.points import read_point_h5, read_point_txt, write_point_h5, write_point_txt
from course_lib.synthetic.modelnet import write_sample


def find_root(path):
    return registry.find_root("modelnet", path)

CLASSES = ("sphere", "box", "cone", "table")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A tiny sample in all three layouts: 4 classes, 4 train + 2 test shapes each."""
    # in a folder of its own, so that searching from its parent sees only it (the session's other temporary
    # folders may hold ModelNet-like layouts too)
    return write_sample(tmp_path_factory.mktemp("modelnet_sample") / "modelnet", classes=CLASSES, n_train=4,
                        n_test=2, resampled_points=256, h5_points=256)


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


# ----------------------------------------------------------------------------------------------- OFF reader
def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


QUAD = "4 3 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n3 0 1 2\n3 1 2 3\n"


@pytest.mark.parametrize("header", ["OFF\n", "OFF", "OFF ", "COFF\n"])
def test_read_off_header_variants(tmp_path, header):
    # "OFF" on its own line, glued to the counts ("OFF4 3 0"), or followed by a space on the same line
    text = header + QUAD if header.endswith("\n") else header + QUAD
    mesh = read_off(_write(tmp_path / "m.off", text))
    assert mesh.vertices.shape == (4, 3) and mesh.num_polygons == 3
    assert mesh.faces.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 2], [1, 2, 3]]  # the quad split as a fan


def test_read_off_comments_blank_lines_and_extra_columns(tmp_path):
    text = ("# exported by a CAD tool\nOFF\n\n# counts next\n3 1 0  # trailing comment\n0 0 0 255 0 0\n"
            "\n1 0 0 255 0 0\n0 1 0 255 0 0\n3 0 1 2 10 20 30\n\n")
    mesh = read_off(_write(tmp_path / "c.off", text))
    assert mesh.vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]] and mesh.faces.tolist() == [[0, 1, 2]]


def test_triangulate_fan():
    assert triangulate([5, 6, 7, 8, 9]) == [(5, 6, 7), (5, 7, 8), (5, 8, 9)]
    with pytest.raises(ValueError):
        triangulate([1, 2])


@pytest.mark.parametrize("text, where, words", [
    ("", None, "empty"),
    ("# nothing\n\n", None, "only comments"),
    ("PLY\n3 1 0\n", ":1:", "header"),
    ("OFF\nthree 1 0\n", ":2:", "integers"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n", ":4:", "truncated"),
    ("OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", ":6:", "truncated"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", ":6:", "vertex"),
    ("OFF\n3 1 0\n0 0 0\n1 x 0\n0 1 0\n3 0 1 2\n", ":4:", "not numeric"),
    ("OFF\n3 1 0\n0 0 0\n1 0\n0 1 0\n3 0 1 2\n", ":4:", "3 coordinates"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", ":6:", "at least 3"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", ":6:", "declares 4"),
])
def test_read_off_rejects_bad_files_with_file_and_line(tmp_path, text, where, words):
    path = _write(tmp_path / "bad.off", text)
    with pytest.raises(OFFError) as err:
        read_off(path)
    message = str(err.value)
    assert str(path) in message and words in message
    if where:
        assert f"{path}{where}" in message


def test_read_off_missing_and_binary(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_off(tmp_path / "none.off")
    (tmp_path / "bin.off").write_bytes(b"OFF\n\xff\xfe\x00")
    with pytest.raises(OFFError, match="not a text file"):
        read_off(tmp_path / "bin.off")


def test_write_off_roundtrip(tmp_path):
    v = np.random.default_rng(0).normal(size=(5, 3))
    faces = [[0, 1, 2], [1, 2, 3, 4]]
    for glued in (False, True):
        path = write_off(tmp_path / f"r{glued}.off", v, faces, glued_header=glued, comment="hello")
        assert path.read_text().startswith("OFF5 2 0" if glued else "OFF\n")
        mesh = read_off(path)
        assert np.allclose(mesh.vertices, v, atol=1e-6)
        assert mesh.faces.tolist() == [[0, 1, 2], [1, 2, 3], [1, 3, 4]]


# ----------------------------------------------------------------------------------------------- sampling, cache
def test_sample_mesh_is_area_weighted_with_triangle_normals():
    # two triangles in the plane z=0 with areas 0.5 and 4.5: 90 % of the points must land on the big one
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [5, 0, 0], [2, 3, 0]], float)
    f = np.array([[0, 1, 2], [3, 4, 5]])
    pts = sample_mesh(v, f, 4000, seed=1)
    share_big = (pts[:, 0] >= 2 - 1e-9).mean()
    assert abs(share_big - 0.9) < 0.03
    assert np.allclose(np.abs(pts[:, 5]), 1.0, atol=1e-5) and np.allclose(pts[:, 3:5], 0, atol=1e-5)
    assert np.array_equal(pts, sample_mesh(v, f, 4000, seed=1))  # same seed, same points
    assert not np.array_equal(pts, sample_mesh(v, f, 4000, seed=2))
    assert sample_mesh(v, f, 300, "poisson").shape == (300, 6)
    with pytest.raises(ValueError, match="zero surface area"):
        sample_mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), 10)
    with pytest.raises(ValueError, match="unknown sampling"):
        sample_mesh(v, f, 10, "grid")


def test_mesh_points_are_cached(tmp_path, cache, monkeypatch):
    path = write_off(tmp_path / "t.off", np.eye(3), [[0, 1, 2]])
    first = load_mesh_points(path, 64, cache_dir=cache)
    assert len(list(cache.rglob("*.npy"))) == 1

    def boom(_):
        raise AssertionError("the cached mesh was read again")

    monkeypatch.setattr(modelnet, "read_off", boom)
    assert np.array_equal(load_mesh_points(path, 64, cache_dir=cache), first)
    monkeypatch.undo()
    write_off(path, 2 * np.eye(3), [[0, 1, 2]])  # a changed file (size, mtime) is sampled again
    os.utime(path, ns=(1, 1))
    assert not np.allclose(load_mesh_points(path, 64, cache_dir=cache), first)
    damaged = next(cache.rglob("*.npy"))
    damaged.write_bytes(b"garbage")
    assert load_mesh_points(path, 64, cache_dir=cache).shape == (64, 6)  # a damaged entry is recomputed


def test_read_point_txt(tmp_path):
    good = _write(tmp_path / "a_0001.txt", "0.1,0.2,0.3,0,0,1\n-0.1,0.2,0.0,1,0,0\n")
    assert read_point_txt(good).shape == (2, 6)
    for text, words in (("", "empty"), ("1,2,3,4,5,6\n1,2,3,4\n", ":2:"), ("1,2\n", "columns"),
                        ("1,2,3,4,5,6\n1,2,x,4,5,6\n", ":2:")):
        path = _write(tmp_path / "bad.txt", text)
        with pytest.raises(ValueError, match=words):
            read_point_txt(path)


# ----------------------------------------------------------------------------------------------- geometry, augmentation
def test_normalize_to_unit_sphere_keeps_normals():
    pts = np.concatenate([np.random.default_rng(0).normal(5, 3, (100, 3)), np.tile([0, 0, 1.0], (100, 1))], axis=1)
    out = normalize_to_unit_sphere(pts)
    assert np.allclose(out[:, :3].mean(0), 0, atol=1e-5)
    assert np.isclose(np.linalg.norm(out[:, :3], axis=1).max(), 1.0, atol=1e-6)
    assert np.array_equal(out[:, 3:], pts[:, 3:])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_rotation_about_axis_is_a_rotation_fixing_the_axis(axis):
    R = rotation_about_axis(0.7, axis)
    assert torch.allclose(R @ R.T, torch.eye(3), atol=1e-6) and torch.isclose(torch.linalg.det(R), torch.tensor(1.0))
    e = torch.zeros(3)
    e[axis] = 1
    assert torch.allclose(R @ e, e)


def test_point_augment_turns_points_and_normals_about_the_up_axis():
    torch.manual_seed(0)
    cloud = torch.cat([torch.randn(200, 3), torch.nn.functional.normalize(torch.randn(200, 3), dim=1)], dim=1)
    aug = PointAugment(up_axis=1, scale=None, shift=0.0, jitter=None, dropout=0.0)
    out = aug(cloud)
    assert torch.allclose(out[:, 1], cloud[:, 1]) and torch.allclose(out[:, 4], cloud[:, 4])  # heights unchanged
    assert torch.allclose(out[:, :3].norm(dim=1), cloud[:, :3].norm(dim=1), atol=1e-5)
    dots = (out[:, :3] * out[:, 3:]).sum(1)
    assert torch.allclose(dots, (cloud[:, :3] * cloud[:, 3:]).sum(1), atol=1e-5)  # normals turned with the points
    assert not torch.allclose(out, cloud)
    dropped = PointAugment(up_axis=1, rotate=False, scale=None, shift=0, jitter=None, dropout=0.99)
    torch.manual_seed(3)
    out = dropped(cloud)
    assert out.shape == cloud.shape and (out == cloud[0]).all(dim=1).sum() > 1
    jit = PointAugment(rotate=False, scale=None, shift=0, jitter=(0.5, 0.05), dropout=0)(cloud)
    assert (jit[:, :3] - cloud[:, :3]).abs().max() <= 0.05 + 1e-6


# ----------------------------------------------------------------------------------------------- the layouts
def test_sample_has_three_layouts_with_real_quirks(sample):
    forms = find_forms(sample)
    assert set(forms) == {"off", "resampled", "h5"}
    assert find_root(sample) == sample and find_root(sample.parent) == sample
    assert (sample / "COURSE_SAMPLE.txt").is_file()
    firsts = [p.open().readline() for p in sorted((sample / "ModelNet40").glob("*/*/*.off"))]
    assert any(line[3].isdigit() for line in firsts) and any(line.strip() == "OFF" for line in firsts)
    box = read_off(next((sample / "ModelNet40" / "box" / "train").glob("*.off")))
    assert box.num_polygons == 6 and len(box.faces) == 12  # quads, split into triangles
    before = (sample / "COURSE_SAMPLE.txt").stat().st_mtime_ns
    write_sample(sample, classes=CLASSES, n_train=4, n_test=2, resampled_points=256, h5_points=256)
    assert (sample / "COURSE_SAMPLE.txt").stat().st_mtime_ns == before  # a current sample is kept


@pytest.mark.parametrize("form", ["off", "resampled", "h5"])
def test_the_three_forms_read_the_same_shapes(sample, cache, form):
    sets = {s: ModelNet(sample, s, form=form, num_points=128, mesh_points=256, cache_dir=cache, val_fraction=0.25)
            for s in ("train", "val", "trainval", "test")}
    assert sets["test"].classes == CLASSES and sets["train"].up_axis == (2 if form == "off" else 1)
    names = {s: {it.name for it in ds.items} for s, ds in sets.items()}
    assert names["train"] | names["val"] == names["trainval"] and not names["train"] & names["val"]
    assert set(sets["val"].class_counts().values()) == {1} and len(names["test"]) == 8
    assert all(n.split("_")[-1] in {"0005", "0006"} for n in names["test"])  # ids after the 4 training ids
    for ds in sets.values():
        for it in ds.items:
            assert ds.classes[it.label] == it.name.rsplit("_", 1)[0]
    points, label = sets["test"][0]
    assert points.shape == (128, 3) and points.dtype == torch.float32 and label.dtype == torch.int64
    assert torch.isclose(points.norm(dim=1).max(), torch.tensor(1.0), atol=1e-5)
    assert torch.equal(sets["test"][0][0], points)  # evaluation clouds are deterministic


def test_mesh_and_resampled_forms_agree_geometrically(sample, cache):
    off = ModelNet(sample, "test", form="off", num_points=256, mesh_points=256, cache_dir=cache)
    txt = ModelNet(sample, "test", form="resampled", num_points=256, cache_dir=cache)
    i = next(k for k, it in enumerate(off.items) if it.name.startswith("table"))
    j = next(k for k, it in enumerate(txt.items) if it.name == off.items[i].name)
    a = off[i][0][:, [0, 2, 1]] * torch.tensor([1.0, 1.0, -1.0])  # z-up to y-up: (x, y, z) -> (x, z, -y)
    b = txt[j][0]
    chamfer = torch.cdist(a, b).min(dim=1).values.mean() + torch.cdist(b, a).min(dim=1).values.mean()
    assert chamfer < 0.15


def test_training_items_are_augmented_and_normals_optional(sample, cache):
    ds = ModelNet(sample, "train", form="resampled", num_points=64, cache_dir=cache, augment=True, use_normals=True)
    a, b = ds[0][0], ds[0][0]
    assert a.shape == (64, 6) and not torch.equal(a, b)
    assert torch.allclose(a[:, 3:].norm(dim=1), torch.ones(64), atol=1e-3)
    assert ModelNet(sample, "test", form="h5", augment=True, cache_dir=cache).augment is None  # never on test


def test_absent_listed_shapes_are_skipped_and_counted(sample, tmp_path, capsys):
    copy = shutil.copytree(sample / "modelnet40_normal_resampled", tmp_path / "modelnet40_normal_resampled")
    gone = sorted(copy.glob("cone/*.txt"))[:3]
    for p in gone:
        p.unlink()
    train = ModelNet(copy, "trainval", cache_dir=None)
    test = ModelNet(copy, "test", cache_dir=None)
    assert train.num_missing + test.num_missing == 3 and len(train) + len(test) == 24 - 3
    assert "absent" in capsys.readouterr().out


def test_split_from_official_counts_without_lists(tmp_path):
    folder = tmp_path / "modelnet40_normal_resampled"
    cloud = "\n".join(",".join(["0.1"] * 6) for _ in range(20)) + "\n"
    n = MODELNET40_TRAIN_COUNTS["cup"]
    for name in (f"cup_{n:04d}", f"cup_{n + 1:04d}", "bed_0001"):
        (folder / name.rsplit("_", 1)[0]).mkdir(parents=True, exist_ok=True)
        (folder / name.rsplit("_", 1)[0] / f"{name}.txt").write_text(cloud)
    (folder / "filelist.txt").write_text(f"cup/cup_{n:04d}.txt\ncup/cup_{n + 1:04d}.txt\nbed/bed_0001.txt\n"
                                         "bed/bed_0002.txt\n")
    train = ModelNet(tmp_path, "trainval", cache_dir=None, verbose=False)
    test = ModelNet(tmp_path, "test", cache_dir=None, verbose=False)
    assert {it.name for it in train.items} == {f"cup_{n:04d}", "bed_0001"} and train.num_missing == 1
    assert [it.name for it in test.items] == [f"cup_{n + 1:04d}"]
    labels = {it.name: it.label for it in train.items}
    assert train.classes == MODELNET40_CLASSES and labels["bed_0001"] == MODELNET40_CLASSES.index("bed") == 2
    assert sum(MODELNET40_TRAIN_COUNTS.values()) == 9843


def test_mislabeled_and_unknown_classes_are_errors(sample, tmp_path):
    copy = shutil.copytree(sample / "ModelNet40", tmp_path / "ModelNet40")
    stray = next((copy / "box" / "train").glob("*.off"))
    stray.rename(copy / "cone" / "train" / "box_0099.off")
    with pytest.raises(ValueError, match="box_0099.off.*mislabeled"):
        ModelNet(copy, "train", cache_dir=None)
    lists = shutil.copytree(sample / "modelnet40_normal_resampled", tmp_path / "modelnet40_normal_resampled")
    (lists / "modelnet40_test.txt").write_text("sphere_0005\nchair_0001\n")
    with pytest.raises(ValueError, match=r"modelnet40_test.txt:2: class 'chair'"):
        ModelNet(lists, "test", cache_dir=None)


def test_official_class_list_for_meshes(tmp_path):
    path = write_off(tmp_path / "ModelNet40" / "bed" / "train" / "bed_0001.off", np.eye(3), [[0, 1, 2]])
    ds = ModelNet(tmp_path, "train", cache_dir=None, val_fraction=0.0, num_points=8, mesh_points=16)
    assert ds.classes == MODELNET40_CLASSES and ds.items[0].label == 2 and ds.items[0].path == path
    assert ds.class_counts()["bed"] == 1 and ds.class_counts()["chair"] == 0
    assert not ds.is_sample
    write_off(tmp_path / "ModelNet10" / "bed" / "train" / "bed_0001.off", np.eye(3), [[0, 1, 2]])
    assert find_forms(tmp_path, variant=10)["off"].name == "ModelNet10"  # each variant prefers its own folder
    assert find_forms(tmp_path, variant=40)["off"].name == "ModelNet40"
    ten = ModelNet(tmp_path, "train", variant=10, cache_dir=None, val_fraction=0.0)
    assert ten.classes[ten.items[0].label] == "bed" and ten.items[0].label == 1


# ----------------------------------------------------------------------------------------------- HDF5
def _write_h5(folder: Path, name: str, n: int, labels=None, normals: bool = True, points: int = 32) -> Path:
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    with h5py.File(folder / name, "w") as f:
        f.create_dataset("data", data=rng.normal(size=(n, points, 3)).astype(np.float32))
        f.create_dataset("label", data=np.asarray(labels if labels is not None else np.arange(n) % 40,
                                                  np.uint8).reshape(-1, 1))
        if normals:
            f.create_dataset("normal", data=rng.normal(size=(n, points, 3)).astype(np.float32))
    return folder / name


def test_h5_official_structure(tmp_path):
    folder = tmp_path / "modelnet40_ply_hdf5_2048"
    _write_h5(folder, "ply_data_train0.h5", 6)
    _write_h5(folder, "ply_data_test0.h5", 3, labels=[8, 8, 30])
    (folder / "shape_names.txt").write_text("\n".join(MODELNET40_CLASSES) + "\n")
    (folder / "train_files.txt").write_text("data/modelnet40_ply_hdf5_2048/ply_data_train0.h5\n"
                                            "data/modelnet40_ply_hdf5_2048/ply_data_train1.h5\n")
    (folder / "test_files.txt").write_text("data/modelnet40_ply_hdf5_2048/ply_data_test0.h5\n")
    (folder / "ply_data_test_0_id2file.json").write_text(json.dumps(["chair/chair_0890.ply", "chair/chair_0891.ply",
                                                                     "sofa/sofa_0681.ply"]))
    train = ModelNet(tmp_path, "trainval", cache_dir=None, num_points=16, verbose=False)
    assert train.num_missing == 1 and len(train) == 6 and train.up_axis == 1  # ply_data_train1.h5 is absent
    test = ModelNet(tmp_path, "test", cache_dir=None, num_points=16, use_normals=True)
    assert [it.name for it in test.items] == ["chair_0890", "chair_0891", "sofa_0681"]
    assert test.labels.tolist() == [8, 8, 30] and test[0][0].shape == (16, 6)
    ten = ModelNet(tmp_path, "test", variant=10, cache_dir=None)  # ModelNet10 from the 40-class files
    assert ten.classes[ten.labels[0]] == "chair" and len(ten) == 3


@pytest.mark.parametrize("problem", ["truncated", "labels", "lengths", "normals"])
def test_h5_bad_files(tmp_path, problem):
    import h5py

    folder = tmp_path / "modelnet40_ply_hdf5_2048"
    path = _write_h5(folder, "ply_data_train0.h5", 4, normals=problem != "normals")
    if problem == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif problem == "labels":
        with h5py.File(path, "r+") as f:
            f["label"][0] = 77
    elif problem == "lengths":
        with h5py.File(path, "r+") as f:
            del f["label"]
            f.create_dataset("label", data=np.zeros((3, 1), np.uint8))
    words = {"truncated": "cannot be read", "labels": "outside", "lengths": "entries in 'label'",
             "normals": "no 'normal'"}[problem]
    with pytest.raises(ValueError, match=words) as err:
        ModelNet(tmp_path, "trainval", cache_dir=None, use_normals=problem == "normals")
    assert str(path) in str(err.value) or problem == "normals"


# ----------------------------------------------------------------------------------------------- errors, registry
def test_bad_arguments_and_missing_data(sample, tmp_path):
    with pytest.raises(FileNotFoundError, match="found no ModelNet"):
        ModelNet(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown ModelNet split"):
        ModelNet(sample, "validation")
    with pytest.raises(ValueError, match="variant"):
        ModelNet(sample, "train", variant=20)
    copy = shutil.copytree(sample / "ModelNet40", tmp_path / "only" / "ModelNet40")
    with pytest.raises(FileNotFoundError, match="'h5' form"):
        ModelNet(copy.parent, "train", form="h5")
    with pytest.raises(ValueError, match="two or more"):
        write_sample(tmp_path / "s", classes=("sphere", "dodecahedron"))


def test_registry_entry_names_modelnet():
    from course_lib.download import fetch_dataset  # noqa: F401 (downloads read the registry entry)

    info = registry.get("modelnet")
    assert info.sample_writer == "course_lib.synthetic.modelnet:write_sample"
    assert info.num_classes == 40 and info.sample_writer_fn() is write_sample and "Princeton" in info.note
    assert info.classes == MODELNET40_CLASSES and modelnet.MODELNET40_PALETTE.shape == (40, 3)
    assert [r.filename for r in info.resources] == ["ModelNet40.zip"]
    assert all(r.extract and r.sha256 is None and "trusted" in r.note for r in info.resources)
    for archive in ("ModelNet40.zip", "ModelNet10.zip", "modelnet40_normal_resampled.zip",
                    "modelnet40_ply_hdf5_2048.zip"):  # the other archives: where to get them by hand
        assert archive in info.note


def test_registry_markers_find_the_same_folder_as_the_forms(sample, tmp_path):
    # the folder holding the forms, a form folder itself, and a folder above: as find_forms sees them
    assert find_root(sample) == sample and find_root(sample / "ModelNet40") == sample / "ModelNet40"
    for form, folder in find_forms(sample).items():
        assert find_root(folder) == folder, form
    assert read_classes(sample) == CLASSES and read_classes(sample, form="h5") == CLASSES
    with pytest.raises(FileNotFoundError, match="found no ModelNet"):
        read_classes(tmp_path)
    (tmp_path / "b").mkdir()  # a folder of numbered text files (another test's, say) is not a resampled form
    _write(tmp_path / "b" / "a_0001.txt", "0,0,0\n")
    with pytest.raises(FileNotFoundError):
        find_root(tmp_path)
    assert find_forms(tmp_path) == {}


def test_locate_writes_the_sample_into_the_work_folder(tmp_path, monkeypatch):
    from course_lib.datasets import locate

    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    (tmp_path / "data").mkdir()
    root, is_sample = locate("modelnet", tmp_path / "data", profile="quick", verbose=False)
    assert is_sample and root == tmp_path / "work" / "samples" / "modelnet"
    assert not any((tmp_path / "data").iterdir())  # nothing written into the data root
    ds = ModelNet(root, "test", num_points=32, cache_dir="auto", verbose=False)
    assert ds.is_sample and len(ds) == 12 * 8 and ds.form == "off"
    ds[0]
    assert list((tmp_path / "work" / "cache" / "modelnet").rglob("*.npy"))  # the default cache: the work folder


def test_validation_split_is_the_crc32_ranking_per_class():
    """data/splits.stratified_holdout keeps the split ModelNet always had (its own code, copied here)."""
    import zlib

    def old_validation_names(items, fraction):
        by_class = {}
        for name, label in items:
            by_class.setdefault(label, []).append(name)
        held = set()
        for members in by_class.values():
            if len(members) < 2:
                continue
            count = max(1, round(fraction * len(members)))
            held.update(sorted(members, key=lambda n: (zlib.crc32(n.encode()), n))[:count])
        return held

    rng = np.random.default_rng(0)
    items = [(f"{c}_{i:04d}", k) for k, c in enumerate(MODELNET40_CLASSES) for i in range(1, rng.integers(1, 90))]
    for fraction in (0.1, 0.25, 0.5):
        names, labels = zip(*items, strict=True)
        assert stratified_holdout(names, labels, fraction) == old_validation_names(items, fraction)


def test_point_files_roundtrip(tmp_path):
    cloud = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    path = write_point_txt(tmp_path / "a" / "cup_0001.txt", cloud)
    assert np.allclose(read_point_txt(path), cloud, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        write_point_txt(tmp_path / "bad.txt", np.zeros((3, 4)))
    clouds = np.random.default_rng(1).normal(size=(3, 8, 6))
    arrays = read_point_h5(write_point_h5(tmp_path / "b" / "ply_data_train0.h5", clouds, [4, 0, 39]))
    assert arrays["label"].tolist() == [4, 0, 39] and arrays["label"].dtype == np.int64
    assert np.allclose(arrays["data"], clouds[:, :, :3]) and np.allclose(arrays["normal"], clouds[:, :, 3:])
    assert "normal" not in read_point_h5(write_point_h5(tmp_path / "c.h5", clouds[:, :, :3], [1, 2, 3]))
