"""The video object datasets of Chapter 7: DAVIS 2016/2017, YouTube-VOS, YouTube-VIS and UVO readers on their
samples, COCO RLE against pycocotools, the statistics table, and the registry entries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from course_lib.data.davis import DAVIS, detect_year, read_sequence_list
from course_lib.data.registry import get
from course_lib.data.video import VideoSequence, object_masks, read_index_mask, statistics_row, video_statistics
from course_lib.data.youtube import YouTubeVOS, read_meta, read_vis_json, vis_statistics
from course_lib.io.rle import RLEError, decode_rle, encode_rle
from course_lib.synthetic.davis import write_sample, write_sample_2016
from course_lib.synthetic.youtube import write_uvo_sample, write_vis_sample, write_vos_sample

SMALL = dict(sequences=4, length=(5, 8), width=48, height=32)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    return {"2017": write_sample(root / "d17", **SMALL), "2016": write_sample_2016(root / "d16", **SMALL),
            "vos": write_vos_sample(root, videos=3, length=16, width=48, height=32),
            "vis": write_vis_sample(root, videos=3, length=16, width=48, height=32),
            "uvo": write_uvo_sample(root, videos=2, length=5, width=48, height=32)}


def test_one_loader_reads_both_years(samples):
    d17, d16 = DAVIS(samples["2017"]), DAVIS(samples["2016"].parent)  # the DAVIS folder or its parent
    assert (d17.year, d16.year) == ("2017", "2016")
    assert detect_year(samples["2016"]) == "2016"
    lengths = {len(s) for s in d17}
    assert len(lengths) > 1 and all(5 <= n <= 8 for n in lengths)  # sequences of different lengths
    seq = d17[0]
    labels = seq.labels(0)
    assert labels.dtype == np.uint8 and 255 in labels  # the void patch survives as 255
    masks = seq.masks(0)
    assert masks.shape == (len(seq.object_ids()), 32, 48) and len(seq.object_ids()) >= 2
    assert not masks[:, labels == 255].any()  # void belongs to no object
    assert seq.frame(3).shape == (32, 48, 3)
    one = d16[0]
    assert one.object_ids() == [1] and set(np.unique(one.labels(0))) <= {0, 1}


def test_split_lists_of_both_years(samples):
    for year in ("2017", "2016"):
        train, val = DAVIS(samples[year], split="train"), DAVIS(samples[year], split="val")
        assert train.names == ["synth-train-00", "synth-train-02"] and val.names == ["synth-val-01", "synth-val-03"]
    only = DAVIS(samples["2017"], sequences=["synth-val-03", "nope"])
    assert only.names == ["synth-val-03"] and only.missing == ["nope"]
    with pytest.raises(KeyError, match="nope"):
        only["nope"]


def test_2016_list_lines_and_sequences_without_frames(samples, tmp_path):
    p = tmp_path / "val.txt"
    p.write_text("/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\n"
                 "/JPEGImages/480p/bear/00001.jpg /Annotations/480p/bear/00001.png\nblackswan\n")
    assert read_sequence_list(p) == ["bear", "blackswan"]
    # a partial copy: annotations only (like the shared davis2017 blackswan)
    root = tmp_path / "DAVIS"
    (root / "Annotations" / "480p" / "cows").mkdir(parents=True)
    Image.fromarray(np.eye(4, dtype=np.uint8), "P").save(root / "Annotations" / "480p" / "cows" / "00000.png")
    assert DAVIS(root).names == ["cows"] and DAVIS(root, need_frames=True).no_frames == ["cows"]


def test_frame_gap_and_lonely_annotation_are_named(samples, tmp_path):
    import shutil

    root = tmp_path / "DAVIS"
    shutil.copytree(samples["2017"], root)
    seq = "synth-train-00"
    (root / "JPEGImages" / "480p" / seq / "00002.jpg").unlink()
    with pytest.raises(ValueError, match="00002.jpg"):
        DAVIS(root)


def test_youtube_vos_objects_enter_mid_video(samples):
    vos = YouTubeVOS(samples["vos"], split="train")
    assert len(vos) == 3 and not vos.missing
    late = [(s, obj, first) for s in vos for obj, first in s.objects.items() if first > 0]
    assert late, "the sample has an object that enters mid-video"
    seq, obj, first = late[0]
    assert not (seq.labels(first - 1) == obj).any() and (seq.labels(first) == obj).any()
    assert [p.stem for p in seq.frames][:3] == ["00000", "00005", "00010"]  # every 5th frame
    assert seq.categories[1] == "person"
    meta = read_meta(samples["vos"] / "train" / "meta.json")
    assert set(meta) == {s.name for s in vos}


def test_youtube_vis_and_uvo_json(samples):
    vis = read_vis_json(samples["vis"] / "train.json")
    assert len(vis) == 3 and len(vis[0]) == 4  # frames 0, 5, 10, 15
    masks, cats = vis[0].masks(0)
    assert masks.shape[1:] == (32, 48) and masks.any() and all(1 <= c <= 4 for c in cats)
    assert vis[0].categories[1] == "person"
    uvo = read_vis_json(samples["uvo"] / "VideoDenseSet" / "UVO_video_train_dense.json", class_agnostic=True)
    assert {i.category_id for v in uvo for i in v.instances} == {1} and uvo[0].categories == {1: "object"}
    stats = vis_statistics(uvo)
    assert stats["annotated_fraction"] == 1.0 and stats["frames"] == 10


def test_uvo_sample_has_the_v1_layout(samples):
    """UVO v1.0: frames <ytid>/<n>.png as video2frames.py writes them, videos with a ytid, per-frame boxes/areas."""
    path = samples["uvo"] / "VideoDenseSet" / "UVO_video_train_dense.json"
    raw = json.loads(path.read_text())
    for video, v in zip(read_vis_json(path, class_agnostic=True), raw["videos"], strict=True):
        assert video.name == v["ytid"] and list(video.file_names) == [f"{v['ytid']}/{n}.png" for n in range(len(video))]
        assert all((samples["uvo"] / "uvo_videos_dense_frames" / f).is_file() for f in video.file_names)
    for a in raw["annotations"]:
        for rle, box, area in zip(a["segmentations"], a["bboxes"], a["areas"], strict=True):
            if rle is None:
                assert box is None and area is None
                continue
            m = decode_rle(rle)
            ys, xs = np.nonzero(m)
            assert area == m.sum() and box == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    vis = read_vis_json(samples["vis"] / "train.json")
    assert vis[0].name == vis[0].file_names[0].split("/")[0]


def test_vis_json_masks_match_the_drawn_clips(samples):
    """Decoding the JSON's RLE gives back the label maps the clips were drawn with (same seed)."""
    from course_lib.synthetic.youtube import _clips

    videos = read_vis_json(samples["vis"] / "train.json")
    for video, (_, _, labels, objects) in zip(videos, _clips(3, 16, 48, 32, 2, 5), strict=True):
        for t, frame in enumerate(range(0, 16, 5)):
            masks, _ = video.masks(t)
            present = [k for k in range(1, objects + 1) if (labels[frame] == k).any()]
            assert len(masks) == len(present)
            for m, k in zip(masks, present, strict=True):
                assert (m == (labels[frame] == k)).all()


