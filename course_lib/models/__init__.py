"""Models of the course book, one file per architecture (see each module for its chapter and paper)."""

from .fcn import FCN, fcn8s, fcn16s, fcn32s
from .unet import UNet, unet
from .upsampling import BilinearUpsample, bilinear_kernel, conv_transpose2d_by_hand

MODELS = {"fcn32s": fcn32s, "fcn16s": fcn16s, "fcn8s": fcn8s, "unet": unet}


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["FCN", "fcn8s", "fcn16s", "fcn32s", "UNet", "unet", "BilinearUpsample", "bilinear_kernel",
           "conv_transpose2d_by_hand", "MODELS", "count_parameters"]
