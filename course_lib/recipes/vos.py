"""Semi-supervised video object segmentation recipes (Chapter 8): flow propagation and OSVOS, scored with J&F.

Given the first frame's object masks, segment the objects in every later frame. Two families here:

* ``vos-flow-*`` (no training): :func:`course_lib.classical.propagate_labels`, Farneback or RAFT flow (Chapter 9),
  forward-backward consistency;
* ``osvos-*`` (Caelles et al., "One-Shot Video Object Segmentation", CVPR 2017, https://arxiv.org/abs/1611.05198):
  a *parent* network learns foreground against background on the training videos (``python -m course_lib.train``);
  on each test video a copy is fine-tuned on the first frame's mask alone (one object at a time, a few dozen
  steps with flips and shifts), then segments every frame on its own; optionally averaged with the previous
  frame's result warped by the flow (temporal consistency). Our parent is a small U-Net, not OSVOS's VGG-16.

Evaluation (``python -m course_lib.evaluate RECIPE --data-root DIR --split val``) segments every sequence of the
split, writes the results in the DAVIS submission layout (``<work dir>/<recipe>/results/<split>/<seq>/NNNNN.png``:
grey 0/255 for DAVIS 2016, palette PNGs for 2017) and returns the DAVIS numbers of the semi-supervised protocol
(:mod:`course_lib.metrics.video`); ``python -m course_lib.score davis --gt DIR --pred THAT_FOLDER`` gives the same.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..classical.optical_flow import FarnebackFlow
from ..classical.propagation import module_flow_fn, propagate_labels, warp_labels
from ..config import get_device, get_profile, work_dir
from ..data import registry
from ..data.davis import DAVIS
from ..data.video import VideoFrames, VideoSequence
from ..datasets import locate
from ..losses.video import balanced_bce_loss
from ..metrics.video import global_scores, sequence_scores
from ..models.flow_ops import pad_to_multiple, unpad
from ..models.unet import unet
from ..synthetic.davis import save_annotation
from .base import Recipe
from .config import RecipeConfig

__all__ = ["VOSConfig", "VOSRecipe", "osvos_segment", "segment_sequence", "vos_recipes"]


@dataclass(frozen=True)
class VOSConfig(RecipeConfig):
    """Settings of the VOS recipes (the shared ones are :class:`course_lib.recipes.config.RecipeConfig`'s).

    Args:
        method: ``"flow"`` (propagation) or ``"osvos"``.
        flow: ``"farneback"`` or ``"raft"`` (RAFT-small; torchvision's weights where found on disk, else random).
        consistency: propagation stops where the forward-backward check fails.
        temporal: OSVOS: average each frame's probabilities with the previous result warped by the flow.
        max_width: frames wider than this are shrunk to it before segmenting (results are scored at full size;
            ``None``: never).
        max_sequences: evaluate only the first this many sequences of the split (``None``: all).
        max_frames: only the first this many frames of each sequence (``None``: all).
        width, depth: the parent U-Net.
        size: ``(height, width)`` of the parent's training frames.
        finetune_steps: OSVOS's one-shot fine-tuning steps per object.
        finetune_lr: their learning rate (Adam).
    """

    method: str = "flow"
    flow: str = "farneback"
    consistency: bool = True
    temporal: bool = False
    max_width: int | None = None
    max_sequences: int | None = None
    max_frames: int | None = None
    width: int = 16
    depth: int = 3
    size: tuple[int, int] = (64, 96)
    finetune_steps: int = 40
    finetune_lr: float = 1e-3


def _flow_model(cfg: VOSConfig) -> nn.Module:
    if cfg.flow == "farneback":
        return FarnebackFlow()
    if cfg.flow == "raft":
        from ..models.raft import find_raft_small_weights, raft_small

        return raft_small(weights=find_raft_small_weights() or None)
    raise ValueError(f"flow must be 'farneback' or 'raft', got {cfg.flow!r}")


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255)


def osvos_segment(parent: nn.Module, frames: np.ndarray, first_labels: np.ndarray, cfg: VOSConfig, *,
                  flow_fn=None, device: torch.device | None = None) -> np.ndarray:
    """OSVOS on one video: per object, fine-tune a copy of ``parent`` on frame 0, then segment each frame.

    Args:
        parent: the parent network (``[B, 3, H, W]`` -> one logit map).
        frames: ``uint8 [T, H, W, 3]``.
        first_labels: ``uint8 [H, W]`` object ids of frame 0.
        cfg: ``finetune_steps``, ``finetune_lr``, ``temporal``.
        flow_fn: a flow function for ``temporal`` (:data:`course_lib.classical.propagation.FlowFn`).

    Returns:
        ``uint8 [T, H, W]`` object ids (each pixel: the object of highest probability, if above 0.5).
    """
    device = device or get_device()
    first = np.where(first_labels == 255, 0, first_labels)
    ids = [int(i) for i in np.unique(first) if i]
    x, pads = pad_to_multiple(_to_tensor(frames).to(device), 2 ** cfg.depth)
    probs = []
    for obj in ids:
        net = copy.deepcopy(parent).to(device).train()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.finetune_lr)
        target, _ = pad_to_multiple(torch.from_numpy((first == obj).astype(np.int64))[None, None].float(),
                                    2 ** cfg.depth, mode="constant")
        target = target[:, 0].long().to(device)
        gen = torch.Generator().manual_seed(cfg.seed + obj)
        for _ in range(cfg.finetune_steps):
            xi, ti = x[:1], target
            if torch.rand((), generator=gen) < 0.5:
                xi, ti = xi.flip(-1), ti.flip(-1)
            dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=gen))
            xi, ti = xi.roll((dy, dx), (-2, -1)), ti.roll((dy, dx), (-2, -1))
            loss = balanced_bce_loss(net(xi), ti)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            probs.append(torch.cat([torch.sigmoid(unpad(net(x[i:i + 4]), pads)) for i in range(0, len(x), 4)])[:, 0])
    if not ids:
        return np.zeros(frames.shape[:3], np.uint8)
    p = torch.stack(probs, 1).cpu()  # [T, K, H, W]
    scores = torch.cat([(1 - p.max(1, keepdim=True).values).clamp(min=0.5), p], 1)  # background: 1 - max, >= 0.5
    lut = np.array([0, *ids], np.uint8)
    out = np.zeros(frames.shape[:3], np.uint8)
    out[0] = first
    for t in range(1, len(frames)):
        s = scores[t]
        if cfg.temporal and flow_fn is not None:
            back = flow_fn(frames[t], frames[t - 1])
            prev = warp_labels(out[t - 1], back, ids)
            s = 0.5 * s + 0.5 * torch.from_numpy(np.stack([prev == v for v in lut]).astype(np.float32))
        out[t] = lut[s.argmax(0).numpy()]
    return out


def segment_sequence(model: nn.Module, seq: VideoSequence, cfg: VOSConfig, device: torch.device | None = None,
                     *, segmenter=None) -> np.ndarray:
    """Object ids ``uint8 [T, H, W]`` of every frame of ``seq`` at full size (frame 0: its annotation).

    ``segmenter(model, frames, first_labels, cfg, device=...)`` replaces propagation / OSVOS (e.g.
    :func:`course_lib.recipes.frtm.frtm_segment`); frames are shrunk to ``max_width`` first either way.
    """
    n = len(seq) if cfg.max_frames is None else min(len(seq), cfg.max_frames)
    frames = np.stack([seq.frame(i) for i in range(n)])
    first = seq.labels(seq.annotated_indices[0])
    h, w = first.shape
    if cfg.max_width is not None and w > cfg.max_width:
        size = (max(8, round(h * cfg.max_width / w)), cfg.max_width)
        frames = F.interpolate(_to_tensor(frames), size=size, mode="bilinear", align_corners=False)
        frames = (frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
        small = F.interpolate(torch.from_numpy(first)[None, None].float(), size=size, mode="nearest")[0, 0]
        small = small.byte().numpy()
    else:
        small = first
    if segmenter is not None:
        labels = segmenter(model, frames, small, cfg, device=device)
    else:
        flow_fn = module_flow_fn(_flow_model(cfg) if cfg.method == "osvos" else model, device=device or "cpu")
        if cfg.method == "flow":
            labels = propagate_labels(frames, small, flow_fn, consistency=cfg.consistency)
        else:
            labels = osvos_segment(model, frames, small, cfg, flow_fn=flow_fn, device=device)
    if labels.shape[1:] != (h, w):
        labels = F.interpolate(torch.from_numpy(labels)[:, None].float(), size=(h, w), mode="nearest")[:, 0]
        labels = labels.byte().numpy()
    labels[0] = np.where(first == 255, 0, first)
    return labels


@dataclass
class VOSRecipe(Recipe):
    """A DAVIS recipe: flow propagation (no training) or OSVOS (a parent network trained on the train split)."""

    @property
    def requires_checkpoint(self) -> bool:
        """Whether ``python -m course_lib.evaluate`` needs ``--checkpoint`` (only OSVOS's parent network)."""
        return self.quick.method == "osvos"

    def resolve_data_root(self, data_root: str | Path, profile: str | None = None) -> Path:
        """The DAVIS folder at or below ``data_root``; absent, the synthetic sample in the quick profile."""
        try:
            return registry.find_root(self.dataset, data_root)
        except FileNotFoundError:
            if get_profile(profile) == "full":
                raise
        return locate(self.dataset, data_root, "quick")[0]

    def build_model(self, cfg: VOSConfig) -> nn.Module:
        if cfg.method == "flow":
            return _flow_model(cfg)
        if cfg.method == "osvos":
            return unet(in_channels=3, out_channels=1, width=cfg.width, depth=cfg.depth)
        raise ValueError(f"method must be 'flow' or 'osvos', got {cfg.method!r}")

    def load_model(self, checkpoint, device: torch.device | None = None) -> tuple[nn.Module, VOSConfig]:
        """OSVOS's parent from ``checkpoint``; the flow recipes need none."""
        if checkpoint is None and not self.requires_checkpoint:
            cfg = self.config()
            return self.build_model(cfg).to(device or get_device()).eval(), cfg
        return super().load_model(checkpoint, device)

    def build_dataset(self, data_root: Path, split: str, cfg: VOSConfig, train: bool) -> Dataset | DAVIS:
        try:
            davis = DAVIS(data_root, split=split, need_frames=True)
        except FileNotFoundError:  # no ImageSets list (e.g. a partial copy): every sequence on disk
            davis = DAVIS(data_root, split=None, need_frames=True)
            print(f"{data_root}: no {split} list in ImageSets; using all {len(davis)} sequences with frames")
        if train:
            return VideoFrames(davis.sequences, size=tuple(cfg.size), hflip=True)
        if cfg.max_sequences is not None:
            davis.sequences = davis.sequences[:cfg.max_sequences]
        davis.split = split
        return davis

    def build_loss(self, cfg: VOSConfig, train_set: Dataset):
        return balanced_bce_loss

    def segment(self, model: nn.Module, seq: VideoSequence, cfg: VOSConfig, device: torch.device | None = None
                ) -> np.ndarray:
        """One sequence's object ids at full size (:func:`segment_sequence`)."""
        return segment_sequence(model, seq, cfg, device)

    def results_dir(self, split: str | None) -> Path:
        """Where :meth:`evaluate` writes the DAVIS-layout results of ``split``."""
        return work_dir() / self.name / "results" / (split or "all")

    def evaluate(self, model: nn.Module, dataset: DAVIS, cfg: VOSConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        device = device or get_device()
        out = self.results_dir(getattr(dataset, "split", None))
        objects = []
        for seq in dataset:
            labels = self.segment(model, seq, cfg, device)
            for t, lab in enumerate(labels):
                save_annotation(out / seq.name / f"{t:05d}.png", lab, binary=seq.binary)
            ids = seq.object_ids()
            truth = np.stack([np.stack([seq.labels(t) == i for t in range(len(labels))]) for i in ids])
            objects += sequence_scores(np.stack([labels == i for i in ids]), truth)
            if progress:
                print(f"{seq.name}: J&F {np.mean([o['J&F-Mean'] for o in objects[-len(ids):]]):.3f}")
        g = global_scores(objects)
        return {"jf": g["J&F-Mean"], "j_mean": g["J-Mean"], "j_recall": g["J-Recall"], "j_decay": g["J-Decay"],
                "f_mean": g["F-Mean"], "f_recall": g["F-Recall"], "f_decay": g["F-Decay"],
                "objects": float(len(objects)), "sequences": float(len(dataset))}


FLOW_QUICK = VOSConfig(method="flow", max_width=432)
FLOW_FULL = dataclasses.replace(FLOW_QUICK, profile="full", max_width=None)
OSVOS_QUICK = VOSConfig(method="osvos", epochs=6, batch_size=4, lr=1e-3, max_width=216, finetune_steps=40,
                        max_sequences=2, amp=False, val_every=6)
OSVOS_FULL = dataclasses.replace(OSVOS_QUICK, profile="full", epochs=60, width=32, depth=4, size=(240, 432),
                                 max_width=432, finetune_steps=300, max_sequences=None, amp=True, val_every=20)


def vos_recipes() -> list[VOSRecipe]:
    """The recipes of Chapter 8 on DAVIS 2016 and 2017."""
    out = []
    for year in ("2016", "2017"):
        common = {"chapter": "8", "dataset": f"davis{year}", "monitor": "jf", "splits": ("train", "val")}
        out += [
            VOSRecipe(name=f"vos-flow-davis{year}", description=f"mask propagation with Farneback flow and the "
                      f"forward-backward check on DAVIS {year} (no training)", quick=FLOW_QUICK, full=FLOW_FULL,
                      **common),
            VOSRecipe(name=f"osvos-davis{year}", description=f"OSVOS: parent U-Net + one-shot fine-tuning on the "
                      f"first frame, DAVIS {year}", quick=OSVOS_QUICK, full=OSVOS_FULL, **common),
        ]
    return out
