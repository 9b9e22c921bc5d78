"""Label sets of the scene-parsing, human-parsing and driving benchmarks: class names, palettes, label tables.

Data only, read by :mod:`course_lib.data.registry` (the entries ``ade20k``, ``lip``, ``cihp``, ``cityscapes``) and by
``python -m course_lib.score semantic``. Introduced for Chapters 3, 4 and 10, whose loaders come later.

- **ADE20K SceneParsing** (``ADEChallengeData2016``): label PNGs hold 0..150; 0 is "other objects" and is ignored,
  the 150 classes are the values 1..150 (``objectInfo150.txt``; the names here are the first name of each line).
- **LIP** and **CIHP**: 20 labels 0..19 (0 = background, a class that is scored); 255 is ignored. Label 10 is
  "Jumpsuits" in LIP and "Torso-skin" in CIHP. Palette: the PASCAL VOC colour map, as the parsing code bases use.
- **Cityscapes**: ``*_gtFine_labelIds.png`` hold the 34 label ids 0..33; the benchmark scores 19 of them, renumbered
  as train ids 0..18 (:data:`CITYSCAPES_LABELS`, the table of ``cityscapesscripts/helpers/labels.py``); the others
  (``ignoreInEval``) become 255. Predictions are submitted as label ids.

Example:
    >>> CITYSCAPES_ID_TO_TRAINID[[7, 26, 0]].tolist()
    [0, 13, 255]
"""

from __future__ import annotations

import numpy as np

from ..io.images import voc_colormap

__all__ = [
    "ADE20K_CLASSES", "ADE20K_PALETTE", "CIHP_CLASSES", "CITYSCAPES_CLASSES", "CITYSCAPES_ID_TO_TRAINID",
    "CITYSCAPES_LABELS", "CITYSCAPES_PALETTE", "CITYSCAPES_TRAINID_TO_ID", "DATASETS", "HUMAN_PARTS_PALETTE",
    "LIP_CLASSES",
]  # fmt: skip

#: the 150 classes of ADE20K SceneParsing, in the order of their label values 1..150
ADE20K_CLASSES: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path",
    "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase",
    "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
    "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light",
    "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television", "airplane", "dirt track",
    "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van",
    "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel",
    "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture",
    "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip
#: the colours of the 150 classes (of the mmsegmentation / CSAILVision demos), six hex digits each
ADE20K_PALETTE = np.frombuffer(bytes.fromhex(
    "787878b4787806e6e650323204c8037878508c8c8ccc05ffe6e6e604fa07e005ffebff0796053d78784608ff33ff06528fff8cccff04"
    "ff3307cc46030066c83de6faff06330b66ffff0747ff09e00907e6dcdcdcff095c7009ff08ffd607ffe0ffb8060aff47ff290a07ffff"
    "e0ff086608ffff3d06ffc207ff7a0800ff14ff0829ff05990633ffeb0cffa0961400a3ff8c8c8cfa0a0f14ff001fff00ff1f00ffe000"
    "99ff000000ffff470000ebff00adff1f00ff0bc8c8ff520000fff5003dff00ff7000ff85ff0000ffa300ff6600c2ff00008fff33ff00"
    "0052ff00ff2900ffad0a00ffadff0000ff99ff5c00ff00ffff00f5ff0066ffad00ff0014ffb8b8001fff00ff3d0047ffff00cc00ffc2"
    "00ff52000aff0070ff3300ff00c2ff007aff00ffa3ff990000ff0aff70008fff005200ffa3ff00ffeb0008b8aa8500ff00ff5cb800ff"
    "ff001f00b8ff00d6ffff00705cff0000e0ff70e0ff46b8a0a300ff9900ff47ff00ff00a3ffcc00ff008f00ffeb85ff00ff00ebf500ff"
    "ff007afff5000abed4d6ff0000ccff1400ffffff000099ff0029ff00ffcc2900ff29ff00ad00ff00f5ff4700ff7a00ff00ffb8005cff"
    "b8ff000085ffffd60019c2c266ff005c00ff"
), np.uint8).reshape(150, 3)

_PARTS = ("Background", "Hat", "Hair", "Glove", "Sunglasses", "Upper-clothes", "Dress", "Coat", "Socks", "Pants")
_LIMBS = ("Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe", "Right-shoe")
#: LIP's 20 labels (0..19)
LIP_CLASSES: tuple[str, ...] = (*_PARTS, "Jumpsuits", *_LIMBS)
#: CIHP's 20 labels (0..19): LIP's, with "Torso-skin" as label 10
CIHP_CLASSES: tuple[str, ...] = (*_PARTS, "Torso-skin", *_LIMBS)
HUMAN_PARTS_PALETTE = voc_colormap(20)

