"""Real DAVIS files ($COURSE_REAL_DATA/davis2016, davis2017): the one loader on both years, and the scorer against
figures of the official davis2017-evaluation (computed outside the project on the same predictions)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib.data.davis import DAVIS
from course_lib.data.registry import find_root
from course_lib.data.video import video_statistics
from course_lib.score.davis import score_davis

pytestmark = pytest.mark.realdata


def _root(name: str) -> Path:
    base = os.environ.get("COURSE_REAL_DATA")
    if not base or not (Path(base) / name).is_dir():
        pytest.skip(f"set COURSE_REAL_DATA to a folder holding {name}/")
    return find_root(name, Path(base) / name)


def test_davis2016_is_binary_and_every_frame_is_annotated():
    davis = DAVIS(_root("davis2016"))
    assert davis.year == "2016" and len(davis) >= 1
    for seq in davis:
        assert len(seq.frames) == len(seq.annotations) and seq.annotated_indices == list(range(len(seq)))
        labels = seq.labels(0)
        assert set(np.unique(labels)) <= {0, 1} and labels.any() and seq.object_ids() == [1]
        assert seq.frame(len(seq) - 1).shape[:2] == labels.shape
    assert video_statistics(davis)["annotated_fraction"] == 1.0


def test_davis2017_palette_ids_void_and_split_lists():
    root = _root("davis2017")
    davis = DAVIS(root)
    assert davis.year == "2017"
    lists = sorted((root / "ImageSets" / "2017").glob("*.txt"))
    for path in lists:
        split = DAVIS(root, split=path.stem)
        assert set(split.names) <= set(davis.names)
    for seq in davis:
        ids = seq.object_ids()
        assert ids and ids == list(range(1, len(ids) + 1))
        for index in seq.annotated_indices:
            labels = seq.labels(index)
            assert set(np.unique(labels)) <= {0, *ids, 255}
            masks = seq.masks(index)
            assert not masks[:, labels == 255].any()  # void is no object's
            if seq.frames:
                assert seq.frame(index).shape[:2] == labels.shape
    assert any(len(s.object_ids()) > 1 for s in davis) or len(davis) < 2


def _perturbed(gt: DAVIS, out: Path) -> Path:
    """Moved by (t % 7, -(t % 5)) pixels, dilated 3 px (t % 3 == 0) or eroded 2 px (t % 3 == 1), empty when
    t % 11 == 5: the predictions the official figures below were computed on."""
    from scipy import ndimage

    for seq in gt:
        (out / seq.name).mkdir(parents=True)
        for t in seq.annotated_indices:
            b = np.roll(seq.labels(t), (t % 7, -(t % 5)), axis=(0, 1))
            b = (ndimage.binary_dilation(b, iterations=3) if t % 3 == 0 else
                 ndimage.binary_erosion(b, iterations=2) if t % 3 == 1 else b > 0)
            if t % 11 == 5:
                b = np.zeros_like(b)
            Image.fromarray(b.astype(np.uint8) * 255, "L").save(out / seq.name / f"{t:05d}.png")
    return out


#: davis2017-evaluation (semi-supervised) on these predictions: per object (J-Mean, F-Mean)
OFFICIAL = {"blackswan": (0.8115019535514533, 0.8992153907602324),
            "car-shadow": (0.8180323179997646, 0.8733255302285446)}


def test_scorer_agrees_with_the_official_evaluation_on_real_sequences(tmp_path):
    root = _root("davis2016")
    names = [n for n in OFFICIAL if (root / "Annotations" / "480p" / n).is_dir()]
    if not names:
        pytest.skip("the sequences of the official figures are not in this copy")
    gt = DAVIS(root, sequences=names)
    report = score_davis(root, _perturbed(gt, tmp_path / "res"), sequences=names)
    for row in report.items:
        j, f = OFFICIAL[row["name"].rsplit("_", 1)[0]]
        assert row["J-Mean"] == pytest.approx(j, abs=1e-12) and row["F-Mean"] == pytest.approx(f, abs=1e-12)
    if len(names) == 2:
        assert report.overall["J&F-Mean"] == pytest.approx(0.8505187981349988, abs=1e-12)
        assert report.overall["F-Decay"] == pytest.approx(-0.009114142324668673, abs=1e-12)
