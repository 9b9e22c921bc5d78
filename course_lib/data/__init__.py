"""Datasets of the course book: one registry, and one module per dataset that reads its official layout.

Introduced in Chapter 3. :mod:`course_lib.data.registry` describes every dataset (folders, how to recognise its
root, downloads, classes, palette, void label, sample writer); each ``<dataset>.py`` turns the official on-disk
layout into items and a torch ``Dataset`` and does nothing else. Shared pieces: :mod:`.transforms` (joint
augmentation), :mod:`.collate`, :mod:`.cache` (the on-disk cache), :mod:`.splits` (train/val hold-outs).
Finding the data, or writing a synthetic sample when it is absent, is :func:`course_lib.datasets.locate`.

Example:
    >>> from course_lib.data import registry
    >>> registry.get("camvid").num_classes
    11
"""

from __future__ import annotations

from . import registry
from .ade20k import ADE20KSceneParsing
from .ade20k_full import ADE20KFull
from .brats_datasets import BratsPatches, BratsVolumes, load_cached
from .cache import FileCache
from .camvid import CamVid
from .camvid32 import CamVid32
from .chairs import FlyingChairs
from .cityscapes import Cityscapes, KittiSemantic
from .coco import CocoInstances
from .collate import binary_collate, pad_collate
from .common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PairedSegmentationDataset,
    class_weights,
    denormalize,
    label_counts,
    normalize,
)
from .davis import DAVIS
from .flow import FlowAugment, FlowPairDataset, flow_collate
from .instances import InstanceTransforms, detection_collate
from .kitti_flow import KittiFlow
from .kvasir import KvasirSEG
from .label_stats import label_statistics
from .matting import Composition1k, PortraitMatting
from .modelnet import ModelNet
from .parsing import ATR, CIHP, LIP, NoisyLabels, ParsingTransforms, PascalPersonPart
from .pennfudan import PennFudan
from .point_transforms import PointAugment, knn_patches, normalize_to_unit_sphere, rotation_about_axis
from .registry import (
    CAMVID_CLASSES,
    CAMVID_PALETTE,
    KVASIR_CLASSES,
    KVASIR_PALETTE,
    MODELNET40_CLASSES,
    MODELNET40_PALETTE,
    REGISTRY,
    VOC_CLASSES,
    VOC_PALETTE,
    DatasetInfo,
    Resource,
    find_root,
)
from .transforms import KvasirTransforms, SegmentationTransforms
from .video import VideoSequence, video_statistics
from .vistas import Vistas
from .voc import VOCSegmentation
from .youtube import YouTubeVOS, read_vis_json, vis_statistics

__all__ = [
    "CAMVID_CLASSES", "CAMVID_PALETTE", "IMAGENET_MEAN", "IMAGENET_STD", "KVASIR_CLASSES", "KVASIR_PALETTE",
    "MODELNET40_CLASSES", "MODELNET40_PALETTE", "REGISTRY", "VOC_CLASSES", "VOC_PALETTE", "ADE20KFull",
    "ADE20KSceneParsing",
    "BratsPatches", "BratsVolumes", "CamVid", "DatasetInfo", "FlowAugment", "FlowPairDataset", "FlyingChairs",
    "KittiFlow", "KvasirSEG", "KvasirTransforms", "ModelNet", "PairedSegmentationDataset", "PointAugment",
    "Resource", "SegmentationTransforms", "VOCSegmentation", "binary_collate", "class_weights", "denormalize",
    "FileCache", "find_root", "flow_collate", "knn_patches", "label_counts", "load_cached", "normalize", "normalize_to_unit_sphere", "pad_collate", "registry",
    "rotation_about_axis", "Composition1k", "PortraitMatting",
    "DAVIS", "VideoSequence", "YouTubeVOS", "read_vis_json", "video_statistics", "vis_statistics",
    "CocoInstances", "InstanceTransforms", "PennFudan", "detection_collate",  # Chapter 5
    "CamVid32", "Cityscapes", "KittiSemantic", "Vistas", "label_statistics",  # Chapter 10
    "ATR", "CIHP", "LIP", "NoisyLabels", "ParsingTransforms", "PascalPersonPart",  # Chapter 4
]  # fmt: skip