#: Cityscapes labels: (name, label id, train id, ignored in evaluation, colour) for the ids 0..33
CITYSCAPES_LABELS: tuple[tuple[str, int, int, bool, tuple[int, int, int]], ...] = (
    ("unlabeled", 0, 255, True, (0, 0, 0)), ("ego vehicle", 1, 255, True, (0, 0, 0)),
    ("rectification border", 2, 255, True, (0, 0, 0)), ("out of roi", 3, 255, True, (0, 0, 0)),
    ("static", 4, 255, True, (0, 0, 0)), ("dynamic", 5, 255, True, (111, 74, 0)),
    ("ground", 6, 255, True, (81, 0, 81)), ("road", 7, 0, False, (128, 64, 128)),
    ("sidewalk", 8, 1, False, (244, 35, 232)), ("parking", 9, 255, True, (250, 170, 160)),
    ("rail track", 10, 255, True, (230, 150, 140)), ("building", 11, 2, False, (70, 70, 70)),
    ("wall", 12, 3, False, (102, 102, 156)), ("fence", 13, 4, False, (190, 153, 153)),
    ("guard rail", 14, 255, True, (180, 165, 180)), ("bridge", 15, 255, True, (150, 100, 100)),
    ("tunnel", 16, 255, True, (150, 120, 90)), ("pole", 17, 5, False, (153, 153, 153)),
    ("polegroup", 18, 255, True, (153, 153, 153)), ("traffic light", 19, 6, False, (250, 170, 30)),
    ("traffic sign", 20, 7, False, (220, 220, 0)), ("vegetation", 21, 8, False, (107, 142, 35)),
    ("terrain", 22, 9, False, (152, 251, 152)), ("sky", 23, 10, False, (70, 130, 180)),
    ("person", 24, 11, False, (220, 20, 60)), ("rider", 25, 12, False, (255, 0, 0)),
    ("car", 26, 13, False, (0, 0, 142)), ("truck", 27, 14, False, (0, 0, 70)),
    ("bus", 28, 15, False, (0, 60, 100)), ("caravan", 29, 255, True, (0, 0, 90)),
    ("trailer", 30, 255, True, (0, 0, 110)), ("train", 31, 16, False, (0, 80, 100)),
    ("motorcycle", 32, 17, False, (0, 0, 230)), ("bicycle", 33, 18, False, (119, 11, 32)),
)  # fmt: skip
_EVALUATED = sorted((t, name, colour) for name, _, t, ignored, colour in CITYSCAPES_LABELS if not ignored)
#: the 19 evaluated classes, in train-id order
CITYSCAPES_CLASSES: tuple[str, ...] = tuple(name for _, name, _ in _EVALUATED)
CITYSCAPES_PALETTE = np.array([colour for _, _, colour in _EVALUATED], np.uint8)
#: label id (0..33) -> train id (0..18, or 255 for the labels the benchmark ignores)
CITYSCAPES_ID_TO_TRAINID = np.array([t for _, _, t, _, _ in CITYSCAPES_LABELS], np.uint8)
#: train id (0..18) -> label id, to turn a network's output into a submission
CITYSCAPES_TRAINID_TO_ID = np.array([i for t, i in sorted((t, i) for _, i, t, ign, _ in CITYSCAPES_LABELS
                                                           if not ign)], np.uint8)

