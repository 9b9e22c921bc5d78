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
from .matting import MattingConfig, matting_recipes, predict_alpha
from .pointnet import PointNetConfig, pointnet_recipes
from .pointnet_demos import fit_tnet_alignment, train_outlier_scorer
from .pranet import PraNetConfig, pranet_recipes
from .segmentation import SegmentationConfig, predict
from .unet import UNetConfig, predict_binary, unet_recipes

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

__all__ = ["RECIPES", "Recipe", "RecipeConfig", "TrainResult", "get_recipe", "parse_override", "register",
           # each family's settings class, and the prediction and demo helpers the notebooks call
           "BratsConfig", "FlowConfig", "MattingConfig", "PointNetConfig", "SegmentationConfig", "UNetConfig",
           "fit_tnet_alignment", "predict", "predict_alpha", "predict_binary", "predict_flow", "predict_volume",
           "train_outlier_scorer", "training_memory_estimate", "vgg16_weight_folders",
           # Chapter 3: context models and PraNet
           "ContextConfig", "PraNetConfig"]
