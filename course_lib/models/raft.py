"""RAFT: optical flow by iterative updates over an all-pairs correlation volume (Chapter 9).

Z. Teed, J. Deng, *RAFT: Recurrent All-Pairs Field Transforms for Optical Flow*, ECCV 2020.
https://arxiv.org/abs/2003.12039

Four parts, each a small module below:

1. **Feature encoder** (:class:`Encoder`): both frames to feature maps at 1/8 resolution (instance norm).
   A **context encoder** of the same shape sees frame 1 only; its output is split into the GRU's initial hidden
   state (``tanh``) and a context fed at every step (``relu``).
2. **All-pairs correlation** (:class:`CorrPyramid`): the dot product of every feature vector of frame 1 with every
   one of frame 2, a 4-D volume ``[h, w, h, w]`` built once; its last two dimensions are average-pooled 3 times
   into a pyramid. A lookup reads a ``(2r+1) x (2r+1)`` window around each pixel's current match at every level.
3. **Update operator** (:class:`UpdateBlock`): a convolutional GRU that takes the looked-up correlations, the
   current flow and the context, and outputs a flow *increment*. It runs ``iters`` times with shared weights;
   gradients do not flow through the matching positions between steps.
4. **Upsampling** to full resolution: bilinear (RAFT-small) or **convex** (RAFT): each full-resolution pixel is a
   learned convex combination of its 3x3 coarse neighbours, weights predicted from the hidden state.

:func:`raft_small` builds the RAFT-small configuration with parameter names and shapes identical to
``torchvision.models.optical_flow.raft_small``, so a torchvision state dict found on disk loads into it unchanged
(:func:`find_raft_small_weights`, :func:`load_raft_weights`); the computation is the same, so are the outputs.
The training loss is :func:`course_lib.losses.sequence_loss`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .weights import torchvision_state

__all__ = ["RAFT", "CorrPyramid", "Encoder", "UpdateBlock", "find_raft_small_weights", "load_raft_weights",
           "raft_small", "torchvision_raft_small_state", "TORCHVISION", "TORCHVISION_RAFT_SMALL_FILES"]

#: file names of torchvision's RAFT-small weights (C+T = trained on FlyingChairs, then FlyingThings3D)
TORCHVISION_RAFT_SMALL_FILES = ("raft_small_C_T_V2-01064c6d.pth", "raft_small_C_T_V1-ad48884c.pth")
WEIGHTS_ENV = "COURSE_RAFT_WEIGHTS"
#: ``weights=TORCHVISION`` asks torchvision's weight API for ``Raft_Small_Weights.C_T_V2`` (cached in $TORCH_HOME)
TORCHVISION = "torchvision"


class ConvNormAct(nn.Sequential):
    """Convolution (with bias), optional norm, optional ReLU: the ``Conv2dNormActivation`` layout of torchvision."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm: str | None = None,
                 relu: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=True)]
        if norm == "instance":
            layers.append(nn.InstanceNorm2d(cout))
        elif norm == "batch":
            layers.append(nn.BatchNorm2d(cout))
        elif norm is not None:
            raise ValueError(f"unknown norm {norm!r}; use 'instance', 'batch' or None")
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Bottleneck(nn.Module):
    """Residual bottleneck: 1x1 (to a quarter), 3x3 (strided), 1x1 (back), plus a projected shortcut when strided."""

    def __init__(self, cin: int, cout: int, stride: int, norm: str | None) -> None:
        super().__init__()
        self.convnormrelu1 = ConvNormAct(cin, cout // 4, 1, norm=norm)
        self.convnormrelu2 = ConvNormAct(cout // 4, cout // 4, 3, stride, norm=norm)
        self.convnormrelu3 = ConvNormAct(cout // 4, cout, 1, norm=norm)
        self.downsample = nn.Identity() if stride == 1 else ConvNormAct(cin, cout, 1, stride, norm=norm, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convnormrelu3(self.convnormrelu2(self.convnormrelu1(x)))
        return self.relu(self.downsample(x) + y)


class Encoder(nn.Module):
    """Image -> features at 1/8 resolution: a 7x7 stride-2 stem, three stages of two bottlenecks, a 1x1 projection.

    Args:
        dims: ``(stem, stage1, stage2, stage3, out)`` channels; stage 1 keeps the resolution, stages 2 and 3 halve it.
        norm: ``"instance"`` (feature encoder), ``"batch"`` or ``None`` (context encoder of RAFT-small).
    """

    def __init__(self, dims: tuple[int, int, int, int, int], norm: str | None) -> None:
        super().__init__()
        d0, d1, d2, d3, out = dims
        self.convnormrelu = ConvNormAct(3, d0, 7, 2, norm=norm)
        self.layer1 = nn.Sequential(Bottleneck(d0, d1, 1, norm), Bottleneck(d1, d1, 1, norm))
        self.layer2 = nn.Sequential(Bottleneck(d1, d2, 2, norm), Bottleneck(d2, d2, 1, norm))
        self.layer3 = nn.Sequential(Bottleneck(d2, d3, 2, norm), Bottleneck(d3, d3, 1, norm))
        self.conv = nn.Conv2d(d3, out, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.layer3(self.layer2(self.layer1(self.convnormrelu(x)))))


def coords_grid(batch: int, height: int, width: int, device=None) -> torch.Tensor:
    """Pixel coordinates ``[B, 2, H, W]``, channel 0 = x, channel 1 = y."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys])[None].repeat(batch, 1, 1, 1)


class CorrPyramid:
    """The all-pairs correlation volume of two feature maps, pooled into ``levels`` levels, and its window lookup.

    Args:
        fmap1, fmap2: ``[B, C, h, w]`` feature maps.
        levels: pyramid levels (the last 2 dimensions are halved ``levels - 1`` times).
        radius: a lookup reads ``(2 * radius + 1) ** 2`` values per level.

    Example:
        >>> f = torch.randn(1, 8, 16, 16)
        >>> corr = CorrPyramid(f, f, levels=2, radius=1)
        >>> corr(coords_grid(1, 16, 16)).shape
        torch.Size([1, 18, 16, 16])
    """

    def __init__(self, fmap1: torch.Tensor, fmap2: torch.Tensor, levels: int = 4, radius: int = 4) -> None:
        if fmap1.shape != fmap2.shape:
            raise ValueError(f"feature maps differ: {tuple(fmap1.shape)} and {tuple(fmap2.shape)}")
        b, c, h, w = fmap1.shape
        smallest = 2 ** (levels - 1) * 2
        if h < smallest or w < smallest:
            raise ValueError(f"feature maps of {h}x{w} are too small for {levels} pyramid levels (need at least "
                             f"{smallest}x{smallest}, i.e. images of at least {8 * smallest}x{8 * smallest})")
        self.levels, self.radius = levels, radius
        volume = torch.matmul(fmap1.flatten(2).transpose(1, 2), fmap2.flatten(2)) / torch.sqrt(torch.tensor(float(c)))
        volume = volume.reshape(b * h * w, 1, h, w)  # one 2-D correlation map (over frame 2) per pixel of frame 1
        self.pyramid = [volume]
        for _ in range(levels - 1):
            volume = F.avg_pool2d(volume, 2, stride=2)
            self.pyramid.append(volume)

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        """Windows around ``coords [B, 2, h, w]`` (positions in frame 2, in 1/8 pixels): ``[B, L*(2r+1)^2, h, w]``.

        Window offsets are ordered x-major (the x offset changes slowest), as in the reference implementation.
        """
        r = self.radius
        b, _, h, w = coords.shape
        steps = torch.linspace(-r, r, 2 * r + 1, device=coords.device)
        dx, dy = torch.meshgrid(steps, steps, indexing="ij")
        delta = torch.stack([dx, dy], dim=-1).view(1, 2 * r + 1, 2 * r + 1, 2)
        centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
        out = []
        for level, volume in enumerate(self.pyramid):
            pos = centre / 2**level + delta
            vh, vw = volume.shape[-2:]
            grid = torch.cat([2 * pos[..., :1] / (vw - 1) - 1, 2 * pos[..., 1:] / (vh - 1) - 1], dim=-1)
            sampled = F.grid_sample(volume, grid, mode="bilinear", align_corners=True)
            out.append(sampled.view(b, h, w, -1))
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


class MotionEncoder(nn.Module):
    """Correlation features and the current flow -> motion features (the flow itself is appended at the end)."""

    def __init__(self, corr_channels: int, corr_dims: tuple[int, ...], flow_dims: tuple[int, int], out: int) -> None:
        super().__init__()
        self.convcorr1 = ConvNormAct(corr_channels, corr_dims[0], 1)
        self.convcorr2 = ConvNormAct(corr_dims[0], corr_dims[1], 3) if len(corr_dims) == 2 else nn.Identity()
        self.convflow1 = ConvNormAct(2, flow_dims[0], 7)
        self.convflow2 = ConvNormAct(flow_dims[0], flow_dims[1], 3)
        self.conv = ConvNormAct(corr_dims[-1] + flow_dims[1], out - 2, 3)
        self.out_channels = out

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        c = self.convcorr2(self.convcorr1(corr))
        f = self.convflow2(self.convflow1(flow))
        return torch.cat([self.conv(torch.cat([c, f], dim=1)), flow], dim=1)


class ConvGRU(nn.Module):
    """Convolutional GRU: ``z, r`` gates and candidate ``q`` from convolutions of ``[h, x]``; ``h <- (1-z) h + z q``."""

    def __init__(self, hidden: int, inputs: int, kernel, padding) -> None:
        super().__init__()
        self.convz = nn.Conv2d(hidden + inputs, hidden, kernel, padding=padding)
        self.convr = nn.Conv2d(hidden + inputs, hidden, kernel, padding=padding)
        self.convq = nn.Conv2d(hidden + inputs, hidden, kernel, padding=padding)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        hx = torch.cat([h, x], dim=1)
        z, r = torch.sigmoid(self.convz(hx)), torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


class RecurrentBlock(nn.Module):
    """One ConvGRU (RAFT-small: 3x3), or two with 1x5 then 5x1 kernels (RAFT)."""

    def __init__(self, hidden: int, inputs: int, separable: bool) -> None:
        super().__init__()
        if separable:
            self.convgru1 = ConvGRU(hidden, inputs, (1, 5), (0, 2))
            self.convgru2 = ConvGRU(hidden, inputs, (5, 1), (2, 0))
        else:
            self.convgru1 = ConvGRU(hidden, inputs, 3, 1)
            self.convgru2 = None
        self.hidden_size = hidden

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self.convgru1(h, x)
        return self.convgru2(h, x) if self.convgru2 is not None else h


class FlowHead(nn.Module):
    """Hidden state -> flow increment (two 3x3 convolutions)."""

    def __init__(self, hidden: int, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(hidden, dim, 3, padding=1)
        self.conv2 = nn.Conv2d(dim, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(h)))


class UpdateBlock(nn.Module):
    """One RAFT update: motion encoder, GRU over ``[context, motion]``, flow head."""

    def __init__(self, motion_encoder: MotionEncoder, recurrent_block: RecurrentBlock, flow_head: FlowHead) -> None:
        super().__init__()
        self.motion_encoder = motion_encoder
        self.recurrent_block = recurrent_block
        self.flow_head = flow_head

    def forward(self, h, context, corr, flow):
        x = torch.cat([context, self.motion_encoder(flow, corr)], dim=1)
        h = self.recurrent_block(h, x)
        return h, self.flow_head(h)


class MaskPredictor(nn.Module):
    """Hidden state -> the 9 convex weights of each of the 8x8 full-resolution pixels of a coarse pixel."""

    def __init__(self, hidden: int, dim: int = 256, scale: float = 0.25) -> None:
        super().__init__()
        self.convrelu = ConvNormAct(hidden, dim, 3)
        self.conv = nn.Conv2d(dim, 8 * 8 * 9, 1)
        self.scale = scale  # the reference code scales this branch down by 0.25

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.scale * self.conv(self.convrelu(h))


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Upsample ``flow [B, 2, h, w]`` by ``factor``: each fine pixel is a softmax-weighted mix of 3x3 coarse ones.

    Args:
        flow: coarse flow (in coarse pixels; multiplied by ``factor`` here).
        mask: ``[B, 9 * factor**2, h, w]`` unnormalised weights.
    """
    b, _, h, w = flow.shape
    weights = torch.softmax(mask.view(b, 1, 9, factor, factor, h, w), dim=2)
    neighbours = F.unfold(factor * flow, kernel_size=3, padding=1).view(b, 2, 9, 1, 1, h, w)
    up = (weights * neighbours).sum(dim=2)  # [B, 2, factor, factor, h, w]
    return up.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, h * factor, w * factor)


class RAFT(nn.Module):
    """RAFT with configurable widths; see the module docstring for the parts.

    Input: ``[B, 6, H, W]`` (two frames in ``[0, 1]``) or two ``[B, 3, H, W]`` tensors, ``H`` and ``W`` multiples of 8
    (:attr:`size_multiple`) and at least :attr:`min_size`. Output: in training mode the list of the ``iters``
    full-resolution predictions, in eval mode the last one, ``[B, 2, H, W]`` in pixels.

    Args:
        feature_dims, context_dims: the two :class:`Encoder` widths (context output = hidden + context channels).
        hidden_dim: GRU hidden state channels.
        corr_levels, corr_radius: the correlation pyramid.
        motion_corr_dims, motion_flow_dims, motion_dim: :class:`MotionEncoder` widths.
        flow_head_dim: :class:`FlowHead` width.
        separable_gru: two GRUs with 1x5 / 5x1 kernels (RAFT) instead of one 3x3 (RAFT-small).
        feature_norm, context_norm: ``"instance"``, ``"batch"`` or ``None``.
        upsample: ``"convex"`` (learned) or ``"bilinear"``.
        iters: default number of updates.
        mask_dim: hidden width of the convex-upsampling mask predictor.
    """

    size_multiple = 8

    @property
    def min_size(self) -> int:
        """The smallest input side the correlation pyramid accepts (2 pixels at its coarsest level)."""
        return 8 * 2**self.corr_levels

    def __init__(self, feature_dims=(32, 32, 64, 96, 128), context_dims=(32, 32, 64, 96, 160), hidden_dim: int = 96,
                 corr_levels: int = 4, corr_radius: int = 3, motion_corr_dims=(96,), motion_flow_dims=(64, 32),
                 motion_dim: int = 82, flow_head_dim: int = 128, separable_gru: bool = False,
                 feature_norm: str | None = "instance", context_norm: str | None = None, upsample: str = "convex",
                 iters: int = 12, mask_dim: int = 256) -> None:
        super().__init__()
        if context_dims[-1] <= hidden_dim:
            raise ValueError(f"the context encoder's {context_dims[-1]} channels must exceed hidden_dim={hidden_dim}")
        if upsample not in ("convex", "bilinear"):
            raise ValueError(f"upsample must be 'convex' or 'bilinear', got {upsample!r}")
        self.hidden_dim, self.iters, self.upsample = hidden_dim, iters, upsample
        self.corr_levels, self.corr_radius = corr_levels, corr_radius
        self.feature_encoder = Encoder(tuple(feature_dims), feature_norm)
        self.context_encoder = Encoder(tuple(context_dims), context_norm)
        corr_channels = corr_levels * (2 * corr_radius + 1) ** 2
        motion = MotionEncoder(corr_channels, tuple(motion_corr_dims), tuple(motion_flow_dims), motion_dim)
        gru = RecurrentBlock(hidden_dim, motion_dim + context_dims[-1] - hidden_dim, separable_gru)
        self.update_block = UpdateBlock(motion, gru, FlowHead(hidden_dim, flow_head_dim))
        self.mask_predictor = MaskPredictor(hidden_dim, mask_dim) if upsample == "convex" else None

    def forward(self, images: torch.Tensor, image2: torch.Tensor | None = None, iters: int | None = None,
                flow_init: torch.Tensor | None = None):
        x1, x2 = (images[:, :3], images[:, 3:]) if image2 is None else (images, image2)
        if x1.dim() != 4 or x1.shape[1] != 3 or x1.shape != x2.shape:
            raise ValueError(f"RAFT expects [B, 6, H, W] or two [B, 3, H, W] frames, got {tuple(images.shape)}")
        b, _, h, w = x1.shape
        if h % 8 or w % 8:
            raise ValueError(f"RAFT needs H and W divisible by 8, got {h}x{w}; pad the input "
                             "(course_lib.models.flow_ops.pad_to_multiple)")
        x1, x2 = x1 * 2 - 1, x2 * 2 - 1
        fmap1, fmap2 = self.feature_encoder(torch.cat([x1, x2], dim=0)).float().chunk(2, dim=0)
        corr = CorrPyramid(fmap1, fmap2, self.corr_levels, self.corr_radius)
        context_out = self.context_encoder(x1)
        hidden, context = context_out[:, : self.hidden_dim], context_out[:, self.hidden_dim :]
        hidden, context = torch.tanh(hidden), torch.relu(context)
        coords0 = coords_grid(b, h // 8, w // 8, x1.device)
        coords1 = coords0.clone() if flow_init is None else coords0 + flow_init
        predictions = []
        for _ in range(iters or self.iters):
            coords1 = coords1.detach()  # no gradient through the matching positions
            flow = coords1 - coords0
            hidden, delta = self.update_block(hidden, context, corr(coords1), flow)
            coords1 = coords1 + delta
            flow = coords1 - coords0
            if self.mask_predictor is not None:
                predictions.append(convex_upsample(flow, self.mask_predictor(hidden)))
            else:
                predictions.append(8 * F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=True))
        return predictions if self.training else predictions[-1]


def raft_small(*, weights: str | os.PathLike | None = None, upsample: str = "bilinear", iters: int = 12) -> RAFT:
    """RAFT-small of Teed and Deng, ECCV 2020 (https://arxiv.org/abs/2003.12039): about 1 M parameters.

    The configuration and parameter names of ``torchvision.models.optical_flow.raft_small``: bottleneck encoders
    (feature 32-32-64-96-128 with instance norm, context 32-32-64-96-160 without norm), a 4-level pyramid with
    radius 3, one 3x3 ConvGRU with 96 hidden channels, bilinear upsampling.

    Args:
        weights: a state dict file to load (e.g. torchvision's ``raft_small_C_T_V2-01064c6d.pth``, see
            :func:`find_raft_small_weights`); ``"torchvision"`` = ``Raft_Small_Weights.C_T_V2`` through torchvision's
            weight API (downloaded once into ``$TORCH_HOME``; offline: random, with a message); ``None`` = random.
            ``model.backbone_source`` says what was loaded.
        upsample: ``"bilinear"`` (as RAFT-small) or ``"convex"`` (adds the mask predictor of full RAFT; it starts
            random even when ``weights`` are loaded).
        iters: default number of GRU updates.

    Example:
        >>> sum(p.numel() for p in raft_small().parameters())
        990162
    """
    model = RAFT(upsample=upsample, iters=iters)
    model.backbone_source = None
    if weights is not None:
        load_raft_weights(model, weights)
    return model


def torchvision_raft_small_state() -> tuple[dict[str, torch.Tensor] | None, str]:
    """torchvision's RAFT-small weights (``Raft_Small_Weights.C_T_V2``: FlyingChairs + FlyingThings3D) through its
    weight API, cached in ``$TORCH_HOME/hub/checkpoints``; ``(None, why)`` when they cannot be had (offline)."""
    from torchvision.models.optical_flow import Raft_Small_Weights

    return torchvision_state(Raft_Small_Weights.C_T_V2)


def load_raft_weights(model: RAFT, path: str | os.PathLike) -> list[str] | None:
    """Load a RAFT state dict file (torchvision's, or a ``course_lib`` checkpoint's ``"model"``) into ``model``.

    ``path="torchvision"`` gets torchvision's RAFT-small weights through its weight API
    (:func:`torchvision_raft_small_state`); when they cannot be had (offline) the model stays as initialised, a
    message says so and ``None`` is returned. ``model.backbone_source`` records where the weights came from.

    Only the convex-upsampling mask predictor may be missing from the file (it is then left as initialised).

    Args:
        model: a :class:`RAFT` of the same configuration.
        path: the file (``torch.load(weights_only=True)``).

    Returns:
        The names of the parameters left as initialised.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a state dict, or its names or shapes do not fit the model (the message lists them).
    """
    if str(path) == TORCHVISION:
        state, source = torchvision_raft_small_state()
        if state is None:
            print(f"RAFT: no pretrained weights: {source}. The model starts from a random initialisation.")
            model.backbone_source = None
            return None
        left = _load_state(model, state, source)
        model.backbone_source = source
        return left
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: RAFT weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: cannot be read as a weights-only state dict ({err})") from err
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    left = _load_state(model, state, str(path))
    model.backbone_source = str(path)
    return left


def _load_state(model: RAFT, state: dict, path: str) -> list[str]:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors")
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state) if not k.startswith("mask_predictor."))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in state
             if k in own and state[k].shape != own[k].shape]
    if unexpected or missing or wrong:
        raise ValueError(f"{path}: does not fit this RAFT configuration; missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}, wrong shapes {wrong[:5]}")
    model.load_state_dict(state, strict=False)
    return sorted(set(own) - set(state))


def find_raft_small_weights(folders: Iterable[str | os.PathLike] = ()) -> Path | None:
    """Look for torchvision's RAFT-small weights on this machine (never downloads).

    Searched in order: the file named by ``$COURSE_RAFT_WEIGHTS``; then ``raft_small_C_T_V2-01064c6d.pth`` or
    ``..._V1-ad48884c.pth`` in ``folders`` (e.g. ``<data root>/weights``, passed by the caller) and in torch's hub
    cache (``torch.hub.get_dir()/checkpoints``, where ``raft_small(weights=...)`` of torchvision stores them).

    Args:
        folders: the folders to search before torch's hub cache.

    Returns:
        The file, or ``None`` when there is none.

    Example:
        >>> path = find_raft_small_weights([course_lib.data_root() / "weights"])  # doctest: +SKIP
    """
    env = os.environ.get(WEIGHTS_ENV)
    if env and Path(env).expanduser().is_file():
        return Path(env).expanduser()
    searched = [Path(d).expanduser() for d in folders] + [Path(torch.hub.get_dir()) / "checkpoints"]
    for folder in searched:
        for name in TORCHVISION_RAFT_SMALL_FILES:
            if (folder / name).is_file():
                return folder / name
    return None
