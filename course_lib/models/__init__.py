"""Models of the course book, one file per architecture (see each module for its chapter and paper)."""

from .ace2p import ACE2P, ace2p
from .backbones import MobileNetV2Backbone, Res2NetBackbone, ResNetBackbone, dilate_mobilenet_v2_, dilate_resnet_
from .bisenetv2 import BiSeNetV2, bisenetv2
from .deeplabv3plus import (
    ASPP,
    DeepLabV3Plus,
    aspp_from_torchvision,
    atrous_receptive_field,
    deeplabv3plus,
    gradient_receptive_field,
    receptive_field,
)
from .dim import DeepImageMatting, dim_vgg16
from .fcn import FCN, fcn8s, fcn16s, fcn32s
from .flow_ops import forward_backward_occlusion, pad_to_multiple, unpad, warp
from .flownet import FlowNetS, flownets
from .maskrcnn import COCO_WEIGHTS, load_coco_weights, maskrcnn, replace_predictors
from .modnet import MODNet, modnet
from .panoptic_fusion import panoptic_fusion
from .pointnet import (
    SHAPENET_PART_CATEGORIES,
    PatchPointNet,
    PointNetClassifier,
    PointNetPartSegmenter,
    TNet,
    critical_points,
    pointnet_cls,
    pointnet_partseg,
    upper_bound_shape,
)
from .pointnet2 import PointNet2Classifier, ball_query, farthest_point_sample, pointnet2_cls
from .pointrend import (
    PointHead,
    PointRendRefiner,
    maskrcnn_point_inputs,
    most_uncertain_points,
    point_sample,
    sample_training_points,
    subdivision_inference,
)
from .pranet import PraNet, pranet
from .pspnet import PSPNet, PyramidPooling, pspnet
from .raft import RAFT, CorrPyramid, find_raft_small_weights, load_raft_weights, raft_small
from .roi_align import mask_targets, roi_align
from .segnet import SegNet, segnet, unpool_demo
from .unet import UNet, unet
from .upsampling import (
    BilinearUpsample,
    bilinear_kernel,
    conv_output_size,
    conv_transpose2d_as_gradient,
    conv_transpose2d_by_hand,
    conv_transpose_output_size,
    coord_map,
    insert_zeros,
    overlap_count,
)
from .vgg import VGG16_WEIGHT_FILES, find_vgg16_weights, stage_ends
from .yolact import Yolact, assemble_masks, crop_masks, fast_nms, yolact
from .yolop import YOLOP, decode_detections, yolop

MODELS = {"fcn32s": fcn32s, "fcn16s": fcn16s, "fcn8s": fcn8s, "unet": unet, "segnet": segnet, "pspnet": pspnet,
          "deeplabv3plus": deeplabv3plus, "pranet": pranet, "dim_vgg16": dim_vgg16, "modnet": modnet,
          "bisenetv2": bisenetv2}


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["ACE2P", "ace2p", "FCN", "fcn8s", "fcn16s", "fcn32s", "UNet", "unet", "BilinearUpsample", "bilinear_kernel",
           "conv_transpose2d_by_hand", "MODELS", "count_parameters",
           # Chapter 6: PointNet, PointNet++
           "SHAPENET_PART_CATEGORIES", "PatchPointNet", "PointNetClassifier", "PointNetPartSegmenter", "TNet",
           "critical_points", "pointnet_cls", "pointnet_partseg", "upper_bound_shape", "PointNet2Classifier",
           "ball_query", "farthest_point_sample", "pointnet2_cls",
           # Chapter 3: transposed convolution by hand, the VGG16 backbone
           "conv_output_size", "conv_transpose2d_as_gradient", "conv_transpose_output_size", "coord_map",
           "insert_zeros", "overlap_count", "VGG16_WEIGHT_FILES", "find_vgg16_weights", "stage_ends",
           # Chapter 9: optical flow
           "FlowNetS", "flownets", "RAFT", "CorrPyramid", "find_raft_small_weights", "load_raft_weights",
           "raft_small", "forward_backward_occlusion", "pad_to_multiple", "unpad", "warp",
           # Chapter 2: image matting
           "DeepImageMatting", "dim_vgg16", "MODNet", "modnet",
           # Chapter 3: SegNet, PSPNet, DeepLabV3+, PraNet and their backbones
           "SegNet", "segnet", "unpool_demo", "PSPNet", "PyramidPooling", "pspnet", "ASPP", "DeepLabV3Plus",
           "deeplabv3plus", "aspp_from_torchvision", "atrous_receptive_field", "receptive_field",
           "gradient_receptive_field", "PraNet", "pranet", "ResNetBackbone", "MobileNetV2Backbone", "Res2NetBackbone",
           "dilate_resnet_", "dilate_mobilenet_v2_",
           # Chapter 10: real-time segmentation
           "BiSeNetV2", "bisenetv2",
           # Chapter 11: panoptic segmentation
           "panoptic_fusion", "YOLOP", "decode_detections", "yolop",
           # Chapter 5: instance segmentation
           "COCO_WEIGHTS", "load_coco_weights", "maskrcnn", "replace_predictors", "PointHead", "PointRendRefiner",
           "maskrcnn_point_inputs", "most_uncertain_points",
           "point_sample", "sample_training_points", "subdivision_inference", "mask_targets", "roi_align", "Yolact",
           "assemble_masks", "crop_masks", "fast_nms", "yolact"]
