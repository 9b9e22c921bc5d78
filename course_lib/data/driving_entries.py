"""The driving datasets of Chapter 10 besides Cityscapes, kept as data: label tables and registry entries.

Read by :mod:`course_lib.data.registry` (each dict of :data:`DATASETS` becomes a ``DatasetInfo``), like
:mod:`course_lib.data.labels` (which holds Cityscapes) and :mod:`course_lib.data.matting_entries`.

- **KITTI semantic** (``data_semantics/training/{image_2,semantic,instance}``): Cityscapes label ids, scored on the
  19 train ids, so its entry borrows Cityscapes' table.
- **CamVid, the original 32 labels** (``701_StillsRaw_full`` + ``LabeledApproved_full``): colour-coded RGB labels;
  :data:`CAMVID32_LABELS` is ``label_colors.txt`` (31 classes and ``Void``, in the file's alphabetical order).
- **Mapillary Vistas**: :data:`VISTAS_V12_LABELS` is the table of ``config_v1.2.json`` (66 labels; 65 evaluated,
  ``void--unlabeled`` = 65 ignored). Version 2.0 (124 labels) is read from its own ``config_v2.0.json`` by
  :mod:`course_lib.data.vistas`.
- **nuScenes**: what it holds and where to put it (no loader: the chapter explains it with a figure).

Example:
    >>> len(CAMVID32_CLASSES), CAMVID32_CLASSES[17], len(VISTAS_V12_CLASSES)
    (31, 'Road', 65)
"""

from __future__ import annotations

import numpy as np

from .labels import CITYSCAPES_CLASSES, CITYSCAPES_ID_TO_TRAINID, CITYSCAPES_PALETTE

__all__ = ["CAMVID32_CLASSES", "CAMVID32_LABELS", "CAMVID32_PALETTE", "CAMVID32_VOID", "DATASETS",
           "VISTAS_V12_CLASSES", "VISTAS_V12_LABELS", "VISTAS_V12_PALETTE"]

#: CamVid's ``label_colors.txt`` (Brostow et al. 2009): (name, colour) of its 32 labels, in the file's order
CAMVID32_LABELS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("Animal", (64, 128, 64)), ("Archway", (192, 0, 128)), ("Bicyclist", (0, 128, 192)), ("Bridge", (0, 128, 64)),
    ("Building", (128, 0, 0)), ("Car", (64, 0, 128)), ("CartLuggagePram", (64, 0, 192)), ("Child", (192, 128, 64)),
    ("Column_Pole", (192, 192, 128)), ("Fence", (64, 64, 128)), ("LaneMkgsDriv", (128, 0, 192)),
    ("LaneMkgsNonDriv", (192, 0, 64)), ("Misc_Text", (128, 128, 64)), ("MotorcycleScooter", (192, 0, 192)),
    ("OtherMoving", (128, 64, 64)), ("ParkingBlock", (64, 192, 128)), ("Pedestrian", (64, 64, 0)),
    ("Road", (128, 64, 128)), ("RoadShoulder", (128, 128, 192)), ("Sidewalk", (0, 0, 192)),
    ("SignSymbol", (192, 128, 128)), ("Sky", (128, 128, 128)), ("SUVPickupTruck", (64, 128, 192)),
    ("TrafficCone", (0, 0, 64)), ("TrafficLight", (0, 64, 64)), ("Train", (192, 64, 128)), ("Tree", (128, 128, 0)),
    ("Truck_Bus", (192, 128, 192)), ("Tunnel", (64, 0, 64)), ("VegetationMisc", (192, 192, 0)),
    ("Void", (0, 0, 0)), ("Wall", (64, 192, 0)),
)  # fmt: skip
#: the label that is not scored
CAMVID32_VOID = "Void"
#: the 31 classes (class index = position), ``label_colors.txt`` without ``Void``
CAMVID32_CLASSES: tuple[str, ...] = tuple(n for n, _ in CAMVID32_LABELS if n != CAMVID32_VOID)
CAMVID32_PALETTE = np.array([c for n, c in CAMVID32_LABELS if n != CAMVID32_VOID], np.uint8)

