"""An online target model for video object segmentation, after FRTM-VOS and LWL (Chapter 8).

FRTM-VOS (Robinson et al., "Learning Fast and Robust Target Models for Video Object Segmentation", CVPR 2020,
https://arxiv.org/abs/2003.00908) and LWL (Bhat et al., "Learning What to Learn for Video Object Segmentation",
ECCV 2020, https://arxiv.org/abs/2003.11540) split the work in two:

* a **target model**: a linear convolution filter ``w`` on *frozen* backbone features ``x``; it is fitted to the
  first frame's mask at test time, by a few optimisation steps on the regularised least-squares loss
  ``L(w) = 1/2 sum_n g_n ||v_n * (x_n * w - y_n)||^2 + lam/2 ||w||^2`` (``g_n``: sample weights, ``v_n``: spatial
  weights that balance object and background pixels), and updated online with the masks it predicts later;
* a **segmentation decoder**, trained offline, that turns the target model's coarse score (stride 8 or 16) and the
  backbone's features into a full-resolution mask.

The loss is quadratic in ``w``, so steepest descent has its optimal step length in closed form (LWL's optimiser;
FRTM's Gauss-Newton is exact here): with the gradient ``g = J^T V^2 r + lam w``, ``alpha = ||g||^2 /
(||V J g||^2 + lam ||g||^2)``, where ``J g = x * g`` is the convolution with ``g``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import ResNetBackbone, load_imagenet_weights

__all__ = ["TargetModel", "TargetDecoder", "FRTMNet", "balanced_pixel_weights", "target_loss", "frtm_net"]


def balanced_pixel_weights(labels: torch.Tensor) -> torch.Tensor:
    """Spatial weights ``v`` (``[N, 1, h, w]``) giving object and background pixels equal total weight per sample.

    Example:
        >>> v = balanced_pixel_weights(torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]]))
        >>> [round(x, 4) for x in (v ** 2).flatten().tolist()]  # one object pixel weighs as much as the 3 others
        [2.0, 0.6667, 0.6667, 0.6667]
    """
    fg = (labels > 0.5).float()
    n = fg[0].numel()
    n_fg = fg.sum((1, 2, 3), keepdim=True).clamp(min=1)
    n_bg = (n - fg.sum((1, 2, 3), keepdim=True)).clamp(min=1)
    return torch.sqrt(fg * n / (2 * n_fg) + (1 - fg) * n / (2 * n_bg))


def target_loss(w: torch.Tensor, feats: torch.Tensor, labels: torch.Tensor, pixel_weights: torch.Tensor,
                sample_weights: torch.Tensor, lam: float) -> torch.Tensor:
    """``L(w) = 1/2 sum_n g_n ||v_n (x_n * w - y_n)||^2 + lam/2 ||w||^2`` (pixels averaged per sample)."""
    r = pixel_weights * (F.conv2d(feats, w, padding=w.shape[-1] // 2) - labels)
    per = r.pow(2).flatten(1).mean(1)
    return 0.5 * (sample_weights * per).sum() + 0.5 * lam * w.pow(2).sum()


class TargetModel:
    """A linear target model: one ``k x k`` convolution filter on frozen features, fitted by steepest descent.

    Args:
        channels: feature channels ``C``.
        kernel_size: ``k`` (odd; FRTM: 3).
        lam: the regulariser ``lam`` (FRTM / LWL learn it; here a setting).

    Example:
        >>> x = torch.randn(1, 4, 6, 6); y = (x[:, :1] > 0).float()
        >>> tm = TargetModel(channels=4, kernel_size=1, lam=1e-3)
        >>> losses = tm.fit(x, y, iterations=5)
        >>> losses[-1] < losses[0]
        True
    """

    def __init__(self, *, channels: int, kernel_size: int = 3, lam: float = 1e-2) -> None:
        if kernel_size % 2 == 0:
            raise ValueError(f"TargetModel: kernel_size must be odd, got {kernel_size}")
        self.kernel_size, self.lam = kernel_size, lam
        self.weight = torch.zeros(1, channels, kernel_size, kernel_size)

    def score(self, feats: torch.Tensor) -> torch.Tensor:
        """The coarse target score ``x * w``, ``[B, 1, h, w]``."""
        return F.conv2d(feats, self.weight.to(feats), padding=self.kernel_size // 2)

    def gradient(self, feats: torch.Tensor, labels: torch.Tensor, pixel_weights: torch.Tensor,
                 sample_weights: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """``dL/dw = J^T (g v^2 r) + lam w``, the transposed convolution of the weighted residual with the features."""
        w = self.weight.to(feats) if w is None else w
        m = labels[0].numel()
        r = F.conv2d(feats, w, padding=self.kernel_size // 2) - labels
        r = r * pixel_weights.pow(2) * sample_weights.view(-1, 1, 1, 1) / m
        return torch.nn.grad.conv2d_weight(feats, w.shape, r, padding=self.kernel_size // 2) + self.lam * w

    def step(self, feats: torch.Tensor, labels: torch.Tensor, pixel_weights: torch.Tensor,
             sample_weights: torch.Tensor) -> None:
        """One steepest-descent step with the optimal (exact line-search) step length."""
        w = self.weight.to(feats)
        g = self.gradient(feats, labels, pixel_weights, sample_weights, w)
        jg = pixel_weights * F.conv2d(feats, g, padding=self.kernel_size // 2)  # V J g
        m = labels[0].numel()
        curvature = (sample_weights * jg.pow(2).flatten(1).sum(1)).sum() / m + self.lam * g.pow(2).sum()
        alpha = g.pow(2).sum() / curvature.clamp(min=1e-12)
        self.weight = (w - alpha * g).detach()

    def fit(self, feats: torch.Tensor, labels: torch.Tensor, *, iterations: int = 10,
            sample_weights: torch.Tensor | None = None, reset: bool = False) -> list[float]:
        """Run ``iterations`` steps from the current filter (zeros at first, or with ``reset``).

        Args:
            feats: ``[N, C, h, w]`` features of the memory's samples.
            labels: ``[N, 1, h, w]`` their target maps in ``[0, 1]`` (the masks at the feature size).
            iterations: steepest-descent steps (FRTM / LWL: about 5 to 20 at the first frame, 2 to 5 updates).
            sample_weights: ``g_n`` ``[N]`` (default: all equal, summing to 1).
            reset: start from zeros.

        Returns:
            The loss before each step and after the last.
        """
        feats = feats.detach() if feats.is_floating_point() else feats.detach().float()
        labels = labels.detach().to(feats)
        if reset:
            self.weight = torch.zeros_like(self.weight)
        if sample_weights is None:
            sample_weights = torch.full((len(feats),), 1.0 / len(feats))
        sample_weights = sample_weights.to(feats)
        v = balanced_pixel_weights(labels)
        losses = []
        for _ in range(iterations):
            losses.append(float(target_loss(self.weight.to(feats), feats, labels, v, sample_weights, self.lam)))
            self.step(feats, labels, v, sample_weights)
        losses.append(float(target_loss(self.weight.to(feats), feats, labels, v, sample_weights, self.lam)))
        return losses


class TargetDecoder(nn.Module):
    """FRTM's refinement decoder in small: from stride 16 to stride 4, each stage fusing the coarse score (resized)
    with a projection of that stride's backbone features, then a logit upsampled to the input size.

    The logit is a correction added to the score itself, ``scale * (score - 1/2)`` (the head starts at zero): an
    untrained decoder thresholds the target model's score at 1/2, training learns what to change.

    Args:
        channels: backbone channels at strides 4, 8, 16.
        width: the decoder's channels.
    """

    def __init__(self, *, channels: tuple[int, int, int] = (64, 128, 256), width: int = 32) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        self.fuse = nn.ModuleList(nn.Sequential(nn.Conv2d(width + 1 + (i < 2) * width, width, 3, padding=1),
                                                nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1),
                                                nn.ReLU(inplace=True)) for i in range(3))
        self.head = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.score_scale = nn.Parameter(torch.tensor(8.0))

    def forward(self, score: torch.Tensor, feats: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Logits ``[B, 1, *size]`` from the coarse ``score`` and the features at strides 4, 8, 16."""
        y = None
        for i in (2, 1, 0):
            f = self.proj[i](feats[i])
            s = F.interpolate(score, size=f.shape[-2:], mode="bilinear", align_corners=False)
            parts = [f, s] if y is None else [f, s, F.interpolate(y, size=f.shape[-2:], mode="bilinear",
                                                                   align_corners=False)]
            y = self.fuse[i](torch.cat(parts, 1))
        skip = self.score_scale * (score - 0.5)
        return F.interpolate(self.head(y) + F.interpolate(skip, size=y.shape[-2:], mode="bilinear",
                                                          align_corners=False),
                             size=size, mode="bilinear", align_corners=False)


