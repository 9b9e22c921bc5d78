"""Chapter 4 data: the LIP, CIHP, ATR and PASCAL-Person-Part readers on their samples, label mappings, flipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from course_lib.data.parsing import (
    ATR,
    CIHP,
    LIP,
    ParsingTransforms,
    PascalPersonPart,
    flip_logits,
    flip_permutation,
    swap_left_right,
)
from course_lib.data.parsing_labels import COARSE_CLASSES, FLIP_PAIRS, LABEL_MAPPINGS, PARSING_CLASSES
from course_lib.data.registry import find_root, get
from course_lib.synthetic import parsing as S


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("parsing")
    return {"lip": S.write_lip_sample(root, n_train=6, n_val=5), "cihp": S.write_cihp_sample(root, n_train=3, n_val=2),
            "atr": S.write_atr_sample(root, n=8), "ppp": S.write_ppp_sample(root, n_train=3, n_val=2)}


READERS = {"lip": LIP, "cihp": CIHP, "atr": ATR, "ppp": PascalPersonPart}


@pytest.mark.parametrize("name", list(READERS))
def test_each_reader_reads_both_splits_of_its_sample(samples, name):
    info, reader = get(name), READERS[name]
    assert info.is_root(samples[name]) and find_root(name, samples[name].parent) == samples[name]
    assert reader.classes == info.classes and reader.flip_pairs == FLIP_PAIRS[name]
    for split in ("train", "val"):
        ds = reader(samples[name].parent, split)
        assert ds.is_sample and len(ds) == len(ds.ids) >= 1
        image, mask = ds[0]
        assert image.dtype == torch.float32 and image.shape[0] == 3 and mask.dtype == torch.int64
        assert image.shape[1:] == mask.shape and int(mask.max()) < info.num_classes
    assert len(reader(samples[name], "train", max_items=1)) == 1
    with pytest.raises(ValueError, match="split 'test'|unknown"):
        reader(samples[name], "test")


def test_lip_grayscale_pictures_become_rgb(samples):
    ds = LIP(samples["lip"], "val")
    grey = [i for i, (path, _) in enumerate(ds.items) if Image.open(path).mode == "L"]
    assert grey, "the sample writes some grayscale JPEGs, as LIP has"
    picture, _ = ds.load_raw(grey[0])
    rgb = np.asarray(picture)
    assert picture.mode == "RGB" and np.array_equal(rgb[..., 0], rgb[..., 2])


def test_lip_reads_the_nested_zip_layout(samples, tmp_path):
    import shutil

    nested = tmp_path / "LIP"
    for top in ("TrainVal_images", "TrainVal_parsing_annotations"):
        shutil.copytree(samples["lip"] / top, nested / top / top)
    assert len(LIP(nested, "val")) == len(LIP(samples["lip"], "val"))


def test_cihp_list_without_final_newline_and_person_ids(samples):
    listing = samples["cihp"] / "Validation" / "val_id.txt"
    assert not listing.read_bytes().endswith(b"\n")
    ds = CIHP(samples["cihp"], "val")
    assert ds.ids == listing.read_text().split()
    humans = ds.load_humans(0)
    _, labels = ds.load_raw(0)
    assert humans.max() >= 2 and ((humans > 0) == (labels > 0)).all()


def test_missing_or_bad_files_name_the_file(samples, tmp_path):
    import shutil

    root = tmp_path / "LIP"
    shutil.copytree(samples["lip"], root)
    first = LIP(root, "train").items[0][1]
    Image.fromarray(np.full((5, 5), 42, np.uint8), "L").save(first)
    with pytest.raises(ValueError, match=first.name):
        LIP(root, "train")[0]
    first.unlink()
    with pytest.raises(FileNotFoundError, match=first.name):
        LIP(root, "train")


def test_atr_hashed_split_is_fixed_and_disjoint(samples):
    train, val = ATR(samples["atr"], "train").ids, ATR(samples["atr"], "val").ids
    assert not set(train) & set(val) and len(train) + len(val) == 8 and len(val) >= 1
    assert ATR(samples["atr"], "val").ids == val


def test_mappings_agree_through_ppp_and_keep_shared_parts():
    for source in ("lip", "cihp", "atr"):
        to_ppp, to_coarse = LABEL_MAPPINGS[source, "ppp"], LABEL_MAPPINGS[source, "coarse"]
        values = np.arange(len(PARSING_CLASSES[source]))
        kept = to_ppp[values] != 255
        assert kept.sum() >= 8
        np.testing.assert_array_equal(LABEL_MAPPINGS["ppp", "coarse"][to_ppp[values[kept]]], to_coarse[values[kept]])
        coarse = to_coarse[values]
        assert to_ppp[255] == 255 and coarse[coarse != 255].max() == len(COARSE_CLASSES) - 1
    # ATR -> LIP -> ATR is the identity on every ATR label LIP has (all but belt and bag)
    atr = np.arange(18)
    back = LABEL_MAPPINGS["lip", "atr"][LABEL_MAPPINGS["atr", "lip"][atr]]
    shared = LABEL_MAPPINGS["atr", "lip"][atr] != 255
    assert (back[shared] == atr[shared]).all() and set(atr[~shared]) == {8, 16}
    # names agree where the tables map one part to one part
    for s, t in (("atr", "lip"), ("lip", "atr")):
        for v, w in enumerate(LABEL_MAPPINGS[s, t][:len(PARSING_CLASSES[s])]):
            if w != 255 and v:
                a, b = PARSING_CLASSES[s][v], PARSING_CLASSES[t][w]
                assert a == b or {a, b} <= {"Upper-clothes", "Coat"}, (s, t, a, b)


def test_mapped_lip_labels_match_the_drawn_body_parts():
    """The sample draws clothes (LIP) and body segments (PASCAL-Person-Part) together: where a LIP label is one body
    part (face, hair, hat, sunglasses, shoes), the mapping gives the drawn part."""
    rng = np.random.default_rng(5)
    for _ in range(3):
        _, lip, ppp, _ = S.draw_people(64, 96, rng, people=2)
        exact = np.isin(lip, [1, 2, 4, 13, 18, 19])
        assert exact.any()
        np.testing.assert_array_equal(LABEL_MAPPINGS["lip", "ppp"][lip][exact], ppp[exact])
        assert ((lip > 0) == (ppp > 0)).all()


def test_swap_and_flip_logits_against_torchvision():
    pairs = FLIP_PAIRS["lip"]
    labels = torch.from_numpy(np.random.default_rng(0).integers(0, 20, (1, 7, 9)))
    labels[0, 0, 0] = 255
    flipped = swap_left_right(TF.horizontal_flip(labels), pairs)
    assert flipped[0, 0, -1] == 255 and torch.equal(swap_left_right(TF.horizontal_flip(flipped), pairs), labels)
    labels[0, 0, 0], flipped[0, 0, -1] = 14, 15  # no void in the logits
    logits = torch.nn.functional.one_hot(labels, 20).permute(0, 3, 1, 2).float()
    flipped_logits = torch.nn.functional.one_hot(flipped, 20).permute(0, 3, 1, 2).float()
    assert torch.equal(flip_logits(flipped_logits, pairs), logits)  # the TTA undo gives back the labels
    assert not torch.equal(flipped_logits.flip(-1), logits)  # a plain flip calls left arms right arms
    assert flip_permutation(20, pairs)[14:20] == [15, 14, 17, 16, 19, 18]
    with pytest.raises(ValueError, match="no pair"):
        flip_permutation(5, ((1, 7),))


def test_parsing_transforms_flip_swaps_left_and_right(samples):
    ds = LIP(samples["lip"], "train")
    image, mask = ds.load_raw(0)
    keep = ParsingTransforms(train=True, flip_pairs=FLIP_PAIRS["lip"], scale=None, flip_p=0.0)
    flip = ParsingTransforms(train=True, flip_pairs=FLIP_PAIRS["lip"], scale=None, flip_p=1.0)
    x0, y0 = keep(image, mask)
    x1, y1 = flip(image, mask)
    torch.testing.assert_close(x1, x0.flip(-1))
    assert torch.equal(y1, swap_left_right(y0.flip(-1), FLIP_PAIRS["lip"]))
    left = (y0 == 14).sum()
    assert left > 0 and (y1 == 15).sum() == left
    ev = ParsingTransforms(train=False, flip_pairs=FLIP_PAIRS["lip"], flip_p=1.0)
    assert torch.equal(ev(image, mask)[1], torch.from_numpy(mask).long())


def test_noisy_labels_are_fixed_per_picture_and_only_on_the_chosen_share(samples):
    from course_lib.data.parsing import NoisyLabels, corrupt_labels

    ds = LIP(samples["lip"], "train")
    noisy = NoisyLabels(ds, fraction=0.5, seed=3)
    assert len(noisy) == len(ds) and len(noisy.noisy) == round(0.5 * len(ds))
    for i in range(len(ds)):
        clean, dirty = ds.load_raw(i)[1], noisy.load_raw(i)[1]
        assert (i in noisy.noisy) == bool((clean != dirty).any())
        assert np.array_equal(dirty, noisy.load_raw(i)[1])  # the same noise in every epoch
    image, mask = noisy[0]
    assert image.shape[1:] == mask.shape and mask.dtype == torch.int64
    labels = ds.load_raw(0)[1]
    swapped = corrupt_labels(labels, np.random.default_rng(1), FLIP_PAIRS["lip"], grow=0)
    assert set(np.unique(swapped)) <= set(np.unique(labels)) | {0}
    with pytest.raises(ValueError, match="fraction"):
        NoisyLabels(ds, fraction=1.5)


def test_mapped_labels_give_the_target_set_and_keep_void(samples):
    from course_lib.data.parsing import MappedLabels, NoisyLabels

    ds = LIP(samples["lip"], "train", transforms=ParsingTransforms(train=False, flip_pairs=()))
    coarse = MappedLabels(ds, "coarse")
    assert coarse.classes == COARSE_CLASSES and coarse.flip_pairs == () and len(coarse) == len(ds)
    raw, mapped = ds.load_raw(1)[1], coarse.load_raw(1)[1]
    for source in np.unique(raw):  # every source label lands on its table entry, pixel for pixel
        assert set(np.unique(mapped[raw == source])) == {LABEL_MAPPINGS["lip", "coarse"][source]}
    assert set(np.unique(mapped)) <= set(range(len(COARSE_CLASSES))) | {255}
    assert torch.equal(coarse[1][1], torch.from_numpy(mapped).long())
    noisy = NoisyLabels(coarse, fraction=1.0, seed=0)  # the noise acts on the mapped labels
    assert set(np.unique(noisy.load_raw(0)[1])) <= set(range(len(COARSE_CLASSES))) | {255}
    with pytest.raises(ValueError, match="no label mapping from 'lip' to 'cityscapes'"):
        MappedLabels(ds, "cityscapes")