#: Mapillary Vistas v1.2 (``config_v1.2.json``): (name, readable, colour, has instances, evaluated), label = position
VISTAS_V12_LABELS: tuple[tuple[str, str, tuple[int, int, int], bool, bool], ...] = tuple(
    (name, readable, colour, bool(inst), True) for name, readable, colour, inst in (
        ("animal--bird", "Bird", (165, 42, 42), 1), ("animal--ground-animal", "Ground Animal", (0, 192, 0), 1),
        ("construction--barrier--curb", "Curb", (196, 196, 196), 0),
        ("construction--barrier--fence", "Fence", (190, 153, 153), 0),
        ("construction--barrier--guard-rail", "Guard Rail", (180, 165, 180), 0),
        ("construction--barrier--other-barrier", "Barrier", (90, 120, 150), 0),
        ("construction--barrier--wall", "Wall", (102, 102, 156), 0),
        ("construction--flat--bike-lane", "Bike Lane", (128, 64, 255), 0),
        ("construction--flat--crosswalk-plain", "Crosswalk - Plain", (140, 140, 200), 1),
        ("construction--flat--curb-cut", "Curb Cut", (170, 170, 170), 0),
        ("construction--flat--parking", "Parking", (250, 170, 160), 0),
        ("construction--flat--pedestrian-area", "Pedestrian Area", (96, 96, 96), 0),
        ("construction--flat--rail-track", "Rail Track", (230, 150, 140), 0),
        ("construction--flat--road", "Road", (128, 64, 128), 0),
        ("construction--flat--service-lane", "Service Lane", (110, 110, 110), 0),
        ("construction--flat--sidewalk", "Sidewalk", (244, 35, 232), 0),
        ("construction--structure--bridge", "Bridge", (150, 100, 100), 0),
        ("construction--structure--building", "Building", (70, 70, 70), 0),
        ("construction--structure--tunnel", "Tunnel", (150, 120, 90), 0),
        ("human--person", "Person", (220, 20, 60), 1), ("human--rider--bicyclist", "Bicyclist", (255, 0, 0), 1),
        ("human--rider--motorcyclist", "Motorcyclist", (255, 0, 100), 1),
        ("human--rider--other-rider", "Other Rider", (255, 0, 200), 1),
        ("marking--crosswalk-zebra", "Lane Marking - Crosswalk", (200, 128, 128), 1),
        ("marking--general", "Lane Marking - General", (255, 255, 255), 0),
        ("nature--mountain", "Mountain", (64, 170, 64), 0), ("nature--sand", "Sand", (230, 160, 50), 0),
        ("nature--sky", "Sky", (70, 130, 180), 0), ("nature--snow", "Snow", (190, 255, 255), 0),
        ("nature--terrain", "Terrain", (152, 251, 152), 0), ("nature--vegetation", "Vegetation", (107, 142, 35), 0),
        ("nature--water", "Water", (0, 170, 30), 0), ("object--banner", "Banner", (255, 255, 128), 1),
        ("object--bench", "Bench", (250, 0, 30), 1), ("object--bike-rack", "Bike Rack", (100, 140, 180), 1),
        ("object--billboard", "Billboard", (220, 220, 220), 1),
        ("object--catch-basin", "Catch Basin", (220, 128, 128), 1),
        ("object--cctv-camera", "CCTV Camera", (222, 40, 40), 1),
        ("object--fire-hydrant", "Fire Hydrant", (100, 170, 30), 1),
        ("object--junction-box", "Junction Box", (40, 40, 40), 1), ("object--mailbox", "Mailbox", (33, 33, 33), 1),
        ("object--manhole", "Manhole", (100, 128, 160), 1), ("object--phone-booth", "Phone Booth", (142, 0, 0), 1),
        ("object--pothole", "Pothole", (70, 100, 150), 0),
        ("object--street-light", "Street Light", (210, 170, 100), 1),
        ("object--support--pole", "Pole", (153, 153, 153), 1),
        ("object--support--traffic-sign-frame", "Traffic Sign Frame", (128, 128, 128), 1),
        ("object--support--utility-pole", "Utility Pole", (0, 0, 80), 1),
        ("object--traffic-light", "Traffic Light", (250, 170, 30), 1),
        ("object--traffic-sign--back", "Traffic Sign (Back)", (192, 192, 192), 1),
        ("object--traffic-sign--front", "Traffic Sign (Front)", (220, 220, 0), 1),
        ("object--trash-can", "Trash Can", (140, 140, 20), 1),
        ("object--vehicle--bicycle", "Bicycle", (119, 11, 32), 1),
        ("object--vehicle--boat", "Boat", (150, 0, 255), 1), ("object--vehicle--bus", "Bus", (0, 60, 100), 1),
        ("object--vehicle--car", "Car", (0, 0, 142), 1), ("object--vehicle--caravan", "Caravan", (0, 0, 90), 1),
        ("object--vehicle--motorcycle", "Motorcycle", (0, 0, 230), 1),
        ("object--vehicle--on-rails", "On Rails", (0, 80, 100), 0),
        ("object--vehicle--other-vehicle", "Other Vehicle", (128, 64, 64), 1),
        ("object--vehicle--trailer", "Trailer", (0, 0, 110), 1), ("object--vehicle--truck", "Truck", (0, 0, 70), 1),
        ("object--vehicle--wheeled-slow", "Wheeled Slow", (0, 0, 192), 1),
        ("void--car-mount", "Car Mount", (32, 32, 32), 0), ("void--ego-vehicle", "Ego Vehicle", (120, 10, 10), 0),
    )
) + (("void--unlabeled", "Unlabeled", (0, 0, 0), False, False),)  # fmt: skip
VISTAS_V12_CLASSES: tuple[str, ...] = tuple(readable for _, readable, _, _, ev in VISTAS_V12_LABELS if ev)
VISTAS_V12_PALETTE = np.array([colour for _, _, colour, _, ev in VISTAS_V12_LABELS if ev], np.uint8)

