"""The label sets of human parsing (Chapter 4): LIP, CIHP, ATR, PASCAL-Person-Part; left/right pairs; mappings.

Data only, read by :mod:`course_lib.data.registry` (the entries ``atr`` and ``ppp``; ``lip`` and ``cihp`` are in
:mod:`course_lib.data.labels`) and by :mod:`course_lib.data.parsing`.

- **LIP** (Gong et al., CVPR 2017) and **CIHP** (Gong et al., ECCV 2018): 20 labels 0..19, 255 ignored; label 10 is
  "Jumpsuits" in LIP and "Torso-skin" in CIHP (:data:`course_lib.data.labels.LIP_CLASSES`).
- **ATR** (Liang et al., "Deep Human Parsing with Active Template Regression", TPAMI 2015): 18 labels 0..17, the
  order of the SCHP code base (:data:`ATR_CLASSES`).
- **PASCAL-Person-Part** (Chen et al., "Detect What You Can", CVPR 2014): 7 body parts 0..6 (:data:`PPP_CLASSES`).

"Left" and "right" are the *person's* sides: a person facing the camera has the left arm on the right of the
picture. A horizontal flip turns a left arm into a right arm, so a flipped label map must swap each pair of
:data:`FLIP_PAIRS` (torchvision's flip does not: :func:`course_lib.data.parsing.swap_left_right`).

**Mappings.** :data:`LABEL_MAPPINGS` holds lookup tables ``source value -> target value`` where the sets agree.
LIP labels clothes (pants, a dress) and whole limbs, PASCAL-Person-Part labels body regions split at the elbow and
knee; so a LIP arm or a pair of pants cannot be told upper or lower and maps to 255 (ignored), while a face, a hat
or a shoe maps to one part. A glove or a sock has no side, so it maps to no ATR label. LIP's upper clothes and coats
include their sleeves and map to "torso": the one approximation of these tables. The coarse set
:data:`COARSE_CLASSES` (background, head, torso, arms, legs) is where all four agree best: every set maps to it,
and mapping LIP to PASCAL-Person-Part and then to the coarse set agrees with mapping LIP to the coarse set wherever
the first step keeps the pixel.

Example:
    >>> LABEL_MAPPINGS["lip", "ppp"][[0, 13, 14, 18]].tolist()
    [0, 1, 255, 6]
"""

from __future__ import annotations

import numpy as np

from .labels import CIHP_CLASSES, HUMAN_PARTS_PALETTE, LIP_CLASSES

__all__ = ["ATR_CLASSES", "COARSE_CLASSES", "DATASETS", "FLIP_PAIRS", "LABEL_MAPPINGS", "PARSING_CLASSES",
           "PPP_CLASSES"]

#: ATR's 18 labels (0..17), as the SCHP code base orders them
ATR_CLASSES: tuple[str, ...] = (
    "Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Belt", "Left-shoe",
    "Right-shoe", "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Bag", "Scarf",
)  # fmt: skip
#: PASCAL-Person-Part's 7 labels (0..6)
PPP_CLASSES: tuple[str, ...] = ("Background", "Head", "Torso", "Upper-arms", "Lower-arms", "Upper-legs",
                                "Lower-legs")
#: the coarse body regions every set maps to
COARSE_CLASSES: tuple[str, ...] = ("Background", "Head", "Torso", "Arms", "Legs")
#: the class names of each human-parsing label set, by registry name (and ``coarse``)
PARSING_CLASSES: dict[str, tuple[str, ...]] = {"lip": LIP_CLASSES, "cihp": CIHP_CLASSES, "atr": ATR_CLASSES,
                                               "ppp": PPP_CLASSES, "coarse": COARSE_CLASSES}
#: the (left, right) label pairs a horizontal flip swaps, by registry name
FLIP_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "lip": ((14, 15), (16, 17), (18, 19)), "cihp": ((14, 15), (16, 17), (18, 19)),
    "atr": ((9, 10), (12, 13), (14, 15)), "ppp": (),
}

