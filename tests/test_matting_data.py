"""Chapter 2 data: alpha/trimap files, the DIM composition rule, compositing, trimap generation, the two
Composition-1k layouts and portrait folders, on hand-worked cases and on the synthetic sample."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from course_lib.data import matting as M
from course_lib.data.registry import SAMPLE_MARKER, find_root, get, is_sample_folder
from course_lib.data.splits import hashed_holdout
from course_lib.io.matting import read_alpha, read_trimap, write_alpha, write_trimap
from course_lib.synthetic import matting as synthetic
from course_lib.synthetic.matting_shapes import discover_photos


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """The sample with procedural backgrounds (independent of $COURSE_REAL_DATA); returns ``Composition-1k``."""
    return synthetic.write_sample(tmp_path_factory.mktemp("matting"), photos=False)


@pytest.fixture
def copy(sample, tmp_path) -> Path:
    shutil.copytree(sample, tmp_path / "Composition-1k")
    return tmp_path / "Composition-1k"


# ------------------------------------------------------------------------------------------------ files
def test_alpha_files_round_trip_and_scale(tmp_path):
    alpha = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    write_alpha(tmp_path / "a.png", alpha)
    assert Image.open(tmp_path / "a.png").mode == "L"
    np.testing.assert_array_equal(read_alpha(tmp_path / "a.png") * 255, [[0, 64, 128, 255]])  # rounded to 8 bits
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(tmp_path / "a16.png")
    np.testing.assert_allclose(read_alpha(tmp_path / "a16.png"), [[0, 32768 / 65535, 1]], atol=1e-7)
    grey = np.array([[0, 100, 255]], np.uint8)
    Image.fromarray(np.repeat(grey[..., None], 3, 2), "RGB").save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_alpha(tmp_path / "rgb.png"), grey / 255)  # equal channels: grey
    with pytest.raises(ValueError, match="a.jpg.*lossless"):
        write_alpha(tmp_path / "a.jpg", alpha)
    with pytest.raises(ValueError, match="b.png.*outside"):
        write_alpha(tmp_path / "b.png", alpha + 0.5)


def test_alpha_with_an_alpha_channel_or_colours_is_refused(tmp_path):
    Image.fromarray(np.zeros((4, 4, 4), np.uint8), "RGBA").save(tmp_path / "rgba.png")
    with pytest.raises(ValueError, match="rgba.png.*single-channel grey"):
        read_alpha(tmp_path / "rgba.png")
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour, "RGB").save(tmp_path / "colour.png")
    with pytest.raises(ValueError, match="colour.png.*single-channel grey"):
        read_alpha(tmp_path / "colour.png")


def test_trimap_with_jpeg_values_is_refused_naming_the_values(tmp_path):
    values = np.array([[0, 127, 128, 129, 255]], np.uint8)
    Image.fromarray(values, "L").save(tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"t\.png: trimap holds values \[127, 129\].*only 0.*128.*255"):
        read_trimap(tmp_path / "t.png")
    write_trimap(tmp_path / "ok.png", np.array([[0, 128, 255]], np.uint8))
    assert read_trimap(tmp_path / "ok.png").tolist() == [[0, 128, 255]]
    with pytest.raises(ValueError, match="bad.png"):
        write_trimap(tmp_path / "bad.png", values)


# ------------------------------------------------------------------------------------------------ compositing
def test_composite_hand_worked_values():
    fg = np.array([[[1.0, 0.0, 0.5]]], np.float32)
    bg = np.array([[[0.0, 1.0, 0.5]]], np.float32)
    np.testing.assert_allclose(M.composite(fg, bg, np.array([[0.25]])), [[[0.25, 0.75, 0.5]]])
    np.testing.assert_allclose(M.composite(fg, bg, np.array([[1.0]])), fg)
    np.testing.assert_allclose(M.composite(fg, bg, np.array([[0.0]])), bg)
    as_uint8 = M.composite(np.full((1, 1, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8), np.array([[51]], np.uint8))
    np.testing.assert_allclose(as_uint8, 0.2, atol=1e-6)  # 51 / 255 of white over black
    with pytest.raises(ValueError, match="one size"):
        M.composite(fg, bg, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.composite(fg * 2, bg, np.array([[0.5]]))


def test_composite_8bit_truncates_like_the_release():
    px = lambda v: np.full((1, 1, 3), v, np.uint8)  # noqa: E731
    cases = [(200, 100, 128, 150),  # 0.50196 * 200 + 0.49804 * 100 = 150.196
             (10, 250, 64, 189),  # 0.25098 * 10 + 0.74902 * 250 = 189.765 (truncated, not rounded)
             (37, 211, 255, 37), (37, 211, 0, 211)]
    for f, b, a, expected in cases:
        assert int(M.composite_8bit(px(f), px(b), np.full((1, 1), a, np.uint8))[0, 0, 0]) == expected
    rng = np.random.default_rng(0)
    fg, bg = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    reference = np.floor(alpha[..., None] / 255 * fg + (1 - alpha[..., None] / 255) * bg.astype(float))
    assert np.abs(M.composite_8bit(fg, bg, alpha).astype(int) - reference).max() <= 1  # float32 vs float64


def test_fit_background_scales_up_to_cover_then_crops_top_left():
    bg = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(10, 20, 3)
    assert M.fit_background(bg, 30, 15).shape == (30, 15, 3)  # ratio 3: 30 x 60, then cropped
    big = np.arange(50 * 60 * 3).reshape(50, 60, 3).astype(np.uint8)
    np.testing.assert_array_equal(M.fit_background(big, 30, 40), big[:30, :40])  # never shrunk: top-left corner
    flat = np.full((7, 9, 3), 0.25, np.float32)  # ratio max(10/9, 10/7): 13 x 10 (ceil), cropped to 10 x 10
    out = M.fit_background(flat, 10, 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.25, atol=1e-6)
    moved = M.fit_background(big, 30, 40, rng=np.random.default_rng(1))
    assert any(np.array_equal(moved, big[y:y + 30, x:x + 40]) for y in range(21) for x in range(21))


def test_composition_plan_is_the_dim_rule():
    assert M.composition_plan(["a", "b"], ["x", "y", "z", "w", "v"], 2) == [("a", "x"), ("a", "y"), ("b", "z"),
                                                                             ("b", "w")]
    fgs, bgs = [f"fg{i}" for i in range(5)], [f"bg{j}" for j in range(500)]
    plan = M.composition_plan(fgs, bgs, M.TRAIN_BGS_PER_FG)
    assert len(plan) == 500 and plan[3 * 100 + 7] == ("fg3", "bg307")  # background index = fg index * 100 + k
    assert M.TRAIN_BGS_PER_FG == 100 and M.TEST_BGS_PER_FG == 20
    with pytest.raises(ValueError, match="5 foregrounds x 100 = 500.*499"):
        M.composition_plan(fgs, bgs[:-1], 100)
    with pytest.raises(ValueError, match="per_fg"):
        M.composition_plan(fgs, bgs, 0)
    assert M.composite_name("16452523375_08591714cf_o.png", 19) == "16452523375_08591714cf_o_19.png"


# ------------------------------------------------------------------------------------------------ trimaps
def _soft_alpha() -> np.ndarray:
    yy, xx = np.mgrid[0:40, 0:50]
    alpha = np.clip((14 - np.hypot(yy - 20, xx - 25)) / 4, 0, 1).astype(np.float32)  # a disc with a soft rim
    alpha[2, 3:30] = 0.3  # a thin strand
    alpha[20, 25] = 0.0  # a hole
    return alpha


@pytest.mark.parametrize("kernel", ["ellipse", "square"])
def test_generate_trimap_properties_and_scipy_oracle(kernel):
    import cv2

    alpha = _soft_alpha()
    soft = (alpha > 0) & (alpha < 1)
    previous = None
    for width in range(0, 7):
        trimap = M.generate_trimap(alpha, width, kernel=kernel)
        assert trimap.dtype == np.uint8 and set(np.unique(trimap)) <= {0, 128, 255}
        assert (trimap[soft] == 128).all() and (alpha[trimap == 255] == 1).all() and (alpha[trimap == 0] == 0).all()
        if width == 0:
            np.testing.assert_array_equal(trimap == 128, soft)
        shape = cv2.MORPH_ELLIPSE if kernel == "ellipse" else cv2.MORPH_RECT
        element = cv2.getStructuringElement(shape, (2 * width + 1,) * 2).astype(bool)
        some = ndimage.binary_dilation(alpha > 0, element)
        full = ndimage.binary_erosion(alpha >= 1, element, border_value=1)
        np.testing.assert_array_equal(trimap, np.where(full, 255, np.where(some, 128, 0)))
        unknown = trimap == 128
        assert previous is None or (unknown >= previous).all()  # the band only grows with the width
        previous = unknown


def test_generate_trimap_width_range_and_float_tolerance():
    alpha = _soft_alpha()
    draws = {int((M.generate_trimap(alpha, (2, 5), rng=np.random.default_rng(s)) == 128).sum()) for s in range(20)}
    allowed = {int((M.generate_trimap(alpha, w) == 128).sum()) for w in range(2, 6)}
    assert draws <= allowed and len(draws) > 1
    resized = alpha * np.float32(0.9999999)  # what resizing does to opaque pixels
    np.testing.assert_array_equal(M.generate_trimap(resized, 3), M.generate_trimap(alpha, 3))
    np.testing.assert_array_equal(M.generate_trimap((alpha * 255).round().astype(np.uint8), 3),
                                  M.generate_trimap(np.round(alpha * 255) / 255, 3))
    with pytest.raises(ValueError, match="width"):
        M.generate_trimap(alpha, -1)
    assert M.trimap_to_float(np.array([0, 128, 255], np.uint8)).tolist() == [0.0, 0.5, 1.0]


# ------------------------------------------------------------------------------------------------ layouts
def test_sample_has_both_official_layouts(sample):
    assert find_root("composition1k", sample.parent) == sample and is_sample_folder(sample)
    assert find_root("composition1k", sample / "Combined_Dataset") == sample  # an inner folder works too
    assert find_root("composition1k", sample / "Composition-1k-testset") == sample
    assert "SYNTHETIC" in (sample / "README.md").read_text() and "SYNTHETIC" in (sample / SAMPLE_MARKER).read_text()
    train = M.read_adobe_split(sample / "Combined_Dataset", "train")
    assert len(train.foregrounds) == 8 and len(train.backgrounds) == 800 and train.per_fg == 100
    assert {p.parent.parent.name for p in train.fg.values()} == {"Adobe-licensed images", "Other"}
    assert all(train.alpha[n].parent.name == "alpha" and train.alpha[n].name == n for n in train.foregrounds)
    test = M.read_adobe_split(sample / "Combined_Dataset", "test")
    assert len(test.foregrounds) == 4 and len(test.backgrounds) == 80 and set(test.trimaps) == set(test.foregrounds)
    items = M.list_testset(sample / "Composition-1k-testset")
    assert len(items) == 80 and all(i.fg is not None and i.bg is not None for i in items)
    assert [i.name for i in items[:4]] == sorted(f"{Path(n).stem}_0" for n in test.foregrounds)  # k first
    assert synthetic.write_sample(sample.parent, photos=False) == sample  # kept, not rewritten


def test_testset_composites_follow_the_rule_from_the_test_part(sample):
    """Re-derive each composite of Composition-1k-testset from Test_set + test_bg_names.txt with the rule."""
    test = M.read_adobe_split(sample / "Combined_Dataset", "test")
    by_name = {i.name: i for i in M.list_testset(sample / "Composition-1k-testset")}
    for index, (fg_name, bg_name) in enumerate(test.plan()):
        item = by_name[Path(M.composite_name(fg_name, index % test.per_fg)).stem]
        fg = np.asarray(Image.open(test.fg[fg_name]).convert("RGB"))
        alpha = np.asarray(Image.open(test.alpha[fg_name]))
        bg = M.fit_background(np.asarray(Image.open(sample / "backgrounds" / "test" / bg_name).convert("RGB")),
                              *alpha.shape)
        np.testing.assert_array_equal(np.asarray(Image.open(item.image)), M.composite_8bit(fg, bg, alpha))
        np.testing.assert_array_equal(read_trimap(item.trimap), read_trimap(test.trimaps[fg_name]))


def test_sample_alphas_have_soft_edges_of_every_kind(sample):
    train = M.read_adobe_split(sample / "Combined_Dataset", "train")
    for name in train.foregrounds:
        alpha = read_alpha(train.alpha[name])
        soft = (alpha > 0) & (alpha < 1)
        assert (alpha == 0).mean() > 0.3 and (alpha == 1).any() and soft.mean() > 0.01, name
        if "glass" in name:
            assert np.isclose(alpha, 0.4, atol=0.01).sum() > 20  # the disc at alpha 0.4
    kinds = {n.split("_")[-1][:-4] for n in train.foregrounds}
    assert kinds == {"hair", "motion", "glass", "holes"}


def test_sample_is_deterministic(tmp_path):
    a = synthetic.write_sample(tmp_path / "a", n_train=2, n_test=1, n_backgrounds=(2, 2), photos=False)
    b = synthetic.write_sample(tmp_path / "b", n_train=2, n_test=1, n_backgrounds=(2, 2), photos=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and len(files) > 20
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_backgrounds_come_from_discovered_photos(tmp_path):
    for folder, name in (("coco/val2017", "x.jpg"), ("cv/CamVid/train", "y.png"), ("misc", "z.jpg")):
        (tmp_path / "data" / folder).mkdir(parents=True)
        Image.fromarray(np.full((90, 120, 3), 120, np.uint8)).save(tmp_path / "data" / folder / name)
    assert [p.name for p in discover_photos(tmp_path / "data")] == ["x.jpg", "y.png"]  # not misc/
    folder = synthetic.write_sample(tmp_path / "s", n_train=2, n_test=1, n_backgrounds=(2, 2), photos=tmp_path / "data")
    readme = (folder / "README.md").read_text()
    assert "4 of 4 are crops of real photographs" in readme and "coco/val2017/x.jpg" in readme


# ------------------------------------------------------------------------------------------------ datasets
def test_train_items_are_crops_that_satisfy_the_compositing_equation(sample):
    torch.manual_seed(0)
    ds = M.Composition1k(sample, "train", crop_size=48, trimap_width=(1, 6))
    assert len(ds) == 7 * 100 and ds.is_sample and "700 composites of 7 of the 8" in ds.protocol
    assert len({fg for fg, _, _ in ds.items[:7]}) == 7  # foregrounds first: a few items cover all of them
    for index in range(0, len(ds), 50):
        item = ds[index]
        assert {k: tuple(v.shape) for k, v in item.items() if k != "name"} == {
            "image": (3, 48, 48), "trimap": (1, 48, 48), "alpha": (1, 48, 48), "fg": (3, 48, 48), "bg": (3, 48, 48)}
        assert all(v.dtype == torch.float32 for k, v in item.items() if k != "name")
        assert set(item["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
        assert (item["trimap"] == 0.5).any(), f"crop {index} has no unknown pixel"  # centred on the unknown band
        a = item["alpha"]
        assert 0 <= a.min() and a.max() <= 1
        torch.testing.assert_close(item["image"], a * item["fg"] + (1 - a) * item["bg"])
        assert item["name"] == ds.name(index) and item["name"].startswith("synth_train_")
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 48, 48) and len(batch["name"]) == 4


def test_val_is_a_hashed_holdout_of_training_foregrounds(sample):
    train = M.Composition1k(sample, "train")
    val = M.Composition1k(sample, "val")
    train_fgs, val_fgs = {i[0] for i in train.items}, {i[0] for i in val.items}
    assert not train_fgs & val_fgs and len(train_fgs | val_fgs) == 8 and len(val) == len(val_fgs) * 20
    first, again = val[0], val[0]
    layers = val.load_layers(0)
    assert first["image"].shape[1:] == layers["alpha"].shape  # native size
    torch.testing.assert_close(first["trimap"], again["trimap"])  # seeded: the same every time
    assert val_fgs == hashed_holdout(sorted(train_fgs | val_fgs), 0.1, 0)  # the shared hold-out helper decides
    assert {i[0] for i in M.Composition1k(sample, "val", seed=5).items} == hashed_holdout(sorted(val_fgs | train_fgs),
                                                                                         0.1, 5)


def test_test_items_are_the_files(sample):
    ds = M.Composition1k(sample, "test", max_items=4)
    assert len(ds) == 4 and len(M.Composition1k(sample, "test")) == 80
    item, files = ds[0], ds.items[0]
    np.testing.assert_allclose(item["image"].permute(1, 2, 0).numpy(),
                               np.asarray(Image.open(files.image), np.float32) / 255)
    assert np.array_equal(item["trimap"][0].numpy() * 2, np.round(read_trimap(files.trimap) / 127.5))
    np.testing.assert_allclose(item["alpha"][0].numpy(), read_alpha(files.alpha))
    assert set(item) == {"image", "trimap", "alpha", "fg", "bg", "name"}


def test_a_renamed_testset_folder_is_read_directly(sample, tmp_path):
    shutil.copytree(sample / "Composition-1k-testset", tmp_path / "comp1k_test")
    ds = M.Composition1k(tmp_path / "comp1k_test", "test")
    assert len(ds) == 80 and ds.folder == tmp_path / "comp1k_test" and not ds.is_sample
    with pytest.raises(FileNotFoundError, match="comp1k_test"):
        M.Composition1k(tmp_path / "comp1k_test", "train")


def test_missing_partner_and_missing_background_are_named(copy):
    items = M.list_testset(copy / "Composition-1k-testset")
    items[5].trimap.unlink()
    with pytest.raises(ValueError, match=f"{items[5].image.name} has no partner in .*trimaps"):
        M.Composition1k(copy, "test")
    alpha = next((copy / "Combined_Dataset" / "Training_set" / "Other" / "alpha").iterdir())
    alpha.unlink()
    with pytest.raises(ValueError, match=f"{alpha.name} has no partner in .*alpha"):
        M.Composition1k(copy, "train")
    shutil.rmtree(copy / "Combined_Dataset" / "Training_set" / "Other")
    shutil.rmtree(copy / "Composition-1k-testset")
    names = copy / "Combined_Dataset" / "Training_set" / "training_fg_names.txt"
    names.write_text("synth_train_00_hair.png\nsynth_train_02_glass.png\n")
    shutil.rmtree(copy / "backgrounds")
    with pytest.raises(FileNotFoundError, match="bg_root"):
        M.Composition1k(copy, "train")
    (copy / "bgs").mkdir()
    with pytest.raises(FileNotFoundError, match="bgs.*training_bg_names.txt"):
        M.Composition1k(copy, "train", bg_root=copy / "bgs")


def test_max_items_needs_only_its_backgrounds(copy):
    needed = {bg for _, bg, _ in M.Composition1k(copy, "train", max_items=7).items}
    for path in (copy / "backgrounds" / "train").iterdir():
        if path.name not in needed:
            path.unlink()
    assert len(M.Composition1k(copy, "train", max_items=7)) == 7  # a partial background folder is enough
    with pytest.raises(FileNotFoundError, match="backgrounds named by .*training_bg_names.txt are not there"):
        M.Composition1k(copy, "train")


def test_foreground_and_alpha_of_different_sizes_are_named(copy):
    train = M.read_adobe_split(copy / "Combined_Dataset", "train")
    name = train.foregrounds[0]
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(train.alpha[name])
    ds = M.Composition1k(copy, "train", val_fraction=0.1)
    index = next(i for i, item in enumerate(ds.items) if item[0] == name)
    with pytest.raises(ValueError, match=f"{name}.*30x20.*partner.*{name}"):
        ds[index]


# ------------------------------------------------------------------------------------------------ portraits
def _portrait(folder: Path, name: str, size=(12, 10), alpha_size=None, suffix=".jpg") -> None:
    (folder / "image").mkdir(parents=True, exist_ok=True)
    (folder / "matte").mkdir(exist_ok=True)
    Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(folder / "image" / f"{name}{suffix}")
    alpha = np.zeros(alpha_size or size, np.uint8)
    alpha[3:8, 3:7] = 255
    alpha[3, 3:7] = 128
    Image.fromarray(alpha).save(folder / "matte" / f"{name}.png")


def test_portrait_folders_match_names_across_extensions(tmp_path):
    _portrait(tmp_path / "set", "a", suffix=".jpg")
    _portrait(tmp_path / "set", "b", suffix=".png")
    ds = M.PortraitMatting(tmp_path, trimap_width=1)  # found one level down
    assert ds.names == ["a", "b"] and not ds.is_sample
    item = ds[0]
    assert set(item) == {"image", "trimap", "alpha", "name"} and item["image"].shape == (3, 12, 10)
    soft = (item["alpha"][0] > 0) & (item["alpha"][0] < 1)
    assert soft.sum() == 4 and (item["trimap"][0][soft] == 0.5).all()  # generated: soft pixels are unknown
    assert (item["trimap"][0] == 1).sum() > 0 and (item["trimap"][0] == 0).sum() > 0
    crops = M.PortraitMatting(tmp_path / "set", crop_size=8)
    assert crops[1]["image"].shape == (3, 8, 8) and crops[1]["trimap"].shape == (1, 8, 8)
    (tmp_path / "set" / "image" / "c.png").write_bytes((tmp_path / "set" / "image" / "b.png").read_bytes())
    with pytest.raises(ValueError, match=r"c\.png has no partner in .*matte \(expected c\.\*\)"):
        M.PortraitMatting(tmp_path / "set")
    (tmp_path / "set" / "image" / "a.png").write_bytes((tmp_path / "set" / "image" / "b.png").read_bytes())
    with pytest.raises(ValueError, match="two files share the name 'a'"):
        M.PortraitMatting(tmp_path / "set")


def test_portrait_sizes_mismatch_and_trimap_folder(tmp_path):
    _portrait(tmp_path, "a", size=(12, 10), alpha_size=(10, 12))
    with pytest.raises(ValueError, match=r"a\.png: is 12x10.*partner .*a\.jpg is 10x12"):
        M.PortraitMatting(tmp_path)[0]
    _portrait(tmp_path, "a")
    (tmp_path / "trimap").mkdir()
    write_trimap(tmp_path / "trimap" / "a.png", np.full((12, 10), 128, np.uint8))
    item = M.PortraitMatting(tmp_path, trimap_dir="trimap")[0]
    assert (item["trimap"] == 0.5).all()  # read, not generated


def test_portrait_sample_and_registry(tmp_path):
    folder = synthetic.write_portrait_sample(tmp_path, n=3, photos=False)
    assert folder.name == "PPM-100" and find_root("ppm100", tmp_path) == folder and is_sample_folder(folder)
    ds = M.PortraitMatting(folder)
    assert len(ds) == 3 and ds.is_sample and "SYNTHETIC" in (folder / "README.md").read_text()
    info = get("composition1k")
    assert info.chapter == "2" and not info.downloadable and "1703.03872" in info.citation
    assert "sites.google.com/view/deepimagematting" in info.note and info.write_sample(tmp_path / "c", n_train=2,
                                                                                          n_test=1, photos=False)
    assert "2011.11961" in get("ppm100").citation


def test_locate_falls_back_to_the_samples_and_explains_the_registration(tmp_path, monkeypatch):
    from course_lib.datasets import locate

    monkeypatch.delenv("COURSE_REAL_DATA", raising=False)  # procedural backgrounds: fast and machine-independent
    (tmp_path / "data").mkdir()
    folder, is_sample = locate("composition1k", tmp_path / "data", profile="quick", work=tmp_path / "work",
                               verbose=False)
    assert is_sample and folder.name == "Composition-1k" and len(M.Composition1k(folder, "test")) == 80
    portraits, is_sample = locate("ppm100", tmp_path / "data", profile="quick", work=tmp_path / "work", verbose=False)
    assert is_sample and len(M.PortraitMatting(portraits)) == 6
    with pytest.raises(FileNotFoundError, match="(?s)registration.*deepimagematting.*Combined_Dataset"):
        locate("composition1k", tmp_path / "data", profile="full", work=tmp_path / "work", verbose=False)


def test_compose_script_rebuilds_the_samples_testset_byte_for_byte(tmp_path):
    # data_scripts/compose_composition1k.py applies the release's rule to Combined_Dataset/Test_set and the VOC
    # backgrounds; on the sample (whose test set was composed by the same rule) it must give the same files
    import subprocess
    import sys

    sample = synthetic.write_sample(tmp_path / "s", n_train=2, n_test=2, n_backgrounds=(2, 3), photos=False)
    out = tmp_path / "out"
    script = Path(__file__).resolve().parents[1] / "data_scripts" / "compose_composition1k.py"
    run = subprocess.run([sys.executable, str(script), "--combined", str(sample / "Combined_Dataset"),
                          "--backgrounds", str(sample / "backgrounds" / "test"), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    testset = out / "Composition-1k-testset"
    made = sorted(p.relative_to(testset) for p in testset.rglob("*.png"))
    assert len(made) == 2 * 20 * 5
    for rel in made:
        ours = np.asarray(Image.open(out / "Composition-1k-testset" / rel))
        theirs = np.asarray(Image.open(sample / "Composition-1k-testset" / rel))
        assert np.array_equal(ours, theirs), rel
    # a background missing from the folder: a named error, exit status 2
    bg = next((sample / "backgrounds" / "test").iterdir())
    bg.rename(bg.with_suffix(".moved"))
    run = subprocess.run([sys.executable, str(script), "--combined", str(sample / "Combined_Dataset"),
                          "--backgrounds", str(sample / "backgrounds" / "test"), "--out", str(tmp_path / "o2")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "backgrounds" in run.stderr and "test_bg_names.txt" in run.stderr
