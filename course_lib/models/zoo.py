"""The model zoo of Chapter 3: one builder call per runnable model of the lecture's list, from wherever it runs.

Introduced in Chapter 3 (the zoo benchmark, ``benchmarks/seg_zoo.py``; the static facts of every model, runnable
or not, are in ``course_lib/results/zoo.yaml``, read by :func:`course_lib.results.zoo.load_zoo`). A
:class:`ZooVariant` names a model, the package it comes from and the call that builds it:

- ``course_lib``: this book's implementations (:mod:`course_lib.models`);
- ``torchvision``: ``torchvision.models.segmentation`` (FCN-ResNet50, DeepLabV3, LR-ASPP);
- ``segmentation-models-pytorch``: ``smp.<Arch>(encoder_name=..., encoder_weights=None)``;
- ``pytorchcv``: ``pytorchcv.model_provider.get_model(name, pretrained=False)`` (osmr's MIT-licensed
  re-implementations of ENet, ICNet, BiSeNet, DANet, CGNet, LEDNet, Fast-SCNN).

Every network is built with random weights (no download: ``weights=None``, ``encoder_weights=None``,
``pretrained=False``), without auxiliary heads, and wrapped in :class:`ZooNet`, which pads the input to the multiple
the network needs, returns the main output only (a tensor, whatever the package returns) and crops it back to
the input size. The optional packages are imported only when a variant of theirs is built;
:func:`unavailable_reason` says what is missing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SOURCES", "VARIANTS", "ZooNet", "ZooVariant", "build_variant", "main_output", "round_up",
           "unavailable_reason"]

#: the packages a zoo model can come from, and the module each needs
SOURCES = {"course_lib": "course_lib", "torchvision": "torchvision",
           "segmentation-models-pytorch": "segmentation_models_pytorch", "pytorchcv": "pytorchcv"}


def main_output(outputs: Any) -> torch.Tensor:
    """The main logits of a model's output: the tensor itself, the first of a tuple (``(main, aux, ...)``) or
    torchvision's ``out`` entry.

    Example:
        >>> main_output({"out": torch.zeros(1), "aux": torch.ones(1)}).item()
        0.0
    """
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict) and "out" in outputs:
        return outputs["out"]
    if isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], torch.Tensor):
        return outputs[0]
    raise TypeError(f"cannot find the main output in a {type(outputs).__name__}")


def round_up(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """``size`` with both sides rounded up to a multiple of ``multiple``.

    Example:
        >>> round_up((360, 480), 32)
        (384, 480)
    """
    return (-(-size[0] // multiple) * multiple, -(-size[1] // multiple) * multiple)


class ZooNet(nn.Module):
    """A segmentation network behind one interface: ``[N, 3, H, W]`` in, ``[N, K, H, W]`` logits out.

    The input is padded at the bottom and right with zeros (the mean colour after normalisation) to a multiple of
    ``multiple``; the main output is resized to the padded size when the network returns a smaller map, and cropped
    back to ``H x W``.

    Args:
        net: the wrapped network.
        multiple: the padded input's height and width are multiples of this (1: no padding).

    Example:
        >>> net = ZooNet(nn.Conv2d(3, 4, 3, stride=2, padding=1), multiple=8)
        >>> net(torch.zeros(1, 3, 13, 21)).shape
        torch.Size([1, 4, 13, 21])
    """

    def __init__(self, net: nn.Module, multiple: int = 1):
        super().__init__()
        if multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {multiple}")
        self.net, self.multiple = net, multiple

    def padded_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size the wrapped network sees for an input of ``size``."""
        return round_up(size, self.multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = self.padded_size((h, w))
        if (ph, pw) != (h, w):
            x = F.pad(x, (0, pw - w, 0, ph - h))
        y = main_output(self.net(x))
        if tuple(y.shape[-2:]) != (ph, pw):
            y = F.interpolate(y, size=(ph, pw), mode="bilinear", align_corners=False)
        return y[..., :h, :w]


@dataclass(frozen=True)
class ZooVariant:
    """One runnable model of the zoo: where it comes from and how it is built.

    Args:
        key: the name used on the command line (``--models``), e.g. ``"deeplabv3-resnet50"``.
        model: the lecture's name of the model, e.g. ``"DeepLabv3"`` (the row of ``zoo.yaml`` it belongs to).
        source: a key of :data:`SOURCES`.
        name: the builder's own name in its package (``"deeplabv3_resnet50"``, ``"enet_cityscapes"``,
            ``"DeepLabV3Plus"``, or a key of :data:`course_lib.models.MODELS`).
        kwargs: further keyword arguments of the builder (plain data).
        multiple: the input is padded to a multiple of this.
        fixed_size: the network is built for one input size (training crops must have the evaluation size).
    """

    key: str
    model: str
    source: str
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    multiple: int = 1
    fixed_size: bool = False

    def input_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size the network itself sees for an input of ``size`` (padded to :attr:`multiple`)."""
        return round_up(size, self.multiple)

    def call(self, num_classes: int = 11, size: tuple[int, int] = (360, 480)) -> str:
        """The builder call, as text (for the table): what :meth:`build` runs."""
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs(num_classes, size).items())
        prefix = {"course_lib": "course_lib.models.", "torchvision": "torchvision.models.segmentation.",
                  "segmentation-models-pytorch": "segmentation_models_pytorch.",
                  "pytorchcv": "pytorchcv.model_provider.get_model"}[self.source]
        if self.source == "pytorchcv":
            return f"{prefix}({self.name!r}, {args})"
        return f"{prefix}{self.name}({args})"

    def _kwargs(self, num_classes: int, size: tuple[int, int]) -> dict[str, Any]:
        if self.source == "course_lib":
            return {"num_classes": num_classes, **self.kwargs}
        if self.source == "torchvision":
            return {"weights": None, "weights_backbone": None, "num_classes": num_classes, **self.kwargs}
        if self.source == "segmentation-models-pytorch":
            return {"encoder_weights": None, "classes": num_classes, **self.kwargs}
        if self.source == "pytorchcv":
            return {"pretrained": False, "num_classes": num_classes, "in_size": self.input_size(size), "aux": False,
                    "fixed_size": self.fixed_size, **self.kwargs}
        raise ValueError(f"zoo variant {self.key!r}: unknown source {self.source!r}; choose one of {list(SOURCES)}")

    def build(self, num_classes: int, size: tuple[int, int] = (360, 480)) -> ZooNet:
        """The network with random weights, wrapped in :class:`ZooNet` (``size``: the input size it will see,
        needed by networks built for a fixed size)."""
        reason = unavailable_reason(self)
        if reason:
            raise ImportError(f"zoo model {self.key!r}: {reason}")
        kwargs = self._kwargs(num_classes, size)
        if self.source == "course_lib":
            from . import MODELS

            net = MODELS[self.name](**kwargs)
        elif self.source == "torchvision":
            import torchvision

            net = getattr(torchvision.models.segmentation, self.name)(**kwargs)
        elif self.source == "segmentation-models-pytorch":
            smp = importlib.import_module("segmentation_models_pytorch")
            net = getattr(smp, self.name)(**kwargs)
        else:
            provider = importlib.import_module("pytorchcv.model_provider")
            net = provider.get_model(self.name, **kwargs)
        return ZooNet(net, self.multiple)


def unavailable_reason(variant: ZooVariant) -> str | None:
    """Why ``variant`` cannot be built here (its package is missing), or ``None`` when it can."""
    module = SOURCES.get(variant.source)
    if module is None:
        return f"unknown source {variant.source!r}"
    try:
        importlib.import_module(module)
    except ImportError as err:
        return f"{variant.source} is not installed (pip install {variant.source}): {err}"
    return None


def _v(key: str, model: str, source: str, name: str, multiple: int = 1, fixed_size: bool = False,
       **kwargs: Any) -> ZooVariant:
    return ZooVariant(key, model, source, name, kwargs, multiple, fixed_size)


#: every runnable variant, by key; ``model`` is the lecture's name (a row of ``course_lib/results/zoo.yaml``)
VARIANTS: dict[str, ZooVariant] = {v.key: v for v in [
    _v("fcn8s-vgg16", "FCN", "course_lib", "fcn8s", width=1.0, batch_norm=True, padding="paper"),
    _v("fcn-resnet50", "FCN", "torchvision", "fcn_resnet50", aux_loss=False),
    _v("enet", "ENet", "pytorchcv", "enet_cityscapes", multiple=8),
    _v("pspnet-resnet50", "PSPNet", "course_lib", "pspnet", backbone="resnet50", output_stride=8, aux=False),
    _v("icnet-resnet50", "ICNet", "pytorchcv", "icnet_resnetd50b_cityscapes", multiple=32),
    _v("deeplabv3-resnet50", "DeepLabv3", "torchvision", "deeplabv3_resnet50", aux_loss=False),
    _v("deeplabv3-mobilenetv3", "DeepLabv3", "torchvision", "deeplabv3_mobilenet_v3_large", aux_loss=False),
    _v("deeplabv3plus-resnet50", "DeepLabv3+", "course_lib", "deeplabv3plus", backbone="resnet50",
       output_stride=16),
    _v("deeplabv3plus-mobilenetv2", "DeepLabv3+", "course_lib", "deeplabv3plus", backbone="mobilenet_v2",
       output_stride=16),
    _v("deeplabv3plus-smp-resnet50", "DeepLabv3+", "segmentation-models-pytorch", "DeepLabV3Plus", multiple=16,
       encoder_name="resnet50"),
    _v("bisenet-resnet18", "BiSeNet", "pytorchcv", "bisenet_resnet18_celebamaskhq", multiple=32, fixed_size=True),
    _v("danet-resnet50", "DANet", "pytorchcv", "danet_resnetd50b_cityscapes", multiple=8),
    _v("cgnet", "CGNet", "pytorchcv", "cgnet_cityscapes", multiple=8),
    _v("lednet", "LEDNet", "pytorchcv", "lednet_cityscapes", multiple=64),
    _v("fast-scnn", "Fast-SCNN", "pytorchcv", "fastscnn_cityscapes", multiple=32),
    # not in the lecture's list, measured beside it: the chapter's SegNet and torchvision's mobile model
    _v("segnet-vgg16", "SegNet", "course_lib", "segnet", width=1.0),
    _v("lraspp-mobilenetv3", "LR-ASPP", "torchvision", "lraspp_mobilenet_v3_large"),
]}


def build_variant(key: str, num_classes: int, size: tuple[int, int] = (360, 480)) -> ZooNet:
    """Build the zoo model ``key`` (a key of :data:`VARIANTS`) with random weights.

    Example:
        >>> net = build_variant("lraspp-mobilenetv3", num_classes=11).eval()
        >>> net(torch.zeros(1, 3, 72, 96)).shape
        torch.Size([1, 11, 72, 96])
    """
    if key not in VARIANTS:
        raise KeyError(f"unknown zoo model {key!r}; choose one of {sorted(VARIANTS)}")
    return VARIANTS[key].build(num_classes, size)