def test_statistics_table(samples):
    d17 = DAVIS(samples["2017"])
    row = video_statistics(d17)
    assert row["videos"] == 4 and row["annotated_fraction"] == 1.0
    assert row["objects"] == sum(len(s.object_ids()) for s in d17)
    assert row["frames"] == sum(len(s) for s in d17)
    assert statistics_row([2], [10], [2]) == {"videos": 1, "objects": 2, "objects_per_video": 2.0, "max_objects": 2,
                                             "frames": 10, "annotated_frames": 2, "frames_per_video": 10.0,
                                             "annotated_fraction": 0.2}
    assert video_statistics([VideoSequence("empty", (), {})])["objects"] == 0


def test_object_masks_and_index_masks(tmp_path):
    assert object_masks(np.zeros((2, 2), np.uint8), []).shape == (0, 2, 2)
    Image.fromarray(np.array([[0, 255]], np.uint8), "L").save(tmp_path / "a.png")
    assert read_index_mask(tmp_path / "a.png", binary=True).tolist() == [[0, 1]]
    assert read_index_mask(tmp_path / "a.png").tolist() == [[0, 255]]


def test_rle_matches_pycocotools():
    mask_api = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for _ in range(30):
        h, w = rng.integers(1, 25, 2)
        m = rng.random((h, w)) < rng.random()
        theirs = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
        assert encode_rle(m, compressed=True)["counts"] == theirs["counts"].decode()
        assert (decode_rle({"size": [int(h), int(w)], "counts": theirs["counts"].decode()}) == m).all()
        assert (decode_rle(encode_rle(m)) == m).all()


@pytest.mark.parametrize("rle", [{"size": [2, 2], "counts": [1, 2]}, {"size": [2, 2], "counts": "0"},
                                 {"size": [2, 2], "counts": [5, -1]}, {"size": [2], "counts": [4]},
                                 {"size": [2, 2], "counts": "\x7f"}, {"counts": [4]}])
def test_bad_rle_is_named(rle):
    with pytest.raises(RLEError, match="frame 3"):
        decode_rle(rle, "frame 3")


def test_registry_entries(samples):
    for name, key in (("davis2017", "2017"), ("davis2016", "2016"), ("youtube_vos", "vos"), ("youtube_vis", "vis"),
                      ("uvo", "uvo")):
        info = get(name)
        assert info.chapter == "7" and info.is_root(samples[key]) and info.citation
    assert get("davis2017").ignore_index == 255
