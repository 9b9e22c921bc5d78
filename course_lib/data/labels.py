"""Label sets of the scene-parsing, human-parsing and driving benchmarks: class names, palettes, label tables.

Data only, read by :mod:`course_lib.data.registry` (the entries ``ade20k``, ``ade20k_full``, ``lip``, ``cihp``,
``cityscapes``) and by ``python -m course_lib.score semantic``. Introduced for Chapters 3, 4 and 10.

- **ADE20K SceneParsing** (``ADEChallengeData2016``): label PNGs hold 0..150; 0 is "other objects" and is ignored,
  the 150 classes are the values 1..150 (``objectInfo150.txt``: :data:`ADE20K_NAMES` are its names,
  :data:`ADE20K_CLASSES` the first name of each). The **full ADE20K release** (3 688 classes) maps to them by
  :data:`ADE20K_FULL_INDICES`, the table of the benchmark's ``convertFromADE/mapFromADE.txt``.
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
    "ADE20K_CLASSES", "ADE20K_FULL_INDICES", "ADE20K_NAMES", "ADE20K_PALETTE", "CIHP_CLASSES", "CITYSCAPES_CLASSES",
    "CITYSCAPES_ID_TO_TRAINID",
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
#: the names of the 150 classes as ``objectInfo150.txt`` writes them (synonyms separated by ", "), label values 1..150
ADE20K_NAMES: tuple[str, ...] = (
    "wall", "building, edifice", "sky", "floor, flooring", "tree", "ceiling", "road, route", "bed",
    "windowpane, window", "grass", "cabinet", "sidewalk, pavement",
    "person, individual, someone, somebody, mortal, soul", "earth, ground", "door, double door", "table",
    "mountain, mount", "plant, flora, plant life", "curtain, drape, drapery, mantle, pall", "chair",
    "car, auto, automobile, machine, motorcar", "water", "painting, picture", "sofa, couch, lounge", "shelf",
    "house", "sea", "mirror", "rug, carpet, carpeting", "field", "armchair", "seat", "fence, fencing", "desk",
    "rock, stone", "wardrobe, closet, press", "lamp", "bathtub, bathing tub, bath, tub", "railing, rail", "cushion",
    "base, pedestal, stand", "box", "column, pillar", "signboard, sign", "chest of drawers, chest, bureau, dresser",
    "counter", "sand", "sink", "skyscraper", "fireplace, hearth, open fireplace", "refrigerator, icebox",
    "grandstand, covered stand", "path", "stairs, steps", "runway", "case, display case, showcase, vitrine",
    "pool table, billiard table, snooker table", "pillow", "screen door, screen", "stairway, staircase", "river",
    "bridge, span", "bookcase", "blind, screen", "coffee table, cocktail table",
    "toilet, can, commode, crapper, pot, potty, stool, throne", "flower", "book", "hill", "bench", "countertop",
    "stove, kitchen stove, range, kitchen range, cooking stove", "palm, palm tree", "kitchen island",
    "computer, computing machine, computing device, data processor, electronic computer, information processing system",
    "swivel chair", "boat", "bar", "arcade machine", "hovel, hut, hutch, shack, shanty",
    "bus, autobus, coach, charabanc, double-decker, jitney, motorbus, motorcoach, omnibus, passenger vehicle",
    "towel", "light, light source", "truck, motortruck", "tower", "chandelier, pendant, pendent",
    "awning, sunshade, sunblind", "streetlight, street lamp", "booth, cubicle, stall, kiosk",
    "television, television receiver, television set, tv, tv set, idiot box, boob tube, telly, goggle box",
    "airplane, aeroplane, plane", "dirt track", "apparel, wearing apparel, dress, clothes", "pole",
    "land, ground, soil", "bannister, banister, balustrade, balusters, handrail",
    "escalator, moving staircase, moving stairway", "ottoman, pouf, pouffe, puff, hassock", "bottle",
    "buffet, counter, sideboard", "poster, posting, placard, notice, bill, card", "stage", "van", "ship",
    "fountain", "conveyer belt, conveyor belt, conveyer, conveyor, transporter", "canopy",
    "washer, automatic washer, washing machine", "plaything, toy", "swimming pool, swimming bath, natatorium",
    "stool", "barrel, cask", "basket, handbasket", "waterfall, falls", "tent, collapsible shelter", "bag",
    "minibike, motorbike", "cradle", "oven", "ball", "food, solid food", "step, stair", "tank, storage tank",
    "trade name, brand name, brand, marque", "microwave, microwave oven", "pot, flowerpot",
    "animal, animate being, beast, brute, creature, fauna", "bicycle, bike, wheel, cycle", "lake",
    "dishwasher, dish washer, dishwashing machine", "screen, silver screen, projection screen", "blanket, cover",
    "sculpture", "hood, exhaust hood", "sconce", "vase", "traffic light, traffic signal, stoplight", "tray",
    "ashcan, trash can, garbage can, wastebin, ash bin, ash-bin, ashbin, dustbin, trash barrel, trash bin", "fan",
    "pier, wharf, wharfage, dock", "crt screen", "plate", "monitor, monitoring device",
    "bulletin board, notice board", "shower", "radiator", "glass, drinking glass", "clock", "flag",
)  # fmt: skip
#: for each of the 150 classes (label values 1..150), the class indices of the full ADE20K release mapped to it
#: (``_seg.png``'s R/10*256+G, the JSON's ``name_ndx``); the table of CSAILVision/sceneparsing's
#: ``convertFromADE/mapFromADE.txt`` (153 indices: "door" and "double door", "lamp" twice, "light" twice). Every
#: other full-release class is "other objects" (0) in SceneParsing.
ADE20K_FULL_INDICES: tuple[tuple[int, ...], ...] = (
    (2978,), (312,), (2420,), (976,), (2855,), (447,), (2131,), (165,), (3055,), (1125,), (350,), (2377,), (1831,),
    (838,), (774, 783), (2684,), (1610,), (1910,), (687,), (471,), (401,), (2994,), (1735,), (2473,), (2329,),
    (1276,), (2264,), (1564,), (2178,), (913,), (57,), (2272,), (907,), (724,), (2138,), (2985, 533), (1395,),
    (155,), (2053,), (689,), (137,), (266,), (581,), (2380,), (491,), (627,), (2212,), (2388,), (2423,), (943,),
    (2096,), (1121,), (1788,), (2530,), (2185,), (420,), (1948,), (1869,), (2251,), (2531,), (2128,), (294,),
    (239,), (212,), (571,), (2793,), (978,), (236,), (1240,), (181,), (629,), (2598,), (1744,), (1374,), (591,),
    (2679,), (223,), (123,), (47,), (1282,), (327,), (2821,), (1451,), (2880,), (2828,), (480,), (77,), (2616,),
    (246, 247), (2733,), (14,), (738,), (38,), (1936,), (1401,), (120,), (868,), (1702,), (249,), (308,), (1969,),
    (2526,), (2928,), (2337,), (1023,), (609,), (389,), (2989,), (1930,), (2668,), (2586,), (131,), (146,), (3016,),
    (2739,), (95,), (1563,), (642,), (1708,), (103,), (1002,), (2569,), (2704,), (2833,), (1551,), (1981,), (29,),
    (187,), (1393,), (747,), (2254,), (206,), (2262,), (1260,), (2243,), (2932,), (2836,), (2850,), (64,), (894,),
    (1858,), (3109,), (1919,), (1583,), (318,), (2356,), (2046,), (1098,), (530,), (954,),
)  # fmt: skip

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
         label_map=(255, *range(150)), sample_writer="course_lib.synthetic.ade20k:write_sample"),
    dict(name="ade20k_full", title="ADE20K full release (ADE20K_2021_17_01: objects, parts, instances)", chapter="3",
         folders=("ADE20K_2021_17_01", "ade20k_full", "ADE20K"),
         markers=(("images/ADE/training/",), ("images/ADE/validation/",)), max_depth=3,
         note="""\