_CITYSCAPES_CITE = "Cordts et al., The Cityscapes Dataset for Semantic Urban Scene Understanding, CVPR 2016"
#: the keyword arguments of the registry entries of these datasets (registered by :mod:`course_lib.data.registry`)
DATASETS: tuple[dict, ...] = (
    dict(name="kitti_semantic", title="KITTI semantic segmentation 2015 (Cityscapes label ids)", chapter="10",
         folders=("data_semantics", "kitti_semantics", "kitti"), up_from=("training", "testing"),
         markers=(("training/image_2/", "training/semantic/"),), max_depth=3,
         note="""\
KITTI semantic and instance segmentation 2015: 200 training and 200 test frames of the KITTI stereo/flow 2015
benchmark, labelled in the Cityscapes label ids (semantic/: 8-bit label ids 0..33; instance/: 16-bit, label id * 256
+ instance number, 0 = no instance); scored on Cityscapes' 19 train ids.
Get it: download data_semantics.zip (about 300 MB) from https://www.cvlibs.net/datasets/kitti/eval_semseg.php
(a free KITTI account is needed) and unpack it under <data root>/kitti_semantics/, giving
data_semantics/{training,testing}/image_2/NNNNNN_10.png and training/{semantic,instance,semantic_rgb}/.
Terms: Creative Commons Attribution-NonCommercial-ShareAlike 3.0 (the KITTI licence).
Cite: H. Alhaija et al., "Augmented Reality Meets Computer Vision", IJCV 2018 (and Geiger et al., CVPR 2012).""",
         licence="Creative Commons Attribution-NonCommercial-ShareAlike 3.0",
         citation="Alhaija et al., Augmented Reality Meets Computer Vision, IJCV 2018; " + _CITYSCAPES_CITE,
         classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE, ignore_index=255,
         label_map=tuple(int(v) for v in CITYSCAPES_ID_TO_TRAINID),
         sample_writer="course_lib.synthetic.driving:write_kitti_semantic_sample"),
    dict(name="camvid32", title="CamVid, the original 32 labels (701 frames, colour-coded labels)", chapter="10",
         folders=("CamVid32", "camvid32", "CamVid", "camvid"),
         markers=(("701_StillsRaw_full/", "LabeledApproved_full/"),), max_depth=3,
         note="""\
CamVid (Cambridge-driving Labeled Video Database): 701 frames of four drives (960x720), each labelled with 32 labels
(31 classes and Void) as colours; label_colors.txt gives the colour of each label.
Get it: from http://mi.eng.cam.ac.uk/research/projects/VideoRec/CamVid/ download 701_StillsRaw_full.zip and
LabeledApproved_full.zip (and label_colors.txt) and unpack them under <data root>/camvid32/, giving
701_StillsRaw_full/<seq>_<frame>.png and LabeledApproved_full/<seq>_<frame>_L.png. The 11-class SegNet version
(the registry's "camvid") is a relabelled, downscaled (480x360) subset with its own train/val/test lists.
Terms: research use; no licence is published for the pictures.
Cite: G. J. Brostow, J. Fauqueur, R. Cipolla, "Semantic object classes in video: A high-definition ground truth
database", Pattern Recognition Letters 30(2), 2009.""",
         licence="research use (no licence published)",
         citation="Brostow, Fauqueur, Cipolla, Semantic object classes in video, Pattern Recognition Letters 2009",
         classes=CAMVID32_CLASSES, palette=CAMVID32_PALETTE, ignore_index=255,
         sample_writer="course_lib.synthetic.driving:write_camvid32_sample"),
    dict(name="vistas", title="Mapillary Vistas (v1.2: 65 classes; v2.0: 124 labels)", chapter="10",
         folders=("mapillary-vistas", "mapillary_vistas", "vistas", "Vistas"),
         markers=(("config_v1.2.json", "training/images/"), ("config_v2.0.json", "training/images/"),
                  ("config_v1.2.json", "validation/images/"), ("config_v2.0.json", "validation/images/")),
         note="""\
Mapillary Vistas: 18 000 training, 2 000 validation and 5 000 test street-level pictures from all over the world,
of many sizes and cameras. Labels: v1.2 has 66 labels (65 evaluated, 65 = unlabeled), v2.0 has 124; both are
palette PNGs whose index is the label (the palette gives the colours), instances 16-bit (label * 256 + instance).
Get it: request the research edition at https://www.mapillary.com/dataset/vistas (a free account; the licence is
CC BY-NC-SA 4.0), download the zip and unpack it under <data root>/vistas/, giving config_v1.2.json,
config_v2.0.json and {training,validation}/{images/*.jpg,v1.2/labels/*.png,v2.0/labels/*.png}.
Cite: G. Neuhold et al., "The Mapillary Vistas Dataset for Semantic Understanding of Street Scenes", ICCV 2017.""",
         licence="CC BY-NC-SA 4.0 (research edition)",
         citation="Neuhold et al., The Mapillary Vistas Dataset for Semantic Understanding of Street Scenes, ICCV 2017",
         classes=VISTAS_V12_CLASSES, palette=VISTAS_V12_PALETTE, ignore_index=255,
         label_map=(*range(len(VISTAS_V12_CLASSES)), 255),
         sample_writer="course_lib.synthetic.driving:write_vistas_sample"),
    dict(name="nuscenes", title="nuScenes (cameras, lidar, radar; lidarseg and panoptic labels)", chapter="10",
         folders=("nuscenes", "nuScenes", "v1.0-mini"), markers=(("v1.0-mini/", "samples/"),
                                                                ("v1.0-trainval/", "samples/")),
         note="""\
nuScenes: 1000 driving scenes of 20 s (Boston, Singapore): 6 cameras, 1 lidar and 5 radars, 3D boxes of 23 classes
at 2 Hz, and (nuScenes-lidarseg / panoptic) a label for every lidar point (32 classes). The v1.0-mini split (10
scenes, about 4 GB) is enough to look around.
Get it: register at https://www.nuscenes.org/nuscenes#download, accept the terms (non-commercial), download
v1.0-mini.tgz and unpack it under <data root>/nuscenes/, giving samples/, sweeps/, maps/ and v1.0-mini/*.json;
pip install nuscenes-devkit reads it (NuScenes(version="v1.0-mini", dataroot=...)).
Cite: H. Caesar et al., "nuScenes: A multimodal dataset for autonomous driving", CVPR 2020.""",
         licence="CC BY-NC-SA 4.0 (nuScenes terms of use)",
         citation="Caesar et al., nuScenes: A multimodal dataset for autonomous driving, CVPR 2020",
         sample_writer=""),
)