_NO_WRITER = ""  # the chapter that adds the loader adds its sample writer
#: the keyword arguments of the registry entries of these datasets (registered by :mod:`course_lib.data.registry`)
DATASETS: tuple[dict, ...] = (
    dict(name="ade20k", title="ADE20K SceneParsing (ADEChallengeData2016, 150 classes)", chapter="3",
         folders=("ADEChallengeData2016", "ade20k_sceneparsing", "ade20k"),
         markers=(("images/", "annotations/validation/"), ("images/", "annotations/training/")),
         note="""\
ADE20K SceneParsing, the MIT Scene Parsing Benchmark (20 210 training and 2 000 validation images, 150 classes).
Get it (no registration): download http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip (about
923 MB; page http://sceneparsing.csail.mit.edu) and unpack it under <data root>/ade20k/, giving
ADEChallengeData2016/{images,annotations}/{training,validation}/ADE_*.{jpg,png} and objectInfo150.txt.
Labels: mode-L PNGs, 0 = "other objects" (ignored), classes 1..150. The full ADE20K (3 000+ classes) is another
release that needs a registration at https://ade20k.csail.mit.edu.
Terms: non-commercial research and education (ADE20K terms of use); the images come from SUN and Places.
Cite: B. Zhou et al., "Scene Parsing through ADE20K Dataset", CVPR 2017.""",
         licence="non-commercial research and education (ADE20K terms of use)",
         citation="Zhou et al., Scene Parsing through ADE20K Dataset, CVPR 2017",
         classes=ADE20K_CLASSES, palette=ADE20K_PALETTE, ignore_index=255,
         label_map=(255, *range(150)), sample_writer=_NO_WRITER),
    dict(name="lip", title="LIP (Look Into Person, single-person parsing)", chapter="4",
         folders=("LIP", "parsing_lip", "lip"), markers=(("TrainVal_images/", "TrainVal_parsing_annotations/"),),
         note="""\
LIP: 30 462 training and 10 000 validation people, 20 labels (0 = background .. 19 = right shoe).
Get it: from https://lip.sysuhcp.com (links to Google Drive and Baidu; the site asks you to agree to its terms),
TrainVal_images.zip and TrainVal_parsing_annotations.zip; unpack both under <data root>/lip/ so that
TrainVal_images/{train,val}_images/<id>.jpg, TrainVal_images/{train,val}_id.txt and
TrainVal_parsing_annotations/{train,val}_segmentations/<id>.png exist (some zips nest one more folder level).
Terms: non-commercial research (SYSU-HCP); the pictures are crops of MS-COCO images.
Cite: K. Gong et al., "Look into Person: Self-supervised Structure-sensitive Learning and a New Benchmark for Human
Parsing", CVPR 2017.""",
         licence="non-commercial research (SYSU-HCP)", citation="Gong et al., Look into Person, CVPR 2017",
         classes=LIP_CLASSES, palette=HUMAN_PARTS_PALETTE, ignore_index=255, sample_writer=_NO_WRITER),
    dict(name="cihp", title="CIHP (Crowd Instance-level Human Parsing)", chapter="4",
         folders=("instance-level_human_parsing", "CIHP", "parsing_cihp", "cihp"),
         markers=(("Training/Category_ids/",), ("Validation/Category_ids/",)),
         note="""\
CIHP: 28 280 training, 5 000 validation and 5 000 test images of crowds, 20 part labels (as LIP, with label 10 =
torso skin) and person instances.
Get it: from https://lip.sysuhcp.com (the CIHP part; Google Drive or Baidu), instance-level_human_parsing.tar.gz;
unpack under <data root>/cihp/ so that instance-level_human_parsing/{Training,Validation}/{Images,Category_ids,
Instance_ids,Human_ids}/ and the *_id.txt lists exist. Scores use Category_ids (0..19; 255 ignored).
Terms: non-commercial research (SYSU-HCP).
Cite: K. Gong et al., "Instance-level Human Parsing via Part Grouping Network", ECCV 2018.""",
         licence="non-commercial research (SYSU-HCP)", citation="Gong et al., Part Grouping Network, ECCV 2018",
         classes=CIHP_CLASSES, palette=HUMAN_PARTS_PALETTE, ignore_index=255, sample_writer=_NO_WRITER),
    dict(name="cityscapes", title="Cityscapes (fine annotations, 19 evaluated classes)", chapter="10",
         folders=("cityscapes", "Cityscapes"), markers=(("gtFine/", "leftImg8bit/"), ("gtFine/val/",)),
         note="""\
Cityscapes cannot be downloaded automatically: it needs a (free) registration.
  1. Register at https://www.cityscapes-dataset.com/register/ and accept the licence (non-commercial use, no
     redistribution), then download gtFine_trainvaltest.zip (241 MB) and leftImg8bit_trainvaltest.zip (11 GB).
  2. Unpack both under <data root>/cityscapes/ giving gtFine/{train,val,test}/<city>/*_gtFine_labelIds.png and
     leftImg8bit/{train,val,test}/<city>/*_leftImg8bit.png.
  3. Scores use the 19 train ids of cityscapesScripts' labels.py; submissions are label ids (0..33).
Cite: M. Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016.""",
         licence="non-commercial use, no redistribution (Cityscapes licence)",
         citation="Cordts et al., The Cityscapes Dataset for Semantic Urban Scene Understanding, CVPR 2016",
         classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE, ignore_index=255,
         label_map=tuple(int(v) for v in CITYSCAPES_ID_TO_TRAINID), sample_writer=_NO_WRITER),
)