ADE20K, the full release ADE20K_2021_17_01: 25 574 training and 2 000 validation images, 3 688 object classes, parts
(and parts of parts) and amodal instance masks, with the annotators' polygons in one JSON per image.
Get it: it needs a (free) registration. Register at https://ade20k.csail.mit.edu (request page
https://ade20k.csail.mit.edu/request_data/), accept the terms of use, download ADE20K_2021_17_01.zip and unpack it
under <data root>/ade20k_full/, giving ADE20K_2021_17_01/images/ADE/{training,validation}/<scene group>/<scene>/
ADE_*.{jpg,json} with *_seg.png, *_parts_N.png and one folder of instance masks per image, plus index_ade20k.pkl
and objects.txt at the top. The loader maps the classes to the 150 SceneParsing classes (the rest are ignored).
Terms: non-commercial research and education (ADE20K terms of use); the images come from SUN and Places.
Cite: B. Zhou et al., "Semantic Understanding of Scenes through the ADE20K Dataset", IJCV 127(3), 2019.""",
         licence="non-commercial research and education (ADE20K terms of use)",
         citation="Zhou et al., Semantic Understanding of Scenes through the ADE20K Dataset, IJCV 127(3), 2019",
         classes=ADE20K_CLASSES, palette=ADE20K_PALETTE, ignore_index=255,
         sample_writer="course_lib.synthetic.ade20k:write_full_sample"),
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
         classes=LIP_CLASSES, palette=HUMAN_PARTS_PALETTE, ignore_index=255,
         sample_writer="course_lib.synthetic.parsing:write_lip_sample"),
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
         classes=CIHP_CLASSES, palette=HUMAN_PARTS_PALETTE, ignore_index=255,
         sample_writer="course_lib.synthetic.parsing:write_cihp_sample"),
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
         label_map=tuple(int(v) for v in CITYSCAPES_ID_TO_TRAINID),
         sample_writer="course_lib.synthetic.driving:write_cityscapes_sample"),
)
