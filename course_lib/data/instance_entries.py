"""The registry entries of Chapter 5 (instance segmentation): MS COCO 2017 instances and Penn-Fudan, kept as data.

Read by :mod:`course_lib.data.registry` (each dict becomes a :class:`course_lib.data.registry.DatasetInfo`), like
:mod:`course_lib.data.matting_entries`. The layouts are read by :mod:`course_lib.data.coco` and
:mod:`course_lib.data.pennfudan`; the synthetic samples are :mod:`course_lib.synthetic.coco` and
:mod:`course_lib.synthetic.pennfudan`. Class index 0 is the background, as torchvision's detection models expect;
``COCO_CATEGORY_IDS[k]`` is the official ``category_id`` of class ``k`` (the 80 ids run from 1 to 90 with gaps).

Example:
    >>> COCO_CLASSES[1], COCO_CATEGORY_IDS[1], COCO_CLASSES[80], COCO_CATEGORY_IDS[80]
    ('person', 1, 'toothbrush', 90)
"""

from __future__ import annotations

__all__ = ["COCO_CATEGORY_IDS", "COCO_CLASSES", "DATASETS", "PENNFUDAN_CLASSES"]

_COCO = """\
1 person|2 bicycle|3 car|4 motorcycle|5 airplane|6 bus|7 train|8 truck|9 boat|10 traffic light|11 fire hydrant|
13 stop sign|14 parking meter|15 bench|16 bird|17 cat|18 dog|19 horse|20 sheep|21 cow|22 elephant|23 bear|24 zebra|
25 giraffe|27 backpack|28 umbrella|31 handbag|32 tie|33 suitcase|34 frisbee|35 skis|36 snowboard|37 sports ball|
38 kite|39 baseball bat|40 baseball glove|41 skateboard|42 surfboard|43 tennis racket|44 bottle|46 wine glass|47 cup|
48 fork|49 knife|50 spoon|51 bowl|52 banana|53 apple|54 sandwich|55 orange|56 broccoli|57 carrot|58 hot dog|59 pizza|
60 donut|61 cake|62 chair|63 couch|64 potted plant|65 bed|67 dining table|70 toilet|72 tv|73 laptop|74 mouse|
75 remote|76 keyboard|77 cell phone|78 microwave|79 oven|80 toaster|81 sink|82 refrigerator|84 book|85 clock|86 vase|
87 scissors|88 teddy bear|89 hair drier|90 toothbrush"""
_PAIRS = [entry.strip().split(" ", 1) for entry in _COCO.replace("\n", "").split("|")]

#: class names: 0 = background, then the 80 COCO "things" in the order of their category ids
COCO_CLASSES: tuple[str, ...] = ("background", *(name for _, name in _PAIRS))
#: the official COCO ``category_id`` of each class index (0 for the background)
COCO_CATEGORY_IDS: tuple[int, ...] = (0, *(int(i) for i, _ in _PAIRS))
#: Penn-Fudan: one object class
PENNFUDAN_CLASSES: tuple[str, ...] = ("background", "pedestrian")

_TOFU = "no checksum is published; the hash of the first complete download is recorded and trusted."

#: keyword arguments of the DatasetInfo of each instance-segmentation dataset
DATASETS: tuple[dict, ...] = (
    dict(
        name="coco", title="MS COCO 2017 instance segmentation", chapter="5",
        folders=("coco", "coco2017", "COCO", "coco2017_instances"),
        markers=(("annotations/instances_val2017.json",), ("annotations/instances_train2017.json",)),
        download_size=1_300_000_000,
        resources=(
            dict(url="http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
                 filename="annotations_trainval2017.zip", note=_TOFU),
            dict(url="http://images.cocodataset.org/zips/val2017.zip", filename="val2017.zip", note=_TOFU),
        ),
        note="""\
MS COCO 2017, instance segmentation ("things"): 118 287 training and 5 000 validation images, 80 categories,
instances as polygons (single objects) or RLE (iscrowd=1 groups). Official layout:
    <root>/annotations/instances_{train,val}2017.json    <root>/{train,val}2017/000000xxxxxx.jpg
Get it: `python -m course_lib.download coco` fetches annotations_trainval2017.zip (241 MB) and val2017.zip (1 GB)
from http://images.cocodataset.org (no checksum is published: the first download's hash is recorded and trusted).
The training images are http://images.cocodataset.org/zips/train2017.zip (18 GB): download and unpack them into
the same folder by hand for a full run. On Kaggle: attach a public COCO 2017 dataset (e.g. awsaf49/coco-2017-dataset)
and pass its folder. Read with course_lib.data.coco.CocoInstances (pycocotools).
Licence: annotations CC BY 4.0; each image keeps its Flickr licence (images[].license in the JSON).
Cite: T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014, arXiv:1405.0312.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.coco).""",
        licence="annotations CC BY 4.0 (COCO Consortium); images under their own Flickr licences",
        citation="Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014, arXiv:1405.0312",
        classes=COCO_CLASSES, kaggle="awsaf49/coco-2017-dataset",
        sample_writer="course_lib.synthetic.coco:write_sample"),

    dict(
        name="pennfudan", title="Penn-Fudan pedestrians (detection and segmentation)", chapter="5",
        folders=("PennFudanPed", "pennfudan"), max_depth=2,
        markers=(("PNGImages/", "PedMasks/"),),
        download_size=110_000_000,
        resources=(dict(url="https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip", filename="PennFudanPed.zip",
                        note=_TOFU),),
        note="""\
Penn-Fudan Database for Pedestrian Detection and Segmentation: 170 images (96 Penn, 74 Fudan) with 345 labelled
pedestrians, the dataset of torchvision's detection fine-tuning tutorial. Official layout (PennFudanPed.zip, 53 MB):
    PennFudanPed/PNGImages/<name>.png    PennFudanPed/PedMasks/<name>_mask.png (0 = background, k = pedestrian k)
    PennFudanPed/Annotation/<name>.txt   (PASCAL Annotation Version 1.00: 1-based inclusive boxes, CRLF lines)
Get it: `python -m course_lib.download pennfudan` fetches https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip
(no checksum is published: the first download's hash is recorded and trusted). Read with
course_lib.data.pennfudan.PennFudan.
Licence: no licence text is published; the page offers the data for research.
Cite: L. Wang, J. Shi, G. Song, I. Shen, "Object Detection Combining Recognition and Segmentation", ACCV 2007.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.pennfudan).""",
        licence="research use (no licence text published)",
        citation="Wang, Shi, Song, Shen, Object Detection Combining Recognition and Segmentation, ACCV 2007",
        classes=PENNFUDAN_CLASSES,
        sample_writer="course_lib.synthetic.pennfudan:write_sample"),
)