_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class FRTMNet(nn.Module):
    """Frozen ResNet features + a target model fitted per video + a trained decoder.

    Training (the shared loop) sees episodes: ``forward((ref, ref_mask, test))`` fits a target model on each
    reference frame's features and mask, scores the test frame with it and decodes; only the decoder learns.

    Args:
        arch: the frozen backbone (``"resnet18"`` ...), output stride 16.
        target_layer: ``1`` (stride 8, ``layer2``) or ``2`` (stride 16, ``layer3``): the target model's features.
        kernel_size, lam: the target model's filter size and regulariser.
        iterations: steepest-descent steps when fitted to a reference frame.
        width: the decoder's channels.
    """

    def __init__(self, *, arch: str = "resnet18", target_layer: int = 1, kernel_size: int = 3, lam: float = 1e-2,
                 iterations: int = 10, width: int = 32) -> None:
        super().__init__()
        if target_layer not in (1, 2):
            raise ValueError(f"FRTMNet: target_layer must be 1 (stride 8) or 2 (stride 16), got {target_layer}")
        self.backbone = ResNetBackbone(arch, output_stride=16)
        self.backbone.requires_grad_(False)
        self.target_layer, self.kernel_size, self.lam, self.iterations = target_layer, kernel_size, lam, iterations
        self.decoder = TargetDecoder(channels=self.backbone.channels[:3], width=width)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.backbone_source: str | None = None

    def train(self, mode: bool = True) -> FRTMNet:
        super().train(mode)
        self.backbone.eval()  # frozen: batch-norm statistics never move
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Frozen features at strides 4, 8, 16 of ``images`` ``[B, 3, H, W]`` in ``[0, 1]``, each scaled to unit
        root-mean-square (so that ``lam`` means the same for any backbone, random or pretrained)."""
        x = (images - self.mean) / self.std
        x = self.backbone.maxpool(self.backbone.relu(self.backbone.bn1(self.backbone.conv1(x))))
        out = []
        for layer in (self.backbone.layer1, self.backbone.layer2, self.backbone.layer3):
            x = layer(x)
            out.append(x / x.pow(2).mean((1, 2, 3), keepdim=True).sqrt().clamp(min=1e-6))
        return out

    def new_target_model(self) -> TargetModel:
        """An unfitted target model for this network's features."""
        return TargetModel(channels=self.backbone.channels[self.target_layer], kernel_size=self.kernel_size,
                           lam=self.lam)

    def target_labels(self, masks: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
        """Masks ``[N, H, W]`` (or ``[N, 1, H, W]``) in ``[0, 1]`` averaged down to the target features' size."""
        m = masks.float()[:, None] if masks.dim() == 3 else masks.float()
        return F.adaptive_avg_pool2d(m, feats[self.target_layer].shape[-2:])

    def decode(self, tm: TargetModel, feats: list[torch.Tensor], size: tuple[int, int]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(coarse score, logits)`` of frames with features ``feats`` under the fitted ``tm``."""
        score = tm.score(feats[self.target_layer])
        return score, self.decoder(score, feats, size)

    def forward(self, inputs) -> torch.Tensor:
        ref, ref_mask, test = inputs
        ref_mask = torch.where(ref_mask == 255, torch.zeros_like(ref_mask), ref_mask).clamp(0, 1)
        fr, ft = self.features(ref), self.features(test)
        out = []
        for b in range(len(ref)):
            tm = self.new_target_model()
            with torch.autocast(ref.device.type, enabled=False):
                tm.fit(fr[self.target_layer][b:b + 1].float(), self.target_labels(ref_mask[b:b + 1], fr),
                       iterations=self.iterations)
            out.append(self.decode(tm, [f[b:b + 1] for f in ft], tuple(test.shape[-2:]))[1])
        return torch.cat(out)


def frtm_net(*, arch: str = "resnet18", pretrained: bool | str = True, target_layer: int = 1, kernel_size: int = 3,
             lam: float = 1e-2, iterations: int = 10, width: int = 32) -> FRTMNet:
    """Build an :class:`FRTMNet` (FRTM-VOS, arXiv 2003.00908; LWL, arXiv 2003.11540).

    Args:
        arch: the frozen ResNet.
        pretrained: ``True``: torchvision's ImageNet weights where found on disk or downloadable (offline the
            backbone stays random, frozen, and a message says so); ``False``: random; a path: that file.
        target_layer, kernel_size, lam, iterations, width: see :class:`FRTMNet`.

    Example:
        >>> net = frtm_net(pretrained=False, width=8)
        >>> ref, test = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
        >>> net((ref, (ref[:, 0] > 0.5).long(), test)).shape
        torch.Size([1, 1, 64, 64])
    """
    net = FRTMNet(arch=arch, target_layer=target_layer, kernel_size=kernel_size, lam=lam, iterations=iterations,
                  width=width)
    if pretrained:
        net.backbone_source = load_imagenet_weights(net.backbone, arch, pretrained)
    return net
