"""Real-time segmentation recipe of Chapter 10: ``bisenetv2-camvid``.

BiSeNet V2 (Yu et al., arXiv 2004.02147, Sec. 4.2) through the semantic segmentation family of Chapter 3
(:class:`course_lib.recipes.context.ContextRecipe`: random scale, crop and flip; one confusion matrix over the split;
the cross-entropy of the main output plus ``aux_weight`` times that of each booster head).

``full`` follows the paper: from scratch (BiSeNet V2 uses no ImageNet weights), SGD with momentum 0.9, weight
decay 5e-4, the poly schedule from 0.05, batches of 16, random scales and flips, booster heads weighted 1.
Departures: the paper's CamVid experiment uses 960x720 frames, the SegNet version the book reads is 480x360, so
crops are the whole 360x480 frame and scales 0.75-2.0; 200 epochs (the paper's 150 K Cityscapes iterations would
be 6 500 CamVid epochs); plain cross-entropy instead of the online hard example mining of the authors' code.

``quick``: half-width branches (``width`` 0.5), 64/32-channel heads, 96x128 crops at about a third of the frame's
scale, 8 epochs, Adam at 1e-2, evaluation at half resolution: the pipeline working, not the paper's accuracy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..data.camvid import CamVid
from ..models.bisenetv2 import BiSeNetV2, bisenetv2
from .context import CONTEXT_FULL, CONTEXT_QUICK, ContextConfig, ContextRecipe

__all__ = ["RealtimeConfig", "realtime_recipes"]


@dataclass(frozen=True)
class RealtimeConfig(ContextConfig):
    """The settings of the BiSeNet V2 recipe (the shared ones: :class:`ContextConfig`).

    Args:
        width: multiplies the branch widths (1.0 = the paper's).
        head_channels: hidden channels of the main head (1024 in the authors' code).
        booster_channels: hidden channels of the four booster heads (128); 0 drops them.
        aux_weight: weight of each booster head's cross-entropy (1.0 in the paper).
    """

    booster_channels: int = 128


def _build(cfg: RealtimeConfig, num_classes: int) -> BiSeNetV2:
    return bisenetv2(num_classes=num_classes, width=cfg.width, head_channels=cfg.head_channels,
                     booster_channels=cfg.booster_channels if cfg.aux_weight > 0 else 0, dropout=cfg.dropout)


_FULL = RealtimeConfig(**{f.name: getattr(CONTEXT_FULL, f.name) for f in dataclasses.fields(ContextConfig)})
_QUICK = RealtimeConfig(**{f.name: getattr(CONTEXT_QUICK, f.name) for f in dataclasses.fields(ContextConfig)})


def realtime_recipes() -> list[ContextRecipe]:
    """The real-time recipe of Chapter 10 (``bisenetv2-camvid``)."""
    full = dataclasses.replace(_FULL, pretrained_backbone=False, lr=0.05, weight_decay=5e-4, width=1.0,
                               head_channels=1024, booster_channels=128, aux_weight=1.0, crop_size=(360, 480),
                               scale_range=(0.75, 2.0), epochs=200)
    quick = dataclasses.replace(_QUICK, width=0.5, head_channels=64, booster_channels=32, aux_weight=1.0,
                                epochs=8, crop_size=(96, 128), scale_range=(0.27, 0.36))
    return [ContextRecipe(
        name="bisenetv2-camvid", chapter="10", dataset="camvid",
        description="BiSeNet V2 (Yu et al. 2021): detail and semantic branches, guided aggregation, booster heads; "
                    "CamVid, from scratch",
        quick=quick, full=full, monitor="miou", splits=("train", "val", "test"), dataset_class=CamVid,
        build_model_fn=_build)]
