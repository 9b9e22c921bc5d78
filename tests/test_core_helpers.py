"""The shared helpers of the reshape: atomic writes, the on-disk cache, split helpers, typed recipe settings."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from course_lib.data.cache import FileCache, file_key
from course_lib.data.splits import (
    hashed_holdout,
    holdout_count,
    permuted_holdout,
    read_id_list,
    stratified_holdout,
)
from course_lib.io.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from course_lib.recipes.config import (
    RecipeConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    parse_override,
)


# ----------------------------------------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_only_on_success(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "a.txt", "good")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as fh:
        fh.write("half")
        raise RuntimeError("crash while writing")
    assert path.read_text() == "good"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]  # no temporary file left behind
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"


def test_atomic_write_refuses_a_folder_and_odd_modes(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(ValueError, match="modes"), atomic_write(tmp_path / "f", "a"):
        pass


# ----------------------------------------------------------------------------------------------- cache
def test_file_cache_computes_once_and_follows_the_source(tmp_path):
    src = tmp_path / "mesh.off"
    src.write_text("OFF 1")
    cache = FileCache(tmp_path / "cache")
    calls = []

    def compute():
        calls.append(1)
        return np.arange(4.0)

    assert cache.array([src], "v1", compute).tolist() == [0, 1, 2, 3]
    assert cache.array([src], "v1", compute, mmap=True).tolist() == [0, 1, 2, 3]
    assert len(calls) == 1
    cache.array([src], "v2", compute)  # new settings: a new entry
    assert len(calls) == 2
    os.utime(src, ns=(1, 1))  # the source changed (mtime): recomputed
    cache.array([src], "v1", compute)
    assert len(calls) == 3


def test_file_cache_rebuilds_a_damaged_entry(tmp_path):
    src = tmp_path / "case.nii"
    src.write_bytes(b"x")
    cache = FileCache(tmp_path / "cache")
    cache.array([src], "how", lambda: np.ones(8))
    entry = cache.path([src], "how")
    entry.write_bytes(entry.read_bytes()[:20])  # truncated on disk
    assert cache.array([src], "how", lambda: np.full(8, 2.0)).tolist() == [2.0] * 8
    arrays = cache.arrays([src], "npz", lambda: {"a": np.zeros(2), "b": np.ones(3)})
    cache.path([src], "npz", ".npz").write_bytes(b"not a zip")
    again = cache.arrays([src], "npz", lambda: {"a": np.zeros(2), "b": np.ones(3)})
    assert set(again) == set(arrays) == {"a", "b"}


def test_file_cache_disabled_and_missing_source(tmp_path):
    assert FileCache(None).array([tmp_path / "none"], "h", lambda: np.zeros(1)).tolist() == [0.0]
    with pytest.raises(FileNotFoundError, match="none"):
        file_key([tmp_path / "none"], "h")


# ----------------------------------------------------------------------------------------------- splits
def test_holdout_helpers_are_deterministic_and_leave_both_sides():
    ids = [f"case{i:03d}" for i in range(20)]
    held = hashed_holdout(ids, 0.2, seed=1)
    assert len(held) == 4 and held == hashed_holdout(reversed(ids), 0.2, seed=1)
    assert held != hashed_holdout(ids, 0.2, seed=2)
    assert hashed_holdout(ids + ["extra"], 0.2, seed=1) & held  # barely moves when items are added
    assert permuted_holdout(ids, 0.25, seed=0) == permuted_holdout(list(reversed(ids)), 0.25, seed=0)
    assert holdout_count(2, 0.9) == 1
    with pytest.raises(ValueError, match="at least 2"):
        holdout_count(1, 0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        holdout_count(5, 1.0)
    names, labels = [f"a{i}" for i in range(10)] + ["b0"], ["a"] * 10 + ["b"]
    held = stratified_holdout(names, labels, 0.2)
    assert len(held) == 2 and all(n.startswith("a") for n in held)  # a class of one keeps its item


def test_read_id_list_names_the_file_for_every_problem(tmp_path):
    good = tmp_path / "train.txt"
    good.write_text("\ufeffa\n\n b \nc")  # BOM, blank line, spaces, no final newline
    assert read_id_list(good) == ["a", "b", "c"]
    for name, data, message in (("dup.txt", b"a\na\n", "twice"), ("empty.txt", b"\n\n", "empty"),
                                ("latin.txt", b"caf\xe9\n", "not UTF-8")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=rf"{name}.*{message}"):
            read_id_list(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_id_list(tmp_path / "missing.txt")


# ----------------------------------------------------------------------------------------------- typed settings
@dataclasses.dataclass(frozen=True)
class _Cfg(RecipeConfig):
    """A family's settings for the tests.

    Args:
        crop_size: crop (height, width).
        scale_range: random scale range.
        variant: which model.
        init_from: a checkpoint to start from.
        extra: free-form options.
    """

    crop_size: tuple[int, int] = (64, 64)
    scale_range: tuple[float, ...] = (0.5, 2.0)
    variant: str = "8s"
    init_from: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)


def test_overrides_are_checked_against_the_fields():
    cfg = apply_overrides(_Cfg(), {"lr": 1, "crop_size": [32, 48], "amp": "false", "init_from": None,
                                   "scale_range": "[0.75, 1.25]", "epochs": 2.0})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.crop_size == (32, 48) and cfg.amp is False
    assert cfg.scale_range == (0.75, 1.25) and cfg.epochs == 2
    with pytest.raises(KeyError, match=r"no setting 'cropsize'; valid keys: .*crop_size"):
        apply_overrides(_Cfg(), {"cropsize": [1, 2]})
    for key, value, message in (("epochs", 1.5, "whole number"), ("epochs", "ten", "whole number"),
                                ("lr", "fast", "number"), ("amp", 1, "true or false"),
                                ("crop_size", [1, 2, 3], "2 values"), ("crop_size", 5, "list"),
                                ("variant", 8, "string"), ("batch_size", True, "whole number"),
                                ("grad_clip", "x", "grad_clip")):
        with pytest.raises(TypeError, match=message):
            apply_overrides(_Cfg(), {key: value})


def test_settings_round_trip_through_plain_data():
    cfg = apply_overrides(_Cfg(), {"crop_size": [16, 16], "extra": {"k": 1}})
    data = config_to_dict(cfg)
    assert data["crop_size"] == [16, 16] and config_from_dict(_Cfg, data) == cfg
    with pytest.raises(ValueError, match=r"ckpt\.pt: settings do not fit _Cfg.*'nope'"):
        config_from_dict(_Cfg, {**data, "nope": 1}, where="ckpt.pt")
    assert parse_override("lr=0.1") == ("lr", 0.1) and parse_override("name=fcn") == ("name", "fcn")
    with pytest.raises(ValueError, match="key=value"):
        parse_override("lr")


def test_every_registered_recipe_has_documented_typed_settings():
    from course_lib.recipes import RECIPES

    for recipe in RECIPES.values():
        cls = type(recipe.quick)
        assert type(recipe.full) is cls and issubclass(cls, RecipeConfig)
        doc = "".join(c.__doc__ or "" for c in cls.__mro__)
        undocumented = [f.name for f in dataclasses.fields(cls) if f"{f.name}:" not in doc]
        assert undocumented == [], f"{recipe.name}: {cls.__name__} fields without an Args entry: {undocumented}"
        assert recipe.config("quick").profile == "quick" and recipe.config("full").profile == "full"


