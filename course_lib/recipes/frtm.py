"""The online target-model recipes of Chapter 8 (``frtm-davis2016``, ``frtm-davis2017``), after FRTM-VOS and LWL.

FRTM-VOS (Robinson et al., CVPR 2020, https://arxiv.org/abs/2003.00908) and LWL (Bhat et al., ECCV 2020,
https://arxiv.org/abs/2003.11540): per object, a linear target model on frozen backbone features is fitted to the
first frame's mask by steepest descent (:class:`course_lib.models.target_model.TargetModel`), scores every later
frame coarsely, and a decoder trained offline refines the score into the mask. Online update: every
``update_every`` frames the predicted mask joins a memory of at most ``memory`` samples (the first frame always
stays, with half the total weight; the others decay by ``1 - update_lr`` per update) and the filter takes
``update_iterations`` more steps.

Training (``python -m course_lib.train frtm-davis2016``) samples episodes from the train videos: a reference
frame with one object's mask and a test frame of the same video; the target model is fitted on the reference, the
decoder learns to turn its score on the test frame into the test mask (the backbone stays frozen). Evaluation is
the VOS recipes' (:class:`course_lib.recipes.vos.VOSRecipe`): DAVIS-layout results scored with J&F.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..config import get_device
from ..data.davis import DAVIS
from ..data.video import VOID, VideoSequence
from ..losses.segmentation import bce_loss
from ..models.target_model import FRTMNet, frtm_net
from .vos import VOSConfig, VOSRecipe, segment_sequence

__all__ = ["FRTMConfig", "FRTMRecipe", "VideoPairs", "frtm_recipes", "frtm_segment"]


@dataclass(frozen=True)
class FRTMConfig(VOSConfig):
    """Settings of the target-model recipes (besides :class:`VOSConfig`'s ``max_width``, ``max_sequences``, ...).

    Args:
        arch: the frozen ResNet backbone.
        pretrained_backbone: torchvision's ImageNet weights where available (offline: random, frozen).
        target_layer: 1: the target model works on ``layer2`` (stride 8); 2: ``layer3`` (stride 16).
        kernel_size: the target filter's size (FRTM: 3).
        lam: its regulariser.
        init_iterations: steepest-descent steps on the first frame (and on each training reference).
        update_iterations: steps at each online update.
        update_every: frames between updates.
        memory: samples kept (the first frame included).
        update_lr: FRTM's learning rate of the sample weights.
        decoder_width: the decoder's channels.
        max_gap: training episodes: the test frame is at most this many frames from the reference.
    """

    method: str = "frtm"
    arch: str = "resnet18"
    pretrained_backbone: bool = True
    target_layer: int = 1
    kernel_size: int = 3
    lam: float = 1e-2
    init_iterations: int = 10
    update_iterations: int = 3
    update_every: int = 5
    memory: int = 8
    update_lr: float = 0.2
    decoder_width: int = 32
    max_gap: int = 8


def memory_weights(count: int, update_lr: float) -> torch.Tensor:
    """Sample weights of a memory of ``count`` samples, the first being frame 0: it keeps half the total weight
    (all of it alone), the others decay by ``1 - update_lr`` per newer sample; the weights sum to 1.

    Example:
        >>> [round(w, 4) for w in memory_weights(3, 0.5).tolist()]
        [0.5, 0.1667, 0.3333]
    """
    if count == 1:
        return torch.ones(1)
    rest = torch.tensor([(1 - update_lr) ** (count - 2 - i) for i in range(count - 1)])
    return torch.cat([torch.ones(1) * 0.5, 0.5 * rest / rest.sum()])


@torch.no_grad()
def frtm_segment(net: FRTMNet, frames: np.ndarray, first_labels: np.ndarray, cfg: FRTMConfig, *,
                 device: torch.device | str | None = None, return_maps: bool = False):
    """Segment one video with online target models, one per object of frame 0.

    Args:
        net: a (trained) :class:`FRTMNet`.
        frames: ``uint8 [T, H, W, 3]``.
        first_labels: ``uint8 [H, W]`` object ids of frame 0 (255: void).
        cfg: the target model's settings (``init_iterations``, ``update_*``, ``memory``).
        return_maps: also return the coarse scores ``[T, K, h, w]`` and the probabilities ``[T, K, H, W]``.

    Returns:
        ``uint8 [T, H, W]`` object ids (each pixel: the most probable object if above 0.5), or with
        ``return_maps`` the tuple ``(labels, scores, probabilities)``.
    """
    device = torch.device(device) if device is not None else get_device()
    net = net.to(device).eval()
    first = np.where(first_labels == VOID, 0, first_labels)
    ids = [int(i) for i in np.unique(first) if i]
    t_len, size = len(frames), tuple(frames.shape[1:3])
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255)
    chunks = [net.features(x[i:i + 4].to(device)) for i in range(0, t_len, 4)]
    feats = [torch.cat([c[k] for c in chunks]) for k in range(3)]
    tf = feats[net.target_layer]
    scores = torch.zeros(t_len, len(ids), *tf.shape[-2:])
    probs = torch.zeros(t_len, len(ids), *size)
    for k, obj in enumerate(ids):
        mask0 = torch.from_numpy((first == obj).astype(np.float32))[None].to(device)
        mem_x, mem_y = [tf[:1]], [net.target_labels(mask0, feats)]
        tm = net.new_target_model()
        tm.fit(tf[:1], mem_y[0], iterations=cfg.init_iterations)
        probs[0, k] = mask0[0].cpu()
        scores[0, k] = tm.score(tf[:1])[0, 0].cpu()
        for t in range(1, t_len):
            score, logit = net.decode(tm, [f[t:t + 1] for f in feats], size)
            scores[t, k], probs[t, k] = score[0, 0].cpu(), torch.sigmoid(logit[0, 0]).cpu()
            if cfg.update_every and t % cfg.update_every == 0:
                mem_x.append(tf[t:t + 1])
                mem_y.append(net.target_labels((probs[t, k] > 0.5).float()[None].to(device), feats))
                if len(mem_x) > cfg.memory:  # forget the oldest sample after the first frame
                    del mem_x[1], mem_y[1]
                tm.fit(torch.cat(mem_x), torch.cat(mem_y), iterations=cfg.update_iterations,
                       sample_weights=memory_weights(len(mem_x), cfg.update_lr))
    if ids:
        background = (1 - probs.max(1, keepdim=True).values).clamp(min=0.5)
        labels = np.array([0, *ids], np.uint8)[torch.cat([background, probs], 1).argmax(1).numpy()]
    else:
        labels = np.zeros((t_len, *size), np.uint8)
    labels[0] = first
    return (labels, scores, probs) if return_maps else labels


class VideoPairs(Dataset):
    """Training episodes: ``((reference, reference mask, test), test mask)`` of one object of one video.

    The reference is the video's first annotated frame half of the time, else an annotated frame at most
    ``max_gap`` frames from the test frame; the object is drawn among those in the reference.

    Args:
        sequences: videos with frames on disk.
        size: ``(height, width)`` of the items.
        max_gap: the largest reference-test distance.
        hflip: flip both frames left-right with probability 0.5.
    """

    def __init__(self, sequences, *, size: tuple[int, int], max_gap: int = 8, hflip: bool = True) -> None:
        self.sequences = [s for s in sequences if s.frames and len(s.annotated_indices) > 1]
        self.items = [(s, i) for s in self.sequences for i in s.annotated_indices[1:]]
        self.size, self.max_gap, self.hflip = tuple(size), max_gap, hflip

    def __len__(self) -> int:
        return len(self.items)

    def _frame(self, seq: VideoSequence, i: int) -> tuple[torch.Tensor, np.ndarray]:
        image = torch.from_numpy(seq.frame(i).copy()).permute(2, 0, 1).float().div(255)
        image = F.interpolate(image[None], size=self.size, mode="bilinear", align_corners=False)[0]
        labels = F.interpolate(torch.from_numpy(seq.labels(i))[None, None].float(), size=self.size,
                               mode="nearest")[0, 0].byte().numpy()
        return image, labels

    def __getitem__(self, index: int):
        seq, t = self.items[index]
        near = [i for i in seq.annotated_indices if i != t and abs(i - t) <= self.max_gap]
        ref_i = seq.annotated_indices[0] if torch.rand(()) < 0.5 or not near else \
            near[int(torch.randint(len(near), ()))]
        ref, ref_labels = self._frame(seq, ref_i)
        test, test_labels = self._frame(seq, t)
        present = [int(i) for i in np.unique(ref_labels) if i not in (0, VOID)]
        obj = present[int(torch.randint(len(present), ()))] if present else 1

        def mask(lab):
            return torch.from_numpy(np.where(lab == VOID, 255, lab == obj).astype(np.int64))

        ref_mask, test_mask = mask(ref_labels), mask(test_labels)
        if self.hflip and torch.rand(()) < 0.5:
            ref, ref_mask, test, test_mask = ref.flip(-1), ref_mask.flip(-1), test.flip(-1), test_mask.flip(-1)
        return (ref, ref_mask, test), test_mask


@dataclass
class FRTMRecipe(VOSRecipe):
    """A DAVIS recipe with an online target model and a decoder trained on episodes (:mod:`course_lib.recipes.frtm`)."""

    @property
    def requires_checkpoint(self) -> bool:
        """The decoder is trained: ``python -m course_lib.evaluate`` needs ``--checkpoint``."""
        return True

    def build_model(self, cfg: FRTMConfig) -> nn.Module:
        return frtm_net(arch=cfg.arch, pretrained=cfg.pretrained_backbone, target_layer=cfg.target_layer,
                        kernel_size=cfg.kernel_size, lam=cfg.lam, iterations=cfg.init_iterations,
                        width=cfg.decoder_width)

    def build_dataset(self, data_root, split: str, cfg: FRTMConfig, train: bool) -> Dataset | DAVIS:
        if not train:
            return super().build_dataset(data_root, split, cfg, train)
        davis = super().build_dataset(data_root, split, dataclasses.replace(cfg, max_sequences=None), train=False)
        return VideoPairs(davis.sequences, size=tuple(cfg.size), max_gap=cfg.max_gap)

    def build_loss(self, cfg: FRTMConfig, train_set: Dataset):
        """Plain binary cross-entropy over the non-void pixels (OSVOS's class balancing pushes an uncertain decoder
        towards the object, which a random backbone on new videos turns into masks over the whole frame)."""

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            valid = target != VOID
            return bce_loss(logits, torch.where(valid, target, torch.zeros_like(target)).float()[:, None],
                            valid[:, None])

        return loss

    def segment(self, model: nn.Module, seq: VideoSequence, cfg: FRTMConfig, device: torch.device | None = None
                ) -> np.ndarray:
        return segment_sequence(model, seq, cfg, device, segmenter=frtm_segment)


FRTM_QUICK = FRTMConfig(epochs=30, batch_size=4, lr=1e-3, size=(96, 160), max_width=432, max_sequences=2,
                        amp=False, val_every=10)
FRTM_FULL = dataclasses.replace(FRTM_QUICK, profile="full", epochs=40, size=(240, 432), decoder_width=64,
                                max_sequences=None, amp=True, val_every=10)


def frtm_recipes() -> list[FRTMRecipe]:
    """``frtm-davis2016`` and ``frtm-davis2017``."""
    return [FRTMRecipe(name=f"frtm-davis{year}", description=f"online target model (FRTM-VOS / LWL style): "
                       f"steepest-descent filter on frozen ResNet-18 features + trained decoder, DAVIS {year}",
                       quick=FRTM_QUICK, full=FRTM_FULL, chapter="8", dataset=f"davis{year}", monitor="jf",
                       splits=("train", "val")) for year in ("2016", "2017")]
