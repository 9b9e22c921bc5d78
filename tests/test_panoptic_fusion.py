"""Panoptic fusion (Panoptic FPN's inference heuristic): score order, the overlap threshold, stuff with a minimum
area, hand-worked; and on a real COCO panoptic picture, fusing its own things and stuff gives it back."""

import numpy as np
import pytest
import torch

from course_lib.data.registry import find_root
from course_lib.metrics.panoptic import panoptic_quality
from course_lib.models.panoptic_fusion import panoptic_fusion


def test_higher_score_wins_the_overlap_and_the_overlap_threshold_drops():
    masks = np.zeros((3, 4, 8), bool)
    masks[0, :, 2:6] = True  # score 0.6: 16 px
    masks[1, :, 0:4] = True  # score 0.9: placed first, 16 px
    masks[2, :, 1:4] = True  # score 0.7: fully inside mask 1 -> dropped (100% > 50%)
    ids, segs, steps = panoptic_fusion(masks, [0.6, 0.9, 0.7], [1, 2, 3], np.zeros((4, 8), int), stuff_ids=[7],
                                       stuff_area=1)
    assert ids[0].tolist() == [1, 1, 1, 1, 2, 2, 0, 0]  # mask 0 keeps only its free half (50%, not > 50%)
    assert [(s["category_id"], s["area"]) for s in segs] == [(2, 16), (1, 8)]
    assert [d["kept"] for d in steps] == [True, False, True] and "already taken" in steps[1]["reason"]


def test_low_scores_and_small_stuff_are_dropped_and_leave_void():
    masks = torch.zeros(2, 4, 4)
    masks[0, :2, :2] = 0.9  # soft masks are thresholded at 0.5
    masks[1, 2:, 2:] = 1.0
    semantic = torch.tensor([[5, 5, 5, 5], [5, 5, 5, 5], [8, 8, 0, 0], [8, 0, 0, 0]])
    ids, segs, steps = panoptic_fusion(masks, torch.tensor([0.8, 0.3]), torch.tensor([1, 1]), semantic,
                                       stuff_ids=[5, 8], stuff_area=4)
    assert [(s["category_id"], s["isthing"], s["area"]) for s in segs] == [(1, True, 4), (5, False, 4)]
    assert ids.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0]]  # stuff 8: 3 px < 4; 0 ignored
    assert [d["reason"].split()[0] for d in steps] == ["0", "score", "4", "3"]
    with pytest.raises(ValueError, match="semantic map"):
        panoptic_fusion(masks, [0.8, 0.3], [1, 1], semantic[:3], stuff_ids=[5])


@pytest.mark.realdata
def test_fusing_a_real_pictures_own_segments_gives_it_back(real_root):
    from course_lib.data.coco_panoptic import coco_panoptic

    folder = find_root("coco_panoptic", real_root)
    if folder is None:
        pytest.skip("no COCO panoptic files under COURSE_REAL_DATA")
    ds = coco_panoptic(folder, "val")
    _, ids, segs = ds.load_raw(0)
    things = [s for s in segs if ds.categories[s["category_id"]].isthing and not s["iscrowd"]]
    masks = np.stack([ids == s["id"] for s in things])
    semantic = np.zeros(ids.shape, np.int64)
    for s in segs:
        if not ds.categories[s["category_id"]].isthing:
            semantic[ids == s["id"]] = s["category_id"]
    stuff = [c for c, v in ds.categories.items() if not v.isthing]
    fused, fsegs, _ = panoptic_fusion(masks, np.linspace(0.99, 0.6, len(things)), [s["category_id"] for s in things],
                                      semantic, stuff_ids=stuff, stuff_area=1)
    cats = [(c, v.isthing) for c, v in ds.categories.items()]
    result = panoptic_quality(ids, segs, fused, fsegs, cats)
    assert result["All"]["pq"] == 1.0 and len(fsegs) == sum(1 for s in segs if not s["iscrowd"])


def test_lidar_sweep_is_a_valid_panoptic_labelling_of_points():
    """PQ on points (Panoptic nuScenes): 1-D ids work unchanged; a perfect prediction scores 1, a split car less."""
    from course_lib.metrics.panoptic import pq_stats, pq_summary
    from course_lib.synthetic.panoptic import LIDAR_CATEGORIES, lidar_sweep

    xy, ids, segments = lidar_sweep(seed=3)
    assert xy.shape == (len(ids), 2) and {s["id"] for s in segments} == set(np.unique(ids).tolist())
    categories, _, isthing = zip(*LIDAR_CATEGORIES, strict=True)
    perfect = pq_summary(pq_stats(ids, segments, ids, segments, categories), categories, isthing)
    assert perfect["All"]["pq"] == 1.0
    car = max((s["id"] for s in segments if s["category_id"] == 1), key=lambda i: int((ids == i).sum()))
    split = ids.copy()
    inside = np.flatnonzero(ids == car)
    split[inside[: len(inside) // 2]] = 1999  # half of the largest car becomes a new instance (IoU exactly 0.5 or less)
    pred_segments = segments + [{"id": 1999, "category_id": 1, "iscrowd": 0}]
    summary = pq_summary(pq_stats(ids, segments, split, pred_segments, categories), categories, isthing)
    assert summary["per_category"][1]["pq"] < 1.0 and summary["Stuff"]["pq"] == 1.0
