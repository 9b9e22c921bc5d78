"""Context-model recipes (Chapter 3): ``segnet-camvid``, ``pspnet-camvid``, ``deeplabv3plus-camvid`` and
``deeplabv3plus-ade20k``.

They reuse the semantic segmentation family (:class:`course_lib.recipes.segmentation.SegmentationRecipe`): random
scale, crop and flip for training; evaluation of every image at ``eval_scale`` with the logits upsampled to the
label's size and one confusion matrix over the split (pixel accuracy, mean class accuracy, mIoU, fwIoU). The void
label comes from the registry (CamVid 11; ADE20K's "other", stored as 0, becomes 255 in
:class:`course_lib.data.ADE20KSceneParsing`, so the 150 classes are 0..149). The loss is the cross-entropy of the
main output plus ``aux_weight`` times that of PSPNet's auxiliary head (:class:`course_lib.losses.AuxCrossEntropy`),
with SegNet's median-frequency class weights where ``class_weighting`` asks for them.

``full`` follows the papers (ImageNet backbones through torchvision's weight API, cached in ``$TORCH_HOME``;
offline they train from scratch and ``model.backbone_source`` says so). Departures, model by model:

SegNet (Badrinarayanan et al., arXiv 1511.00561, Sec. 3.3 and 4.1)
    SGD at a fixed rate 0.1, momentum 0.9, batches of 12 whole 360x480 frames, median-frequency balancing, the
    VGG16 encoder from ImageNet (torchvision's VGG16-BN). Departures: random horizontal flips; weight decay 5e-4
    (the authors' ``segnet_solver.prototxt``; the paper names none); the loss is the mean over the non-void pixels
    (Caffe's normalised ``SoftmaxWithLoss``); "until the training loss converges" becomes 100 epochs, and
    ``best.pt`` keeps the epoch of the best validation mIoU, as the paper selects its model on validation.
PSPNet (Zhao et al., arXiv 1612.01105, Sec. 5.1)
    Dilated ResNet-50 at output stride 8, pyramid bins 1/2/3/6, auxiliary loss 0.4 on ``layer3``, SGD with the poly
    policy (power 0.9) from 0.01, momentum 0.9, weight decay 1e-4, batch 16, random scale 0.5-2 and flips.
    Departures: the paper has no CamVid experiment, so the crop is CamVid's whole 360x480 frame and the schedule
    200 epochs (about 4 600 iterations; the paper's 90 K Cityscapes iterations would be 3 900 epochs of CamVid);
    no random rotation or Gaussian blur; torchvision's one-conv ResNet stem instead of the paper's three convs.
DeepLabV3+ (Chen et al., arXiv 1802.02611, Sec. 4; schedule of DeepLabV3, arXiv 1706.05587, Sec. 4)
    Output stride 16 in training and evaluation (ASPP rates 6/12/18, image pooling, 48-channel low-level
    features), poly policy, SGD momentum 0.9, weight decay 1e-4, batch 16, random scale 0.5-2 and flips. CamVid:
    rate 0.01 (the paper's Cityscapes rate), whole 360x480 frames, 200 epochs. ADE20K: rate 0.007 and 513x513
    crops (the paper's PASCAL setting; the paper reports no ADE20K number), 120 epochs (about 150 K iterations,
    PSPNet's ADE20K schedule). Departures: a dilated ResNet-50 instead of the modified Aligned Xception (not in
    torchvision); no evaluation at output stride 8, multi-scale or flipped inputs (single scale, as in the paper's
    ablations); the BatchNorm statistics are fine-tuned throughout.

``quick``: what a 2-core CPU affords on the synthetic samples in about 15-30 s per recipe (measured on an idle
2-core machine: segnet-camvid 15 s, pspnet-camvid 26 s, deeplabv3plus-camvid 25 s, deeplabv3plus-ade20k 14 s):
narrow SegNet (width 1/8), ResNet-18 (PSPNet, output stride 8) and MobileNetV2 (DeepLabV3+, output stride 16)
backbones trained from scratch with narrow heads, small crops at a third to a half of the frame's scale (batches of
4: the pooling branches apply BatchNorm to 1x1 maps, which needs at least 2), Adam at 1e-2 with the poly schedule,
evaluation at half resolution. It shows the pipeline working, not the papers' accuracy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from torch.utils.data import Dataset

from ..data.ade20k import ADE20KSceneParsing
from ..data.camvid import CamVid
from ..data.common import class_weights
from ..losses import AuxCrossEntropy
from ..models.deeplabv3plus import DeepLabV3Plus, deeplabv3plus
from ..models.pspnet import PSPNet, pspnet
from ..models.segnet import SegNet, segnet
from .config import RecipeConfig
from .fcn import vgg16_weight_folders
from .segmentation import SegmentationRecipe

__all__ = ["CONTEXT_FULL", "CONTEXT_QUICK", "ContextConfig", "ContextRecipe", "context_recipes"]


@dataclass(frozen=True)
class ContextConfig(RecipeConfig):
    """The settings of the SegNet, PSPNet and DeepLabV3+ recipes (the shared ones: :class:`RecipeConfig`).

    Args:
        backbone: ``resnet18`` ... ``resnet101`` (PSPNet, DeepLabV3+) or ``mobilenet_v2`` (DeepLabV3+).
        output_stride: 8 (PSPNet's) or 16 (DeepLabV3+'s) for the dilated backbone.
        width: SegNet's channel multiplier (1.0 = the paper's 64 ... 512 channels).
        head_channels: PSPNet's 3x3 conv after the pyramid (512); DeepLabV3+'s ASPP and decoder channels (256).
        low_level_channels: DeepLabV3+'s reduced low-level features (48).
        aux_weight: weight of PSPNet's auxiliary loss on ``layer3`` (0.4); 0 drops the auxiliary head.
        dropout: PSPNet's dropout before its classifiers (0.1).
        pretrained_backbone: ImageNet weights for the backbone (torchvision's weight API; offline: from scratch).
        init_from: a checkpoint whose matching tensors initialise the model (``None``: none).
        crop_size: ``(height, width)`` of the random training crop (padded with void where the image is smaller).
        scale_range: ``(min, max)`` random scale factor applied before the crop.
        color_jitter: ``(brightness, contrast, saturation, hue)`` of the training images, or ``None``.
        class_weighting: ``median_frequency`` (SegNet's class balancing) or ``None``.
        eval_scale: the factor images are resized by before evaluation (logits are scored at the label's size).
    """

    backbone: str = "resnet50"
    output_stride: int = 16
    width: float = 1.0
    head_channels: int = 256
    low_level_channels: int = 48
    aux_weight: float = 0.4
    dropout: float = 0.1
    pretrained_backbone: bool = False
    init_from: str | None = None
    crop_size: tuple[int, int] = (360, 480)
    scale_range: tuple[float, float] = (0.5, 2.0)
    color_jitter: tuple[float, float, float, float] | None = None
    class_weighting: str | None = None
    eval_scale: float = 1.0


#: the papers' shared settings (the model- and dataset-specific ones are set in :func:`context_recipes`)
CONTEXT_FULL = ContextConfig(
    profile="full", pretrained_backbone=True, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
    schedule="poly", batch_size=16, eval_batch_size=4, num_workers=4, epochs=200)
#: what a laptop CPU affords: narrow networks from scratch, small crops, Adam
CONTEXT_QUICK = ContextConfig(
    profile="quick", pretrained_backbone=False, optimizer="adam", lr=1e-2, weight_decay=1e-4, schedule="poly",
    batch_size=4, eval_batch_size=4, num_workers=0, crop_size=(128, 160), scale_range=(0.35, 0.5), eval_scale=0.5)


@dataclass
class ContextRecipe(SegmentationRecipe):
    """A :class:`SegmentationRecipe` whose loss also weighs auxiliary outputs (PSPNet's ``(main, aux)``)."""

    def build_loss(self, cfg: ContextConfig, train_set: Dataset) -> Callable:
        info = self.info
        weight = None
        if cfg.class_weighting == "median_frequency":
            weight = class_weights(train_set, info.num_classes, info.ignore_index).float()
        elif cfg.class_weighting:
            raise ValueError(f"unknown class_weighting {cfg.class_weighting!r}; use 'median_frequency' or null")
        return AuxCrossEntropy(aux_weight=cfg.aux_weight, ignore_index=info.ignore_index, weight=weight)


def _folders(cfg: ContextConfig) -> list:
    return vgg16_weight_folders() if cfg.pretrained_backbone else []


def _build_segnet(cfg: ContextConfig, num_classes: int) -> SegNet:
    return segnet(num_classes=num_classes, width=cfg.width, pretrained_backbone=cfg.pretrained_backbone,
                  weight_folders=_folders(cfg))


def _build_pspnet(cfg: ContextConfig, num_classes: int) -> PSPNet:
    return pspnet(num_classes=num_classes, backbone=cfg.backbone, output_stride=cfg.output_stride,
                  head_channels=cfg.head_channels, aux=cfg.aux_weight > 0, dropout=cfg.dropout,
                  pretrained_backbone=cfg.pretrained_backbone, weight_folders=_folders(cfg))


def _build_deeplabv3plus(cfg: ContextConfig, num_classes: int) -> DeepLabV3Plus:
    return deeplabv3plus(num_classes=num_classes, backbone=cfg.backbone, output_stride=cfg.output_stride,
                         aspp_channels=cfg.head_channels, low_level_channels=cfg.low_level_channels,
                         pretrained_backbone=cfg.pretrained_backbone, weight_folders=_folders(cfg))


_CAMVID_FULL = {"crop_size": (360, 480), "scale_range": (0.5, 2.0)}
_SPECS: list[dict] = [
    {"name": "segnet-camvid", "dataset": "camvid", "build": _build_segnet,
     "description": "SegNet (Badrinarayanan et al. 2017): VGG16-BN encoder, max-pooling indices unpooled in the "
                    "decoder; CamVid, median-frequency balancing",
     "full": {"width": 1.0, "lr": 0.1, "weight_decay": 5e-4, "schedule": "constant", "batch_size": 12,
              "epochs": 100, "crop_size": (360, 480), "scale_range": (1.0, 1.0), "aux_weight": 0.0,
              "class_weighting": "median_frequency"},
     "quick": {"width": 0.125, "epochs": 16, "aux_weight": 0.0, "class_weighting": "median_frequency"}},
    {"name": "pspnet-camvid", "dataset": "camvid", "build": _build_pspnet,
     "description": "PSPNet (Zhao et al. 2017): dilated ResNet-50 (stride 8), pyramid pooling 1/2/3/6, auxiliary "
                    "loss 0.4; CamVid",
     "full": {"backbone": "resnet50", "output_stride": 8, "head_channels": 512, "aux_weight": 0.4, **_CAMVID_FULL},
     "quick": {"backbone": "resnet18", "output_stride": 8, "head_channels": 32, "aux_weight": 0.4, "epochs": 8,
               "crop_size": (96, 128), "scale_range": (0.27, 0.36)}},
    {"name": "deeplabv3plus-camvid", "dataset": "camvid", "build": _build_deeplabv3plus,
     "description": "DeepLabV3+ (Chen et al. 2018): dilated ResNet-50 (stride 16), ASPP 6/12/18, 48-channel "
                    "decoder; CamVid",
     "full": {"backbone": "resnet50", "output_stride": 16, "head_channels": 256, "aux_weight": 0.0,
              **_CAMVID_FULL},
     "quick": {"backbone": "mobilenet_v2", "output_stride": 16, "head_channels": 32, "low_level_channels": 16,
               "aux_weight": 0.0, "epochs": 16}},
    {"name": "deeplabv3plus-ade20k", "dataset": "ade20k", "build": _build_deeplabv3plus,
     "description": "DeepLabV3+ (Chen et al. 2018): dilated ResNet-50 (stride 16), ASPP, decoder; ADE20K "
                    "SceneParsing, 150 classes",
     "full": {"backbone": "resnet50", "output_stride": 16, "head_channels": 256, "aux_weight": 0.0, "lr": 0.007,
              "epochs": 120, "crop_size": (513, 513), "scale_range": (0.5, 2.0), "eval_batch_size": 1},
     "quick": {"backbone": "mobilenet_v2", "output_stride": 16, "head_channels": 32, "low_level_channels": 16,
               "aux_weight": 0.0, "epochs": 14, "crop_size": (96, 128), "scale_range": (0.5, 0.75)}},
]
_DATASETS = {"camvid": (CamVid, ("train", "val", "test")), "ade20k": (ADE20KSceneParsing, ("train", "val"))}


def context_recipes() -> list[ContextRecipe]:
    """The four context-model recipes of Chapter 3."""
    out = []
    for spec in _SPECS:
        dataset_class, splits = _DATASETS[spec["dataset"]]
        out.append(ContextRecipe(
            name=spec["name"], description=spec["description"], chapter="3", dataset=spec["dataset"],
            quick=dataclasses.replace(CONTEXT_QUICK, **spec["quick"]),
            full=dataclasses.replace(CONTEXT_FULL, **spec["full"]),
            monitor="miou", splits=splits, dataset_class=dataset_class, build_model_fn=spec["build"]))
    return out