_X = 255  # no single target part: ignored
# target value of each source label (index = source value); see the module docstring for the choices
_TABLES: dict[tuple[str, str], tuple[int, ...]] = {
    #            bg hat hair glove sungl upper dress coat socks pants jump scarf skirt face larm rarm lleg rleg lsh rsh
    ("lip", "ppp"): (0, 1, 1, 4, 1, 2, _X, 2, 6, _X, _X, 2, 5, 1, _X, _X, _X, _X, 6, 6),
    ("lip", "coarse"): (0, 1, 1, 3, 1, 2, _X, 2, 4, 4, _X, 2, 4, 1, 3, 3, 4, 4, 4, 4),
    ("lip", "atr"): (0, 1, 2, _X, 3, 4, 7, 4, _X, 6, _X, 17, 5, 11, 14, 15, 12, 13, 9, 10),
    #            bg hat hair glove sungl upper dress coat socks pants torso scarf skirt face larm rarm lleg rleg lsh rsh
    ("cihp", "ppp"): (0, 1, 1, 4, 1, 2, _X, 2, 6, _X, 2, 2, 5, 1, _X, _X, _X, _X, 6, 6),
    ("cihp", "coarse"): (0, 1, 1, 3, 1, 2, _X, 2, 4, 4, 2, 2, 4, 1, 3, 3, 4, 4, 4, 4),
    #            bg hat hair sungl upper skirt pants dress belt lsh rsh face lleg rleg larm rarm bag scarf
    ("atr", "ppp"): (0, 1, 1, 1, 2, 5, _X, _X, 2, 6, 6, 1, _X, _X, _X, _X, _X, 2),
    ("atr", "coarse"): (0, 1, 1, 1, 2, 4, 4, _X, 2, 4, 4, 1, 4, 4, 3, 3, _X, 2),
    ("atr", "lip"): (0, 1, 2, 4, 5, 12, 9, 6, _X, 18, 19, 13, 16, 17, 14, 15, _X, 11),
    ("ppp", "coarse"): (0, 1, 2, 3, 3, 4, 4),
}


def _lut(table: tuple[int, ...]) -> np.ndarray:
    lut = np.full(256, _X, np.uint8)  # 255 (ignored) stays 255; values beyond the table are no labels
    lut[:len(table)] = table
    return lut


#: ``(source, target) -> uint8 [256]`` lookup tables: ``LABEL_MAPPINGS[s, t][labels]`` maps a label map
LABEL_MAPPINGS: dict[tuple[str, str], np.ndarray] = {key: _lut(table) for key, table in _TABLES.items()}

#: the keyword arguments of the registry entries ``atr`` and ``ppp``
DATASETS: tuple[dict, ...] = (
    dict(name="atr", title="ATR (Active Template Regression human parsing, 18 labels)", chapter="4",
         folders=("humanparsing", "ATR", "atr"), markers=(("JPEGImages/", "SegmentationClassAug/"),),
         note="""\
ATR: 17 706 pictures of people (mostly full-body fashion pictures), 18 labels (0 = background .. 17 = scarf).
Get it: the release the parsing code bases use is humanparsing.zip (the ATR authors' "humanparsing" folder; see
https://github.com/lemondan/HumanParsing-Dataset, or the SCHP README's dataset links). Unpack it under
<data root>/atr/ so that humanparsing/JPEGImages/<name>.jpg and humanparsing/SegmentationClassAug/<name>.png
(mode-L, values 0..17) exist. The release has no split lists: put train_id.txt / val_id.txt (one name per line)
into humanparsing/ to use your own split, else the loader holds out a fixed 4 % (about SCHP's 700 of 17 700) by a
hash of the names.
Terms: research use (the dataset authors' page).
Cite: X. Liang et al., "Deep Human Parsing with Active Template Regression", TPAMI 37(12), 2015.""",
         licence="research use (dataset authors' terms)", citation="Liang et al., Deep Human Parsing with Active "
         "Template Regression, TPAMI 2015", classes=ATR_CLASSES, palette=HUMAN_PARTS_PALETTE[:18],
         ignore_index=255, sample_writer="course_lib.synthetic.parsing:write_atr_sample"),
    dict(name="ppp", title="PASCAL-Person-Part (7 body parts)", chapter="4",
         folders=("pascal_person_part", "PASCAL-Person-Part", "ppp"),
         markers=(("JPEGImages/", "SegmentationPart/"),),
         note="""\
PASCAL-Person-Part: 1 716 training and 1 817 validation PASCAL VOC 2010 pictures with people, 7 labels (0 =
background, head, torso, upper arms, lower arms, upper legs, lower legs).
Get it: the part annotations are at http://roozbehm.info/pascal-parts/pascal-parts.html (Matlab files); the
release the parsing code bases use (Graphonomy, SCHP) converts them to pascal_person_part/{JPEGImages/<id>.jpg,
SegmentationPart/<id>.png (mode-L 0..6, 255 ignored), list/{train,val}_id.txt}. Unpack it under <data root>/ppp/.
Terms: the PASCAL VOC images (Flickr terms) and the PASCAL-Part annotations (research use).
Cite: X. Chen et al., "Detect What You Can: Detecting and Representing Objects using Holistic Models and Body
Parts", CVPR 2014.""",
         licence="research use (PASCAL VOC / PASCAL-Part terms)",
         citation="Chen et al., Detect What You Can, CVPR 2014", classes=PPP_CLASSES,
         palette=HUMAN_PARTS_PALETTE[:7], ignore_index=255,
         sample_writer="course_lib.synthetic.parsing:write_ppp_sample"),
)
