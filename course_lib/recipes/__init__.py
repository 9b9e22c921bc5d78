"""The registry of training recipes: ``get_recipe("fcn8s-camvid")``; ``python -m course_lib.train --list``.

Each chapter adds its recipes here. Introduced in Chapter 3.
"""

from __future__ import annotations

from ..registries import Registry
from .base import Recipe, RecipeConfig, TrainResult, parse_override
from .brats import BratsConfig, brats_recipes, predict_volume, training_memory_estimate
from .context import ContextConfig, context_recipes
from .fcn import fcn_recipes, vgg16_weight_folders
from .flow import FlowConfig, flow_recipes, predict_flow
from .frtm import FRTMConfig, frtm_recipes, frtm_segment
from .instance import InstanceConfig, instance_recipes
from .matting import MattingConfig, matting_recipes, predict_alpha
from .panoptic import PanopticConfig, panoptic_recipes, predict_panoptic
from .parsing import ParsingConfig, parsing_recipes, predict_parsing
from .pointnet import PointNetConfig, pointnet_recipes
from .pointnet_demos import fit_tnet_alignment, train_outlier_scorer
from .pranet import PraNetConfig, pranet_recipes
from .realtime import RealtimeConfig, realtime_recipes
from .segmentation import SegmentationConfig, predict
from .unet import UNetConfig, predict_binary, unet_recipes
from .vos import VOSConfig, osvos_segment, segment_sequence, vos_recipes
from .yolact import YolactConfig, yolact_recipes

#: every training recipe, by name (``python -m course_lib.train --list``)
RECIPES: Registry = Registry("recipe")
#: add a :class:`Recipe` (names must be unique)
register = RECIPES.register
#: the recipe called ``name``; an unknown name is a ``KeyError`` listing the known ones
get_recipe = RECIPES.get


for _r in fcn_recipes():
    register(_r)
for _r in flow_recipes():
    register(_r)
for _r in brats_recipes():
    register(_r)
for _r in unet_recipes():
    register(_r)
for _r in pointnet_recipes():
    register(_r)
for _r in matting_recipes():
    register(_r)
for _r in context_recipes():  # Chapter 3: SegNet, PSPNet, DeepLabV3+
    register(_r)
for _r in pranet_recipes():  # Chapter 3: PraNet on Kvasir-SEG
    register(_r)
for _r in instance_recipes():  # Chapter 5: Mask R-CNN on Penn-Fudan and COCO
    register(_r)
for _r in yolact_recipes():  # Chapter 5: YOLACT on COCO
    register(_r)
for _r in realtime_recipes():  # Chapter 10: BiSeNet V2 on CamVid
    register(_r)
for _r in panoptic_recipes():  # Chapter 11: Panoptic FPN on COCO panoptic
    register(_r)
for _r in parsing_recipes():  # Chapter 4: SCHP on LIP, CIHP, ATR, PASCAL-Person-Part
    register(_r)
for _r in vos_recipes():  # Chapter 8: flow propagation and OSVOS on DAVIS
    register(_r)
for _r in frtm_recipes():  # Chapter 8: online target model (FRTM-VOS / LWL) on DAVIS
    register(_r)

__all__ = ["RECIPES", "Recipe", "RecipeConfig", "TrainResult", "get_recipe", "parse_override", "register",
           # each family's settings class, and the prediction and demo helpers the notebooks call
           "BratsConfig", "FlowConfig", "MattingConfig", "PointNetConfig", "SegmentationConfig", "UNetConfig",
           "fit_tnet_alignment", "predict", "predict_alpha", "predict_binary", "predict_flow", "predict_volume",
           "train_outlier_scorer", "training_memory_estimate", "vgg16_weight_folders",
           # Chapter 3: context models and PraNet
           "ContextConfig", "PraNetConfig",
           # Chapter 5: instance segmentation
           "InstanceConfig", "YolactConfig",
           # Chapter 10: real-time segmentation
           "RealtimeConfig",
           # Chapter 11: panoptic segmentation
           "PanopticConfig", "predict_panoptic",
           # Chapter 4: human parsing
           "ParsingConfig", "predict_parsing",
           # Chapter 8: video object segmentation
           "VOSConfig", "osvos_segment", "segment_sequence", "FRTMConfig", "frtm_segment"]
