"""Deep Image Matting (Xu, Price, Cohen & Huang, "Deep Image Matting", CVPR 2017, arXiv 1703.03872).

Introduced in Chapter 2. Two stages:

1. **Encoder-decoder.** The input is the image and its trimap concatenated into 4 channels. The encoder is VGG16's
   13 convolutions and 5 max-poolings plus ``fc6`` made convolutional (7x7, 4096 channels): 14 convolutions, as the
   paper counts them. The decoder is smaller: a 1x1 convolution (``deconv6``), then five times *unpooling* (each
   pooling's argmax indices, kept from the encoder, put every value back where its maximum came from,
   :class:`torch.nn.MaxUnpool2d`) followed by a 5x5 convolution, and a final 5x5 convolution with a sigmoid: the
   raw alpha matte ``alpha_raw``. Unpooling rather than learned upsampling carries the encoder's *where* into the
   decoder, which keeps thin structures such as hair in place.
2. **Refinement.** The image and ``alpha_raw`` (4 channels) go through 4 small 3x3 convolutions (ReLU after the
   first three); the output is a *residual* added to ``alpha_raw`` and clamped to ``[0, 1]``: ``alpha``. It sharpens
   edges that the encoder-decoder, working through 5 poolings, blurs.

ImageNet weights: the encoder starts from VGG16 (torchvision's ``VGG16_Weights.IMAGENET1K_V1``, with ``fc6`` from the
classifier's first layer reshaped to 7x7); the trimap's 4th input channel has no ImageNet counterpart and its
weights start at **zero**, so the loaded network initially sees the image exactly as VGG16 did. With
``width < 64`` (the book's quick profile) every layer is narrower and the network is trained from scratch.

Choices the paper leaves open or that differ from it: inputs are ``[0, 1]`` images normalised inside the model with
ImageNet's mean and standard deviation (what torchvision's VGG16 weights expect); ``batch_norm=True`` adds BatchNorm
after every convolution of the encoder and the decoder except ``fc6`` (not in the paper; it helps the narrow quick
network train from scratch); the last refinement convolution starts at zero, so training starts from
``alpha == alpha_raw``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .vgg import load_vgg16_weights, make_vgg_features, stage_ends, vgg16_weight_source

__all__ = ["DeepImageMatting", "dim_vgg16", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_block(cin: int, cout: int, kernel: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=kernel // 2)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _split_input(image: torch.Tensor, trimap: torch.Tensor | None, who: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image [N,3,H,W], trimap [N,1,H,W])`` from the two tensors or from one ``[N, 4, H, W]`` tensor."""
    if trimap is None:
        if image.dim() != 4 or image.shape[1] != 4:
            raise ValueError(f"{who} expects image [N, 3, H, W] and trimap [N, 1, H, W], or one [N, 4, H, W] tensor "
                             f"(image and trimap concatenated); got one tensor of shape {tuple(image.shape)}")
        return image[:, :3], image[:, 3:]
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"{who} expects an image batch [N, 3, H, W], got shape {tuple(image.shape)}")
    if trimap.dim() == 3:
        trimap = trimap[:, None]
    if trimap.shape[1] != 1 or trimap.shape[0] != image.shape[0] or trimap.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"{who}: trimap of shape {tuple(trimap.shape)} does not fit the image "
                         f"{tuple(image.shape)}; expected [N, 1, H, W]")
    return image, trimap.to(image.dtype)


