"""Real ModelNet files under $COURSE_REAL_DATA, read with course_lib.io.off, course_lib.io.points and
course_lib.data.modelnet.

Discovers every ModelNet form below $COURSE_REAL_DATA (meshes, resampled clouds, HDF5) and every ``.off`` file;
nothing is hard-coded about which shapes are there. Skips when the variable is unset or holds no ModelNet.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.data import registry
from course_lib.data.modelnet import MODELNET40_CLASSES, MODELNET40_TRAIN_COUNTS, ModelNet, find_forms, load_mesh_points
from course_lib.io.off import read_off
from course_lib.io.points import read_point_txt

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def forms(real_root) -> dict[str, Path]:
    found = find_forms(real_root)
    if not found:
        pytest.skip(f"no ModelNet data under {real_root}")
    return found


def test_registry_finds_the_folder_of_the_forms(real_root, forms):
    root = registry.find_root("modelnet", real_root)
    parents = {p.parent for p in forms.values()}
    assert root in parents or root in forms.values()
    for folder in forms.values():
        assert registry.find_root("modelnet", folder) == folder


@pytest.fixture(scope="module")
def off_files(forms) -> list[Path]:
    if "off" not in forms:
        pytest.skip("no ModelNet meshes (<class>/{train,test}/*.off)")
    base = forms["off"].parent  # the ModelNet40 and ModelNet10 folders side by side
    files = sorted(p for p in base.rglob("*.off") if "__MACOSX" not in p.parts)
    assert files
    return files


def _header_variant(path: Path) -> str:
    with open(path, "rb") as f:
        first = f.readline().decode("ascii", "replace").strip()
    if first == "OFF":
        return "OFF on its own line"
    if first.startswith("OFF") and first[3:4].isdigit():
        return "glued: OFF<V> <F> <E>"
    if first.startswith("OFF "):
        return "OFF <V> <F> <E>"
    return f"other: {first[:12]!r}"


def test_every_off_file_and_header_variant_reads(off_files):
    variants: dict[str, int] = {}
    for path in off_files:
        variant = _header_variant(path)
        variants[variant] = variants.get(variant, 0) + 1
        mesh = read_off(path)
        assert len(mesh.vertices) > 0 and len(mesh.faces) >= mesh.num_polygons > 0, path
        assert mesh.faces.min() >= 0 and mesh.faces.max() < len(mesh.vertices), path
        assert np.isfinite(mesh.vertices).all(), path
    print("OFF header variants:", variants)
    assert not [v for v in variants if v.startswith("other")], variants


def test_copies_of_a_mesh_read_the_same_whatever_their_header(off_files):
    by_name: dict[str, list[Path]] = {}
    for path in off_files:
        by_name.setdefault(path.name, []).append(path)
    pairs = [paths for paths in by_name.values() if len(paths) > 1]
    if not pairs:
        pytest.skip("no mesh is present twice (e.g. in ModelNet10 and ModelNet40)")
    for paths in pairs:
        meshes = [read_off(p) for p in paths]
        for other in meshes[1:]:
            assert np.array_equal(meshes[0].vertices, other.vertices) and np.array_equal(meshes[0].faces, other.faces)


def test_mesh_dataset_reads_every_mesh_with_official_labels(forms, off_files, tmp_path):
    ds = ModelNet(forms["off"], "trainval", form="off", num_points=512, mesh_points=1024, cache_dir=tmp_path)
    on_disk = [p for p in off_files if p.is_relative_to(forms["off"]) and p.parent.name == "train"]
    assert len(ds) == len(on_disk)
    for item in ds.items:
        assert ds.classes[item.label] == item.path.parent.parent.name
        if ds.classes == MODELNET40_CLASSES:
            assert item.label == MODELNET40_CLASSES.index(item.name.rsplit("_", 1)[0])
    for i in range(len(ds)):
        points, _ = ds[i]
        assert points.shape == (512, 3) and torch.isclose(points.norm(dim=1).max(), torch.tensor(1.0), atol=1e-5)
    assert ds.up_axis == 2


def test_real_mesh_sampling_and_cache(off_files, tmp_path):
    path = max(off_files, key=lambda p: p.stat().st_size)  # the largest mesh
    t0 = time.perf_counter()
    first = load_mesh_points(path, 2048, cache_dir=tmp_path)
    t1 = time.perf_counter()
    again = load_mesh_points(path, 2048, cache_dir=tmp_path)
    t2 = time.perf_counter()
    assert np.array_equal(first, again) and first.shape == (2048, 6)
    assert np.allclose(np.linalg.norm(first[:, 3:], axis=1), 1.0, atol=1e-3)
    print(f"{path.name}: parse + sample {1000 * (t1 - t0):.1f} ms, from the cache {1000 * (t2 - t1):.1f} ms")
    assert t2 - t1 < t1 - t0


@pytest.fixture(scope="module")
def resampled(forms) -> Path:
    if "resampled" not in forms:
        pytest.skip("no modelnet40_normal_resampled folder")
    return forms["resampled"]


def test_resampled_files_read_with_unit_normals(resampled):
    files = sorted(p for p in resampled.glob("*/*.txt") if p.parent != resampled)
    assert files
    for path in files:
        cloud = read_point_txt(path)
        assert cloud.shape[1] == 6 and len(cloud) > 0, path
        norms = np.linalg.norm(cloud[:, 3:], axis=1)
        assert (np.abs(norms - 1) < 1e-2).mean() > 0.99, path  # a few odd normals exist in the real files
        assert np.linalg.norm(cloud[:, :3], axis=1).max() < 1.5, path  # already scaled to about the unit sphere


def test_resampled_splits_cover_every_present_shape_and_count_the_absent(resampled, tmp_path):
    present = {p.stem for p in resampled.glob("*/*.txt") if p.parent != resampled}
    sets = {s: ModelNet(resampled, s, form="resampled", num_points=256, cache_dir=tmp_path, verbose=False)
            for s in ("trainval", "test") if _has(resampled, s)}
    assert sets, "neither split holds a present shape"
    names = {s: {it.name for it in ds.items} for s, ds in sets.items()}
    assert set().union(*names.values()) <= present
    if len(sets) == 2:
        assert not names["trainval"] & names["test"] and names["trainval"] | names["test"] == present
    listed = resampled / "filelist.txt"
    if listed.is_file() and not (resampled / "modelnet40_train.txt").is_file():
        total = sum(1 for line in listed.read_text().splitlines() if line.strip())
        assert sum(len(ds) + ds.num_missing for ds in sets.values()) <= total
        for s, ds in sets.items():
            for it in ds.items:
                cls, num = it.name.rsplit("_", 1)
                assert (int(num) <= MODELNET40_TRAIN_COUNTS[cls]) == (s == "trainval")
    names_file = resampled / "modelnet40_shape_names.txt"
    if names_file.is_file():
        assert tuple(names_file.read_text().split()) == MODELNET40_CLASSES
        assert next(iter(sets.values())).classes == MODELNET40_CLASSES
    points, label = next(iter(sets.values()))[0]
    assert points.shape == (256, 3) and 0 <= int(label) < 40


def _has(folder: Path, split: str) -> bool:
    try:
        ModelNet(folder, split, form="resampled", cache_dir=None, verbose=False)
    except ValueError:
        return False
    return True


def test_h5_files_if_present(forms):
    if "h5" not in forms:
        pytest.skip("no modelnet40_ply_hdf5_2048 folder")
    for split in ("trainval", "test"):
        ds = ModelNet(forms["h5"], split, form="h5", num_points=1024, cache_dir=None)
        assert len(ds) > 0 and ds[0][0].shape == (1024, 3)