class DeepImageMatting(nn.Module):
    """The DIM encoder-decoder (VGG16 encoder, unpooling decoder) and its refinement stage.

    Args:
        width: channels of the first VGG stage (64 in the paper); every other layer scales with ``width / 64``.
        fc6_channels: channels of the convolutional ``fc6`` (4096 in the paper); ``None``: ``4096 * width / 64``.
        batch_norm: BatchNorm after every encoder-decoder convolution (not in the paper).
        refine: add the refinement stage; without it ``alpha`` is ``alpha_raw``.
        refine_channels: channels of the refinement's three hidden convolutions (64 in the paper); ``None``:
            ``64 * width / 64``.
        normalize: normalise the ``[0, 1]`` image with ImageNet's mean and standard deviation inside the model.

    ``forward(image, trimap)`` takes ``image`` ``[N, 3, H, W]`` in ``[0, 1]`` and ``trimap`` ``[N, 1, H, W]`` with
    values 0 (background), 0.5 (unknown) and 1 (foreground), or a single ``[N, 4, H, W]`` tensor holding both (the
    form the shared training loop passes). ``H`` and ``W`` should be multiples of 32 (pad first, see
    :func:`course_lib.recipes.matting.predict_alpha`). Returns ``{"alpha_raw": [N, 1, H, W], "alpha": [N, 1, H, W]}``.

    Example:
        >>> model = DeepImageMatting(width=8, fc6_channels=16)
        >>> out = model(torch.rand(2, 3, 64, 64), torch.full((2, 1, 64, 64), 0.5))
        >>> tuple(out["alpha"].shape), tuple(out["alpha_raw"].shape)
        ((2, 1, 64, 64), (2, 1, 64, 64))
    """

    #: the network takes a trimap (prediction copies the trimap's known pixels into the matte)
    uses_trimap = True

    def __init__(self, *, width: int = 64, fc6_channels: int | None = None, batch_norm: bool = False,
                 refine: bool = True, refine_channels: int | None = None, normalize: bool = True):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        scale = width / 64
        self.width = width
        self.normalize = normalize
        self.features = make_vgg_features(scale, batch_norm, first_padding=1, in_channels=4)
        for m in self.features:
            if isinstance(m, nn.MaxPool2d):
                m.return_indices = True  # the decoder unpools with them
        ends = stage_ends(self.features)
        self._stages = list(zip([0] + ends[:-1], ends, strict=True))
        # channels of each stage's last conv: the unpooling of that stage needs a decoder map of the same width
        self.stage_channels = [next(m.out_channels for m in reversed(self.features[:e]) if isinstance(m, nn.Conv2d))
                               for e in ends]
        fc6 = fc6_channels or max(8, int(round(4096 * scale)))
        self.fc6 = nn.Conv2d(self.stage_channels[-1], fc6, 7, padding=3)
        c1, c2, c3, c4, c5 = self.stage_channels
        self.deconv6 = _conv_block(fc6, c5, 1, batch_norm)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.deconv5 = _conv_block(c5, c4, 5, batch_norm)
        self.deconv4 = _conv_block(c4, c3, 5, batch_norm)
        self.deconv3 = _conv_block(c3, c2, 5, batch_norm)
        self.deconv2 = _conv_block(c2, c1, 5, batch_norm)
        self.deconv1 = _conv_block(c1, c1, 5, batch_norm)
        self.pred = nn.Conv2d(c1, 1, 5, padding=2)
        self.refine = None
        if refine:
            rc = refine_channels or max(8, int(round(64 * scale)))
            self.refine = nn.Sequential(
                nn.Conv2d(4, rc, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(rc, rc, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(rc, rc, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(rc, 1, 3, padding=1))
            nn.init.zeros_(self.refine[-1].weight)
            nn.init.zeros_(self.refine[-1].bias)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.backbone_source: str | None = None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Size]]:
        """The encoder on the 4-channel input: ``(fc6 output, pooling indices, pre-pooling sizes)``, stage 1 first."""
        indices, sizes = [], []
        for start, end in self._stages:
            for layer in self.features[start:end - 1]:
                x = layer(x)
            sizes.append(x.shape[-2:])
            x, idx = self.features[end - 1](x)
            indices.append(idx)
        return F.relu(self.fc6(x)), indices, sizes

    def decode(self, x: torch.Tensor, indices: Sequence[torch.Tensor], sizes: Sequence[torch.Size]) -> torch.Tensor:
        """The unpooling decoder: alpha logits ``[N, 1, H, W]`` from the encoder's output, indices and sizes."""
        x = self.deconv6(x)
        for conv, idx, size in zip((self.deconv5, self.deconv4, self.deconv3, self.deconv2, self.deconv1),
                                   reversed(indices), reversed(sizes), strict=True):
            x = conv(self.unpool(x, idx, output_size=size))
        return self.pred(x)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        image, trimap = _split_input(image, trimap, "DeepImageMatting")
        img = (image - self.mean) / self.std if self.normalize else image
        h, indices, sizes = self.encode(torch.cat([img, trimap], 1))
        alpha_raw = torch.sigmoid(self.decode(h, indices, sizes))
        if self.refine is None:
            return {"alpha_raw": alpha_raw, "alpha": alpha_raw}
        residual = self.refine(torch.cat([img, alpha_raw], 1))
        return {"alpha_raw": alpha_raw, "alpha": (alpha_raw + residual).clamp(0, 1)}

    def load_backbone(self, source: str | os.PathLike | dict | None = None, search: Sequence[str | os.PathLike] = (),
                      use_torchvision: bool = False) -> str | None:
        """Load ImageNet VGG16 weights into the encoder and ``fc6``; the trimap channel's weights are set to zero.

        Args:
            source: a torchvision VGG16 state-dict file or dict; ``None`` looks for torchvision's file in the
                folders ``search``, then (``use_torchvision=True``) asks torchvision's weight API, which may
                download it once into ``$TORCH_HOME``.
            search: the folders to look in when ``source`` is ``None``.
            use_torchvision: ask torchvision's weight API when no file is found.

        Returns:
            Where the weights came from, or ``None`` when none could be had (the model stays randomly initialised
            and a message says why).

        Raises:
            ValueError: naming the file when it is no VGG16 state dict, or when ``width != 64``.
        """
        batch_norm = any(isinstance(m, nn.BatchNorm2d) for m in self.features)
        if self.width != 64:
            raise ValueError(f"ImageNet VGG16 weights need width=64, this model has width={self.width}")
        described = None
        if source is None:
            source, described = vgg16_weight_source(batch_norm=batch_norm, search=search,
                                                    use_torchvision=use_torchvision)
            if source is None:
                why = described or f"none found in {[str(f) for f in search]}"
                print(f"DeepImageMatting: no ImageNet VGG16 weights ({why}); the encoder is trained from scratch.")
                return None
        where = str(source) if not isinstance(source, dict) else "<state dict>"
        if not isinstance(source, dict):
            try:
                source = torch.load(source, map_location="cpu", weights_only=True)
            except Exception as err:  # corrupt file, pickle with code, ...
                raise ValueError(f"{where}: not a loadable weights-only state dict ({err})") from err
        state = dict(source) if isinstance(source, dict) else source
        first = state.get("features.0.weight") if isinstance(state, dict) else None
        if first is not None and first.dim() == 4 and first.shape[1] == 3:
            # the 4th (trimap) input channel has no ImageNet weights: zeros, so the image path starts as VGG16's
            state["features.0.weight"] = torch.cat([first, first.new_zeros(first.shape[0], 1, *first.shape[2:])], 1)
        fc6_fits = self.fc6.weight.shape[:2] == (4096, 512)
        load_vgg16_weights(self.features, state, fc6=self.fc6 if fc6_fits else None)
        return described or where


def dim_vgg16(*, weights: str | os.PathLike | dict | None = None, width: int = 64, refine: bool = True,
              weight_folders: Sequence[str | os.PathLike] = (), **kwargs) -> DeepImageMatting:
    """Deep Image Matting with a VGG16 encoder (Xu et al., arXiv 1703.03872).

    Args:
        weights: ``None`` (default, nothing is loaded or downloaded): random initialisation; ``"imagenet"``:
            torchvision's ImageNet VGG16 weights, looked for in ``weight_folders`` and else fetched through
            torchvision's weight API (``VGG16_Weights.IMAGENET1K_V1``, cached in ``$TORCH_HOME``; offline, a
            message says so and the encoder is trained from scratch); a path or a state dict: torchvision-layout
            VGG16 weights. The trimap channel's weights start at zero. ``model.backbone_source`` records what was
            loaded (``None``: nothing).
        width: channels of the first VGG stage (64 = the paper, 130 M parameters; 8 trains on a CPU in seconds).
        refine: add the refinement stage.
        weight_folders: where ``weights="imagenet"`` looks for ``vgg16-397923af.pth`` first.
        **kwargs: see :class:`DeepImageMatting` (``fc6_channels``, ``batch_norm``, ``refine_channels``, ...).

    Example:
        >>> model = dim_vgg16(width=8, fc6_channels=16)
        >>> model(torch.rand(1, 4, 32, 32))["alpha"].shape
        torch.Size([1, 1, 32, 32])
    """
    model = DeepImageMatting(width=width, refine=refine, **kwargs)
    if weights is None:
        return model
    if isinstance(weights, str) and weights == "imagenet":
        model.backbone_source = model.load_backbone(None, weight_folders, use_torchvision=True)
    else:
        model.backbone_source = model.load_backbone(weights)
    return model
