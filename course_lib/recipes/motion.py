"""Flow-based motion detection on KITTI 2015 (Chapter 10): flow -> ego-motion compensation -> moving mask -> scores.

For each pair of a KITTI 2015 training split (real, or the synthetic sample of
:func:`course_lib.synthetic.kitti_flow.write_sample`): estimate the flow (:data:`FLOWS`), fit the camera's motion
to it with RANSAC (:func:`course_lib.classical.motion.ego_motion_residual`: the essential matrix with the
``calib_cam_to_cam`` camera matrix, or a homography), threshold the residual (:func:`moving_mask`), and score the
mask against ``obj_map`` (:class:`course_lib.metrics.motion.MotionScores`: precision, recall, F1 over pixels and
objects). The flows compared:

* ``ground-truth``: KITTI's own ``flow_occ`` (sparse: pixels without LiDAR are left out of the fit and of the
  scores), the upper bound of the method;
* ``farneback``: OpenCV's Farnebäck (:func:`course_lib.classical.optical_flow.farneback_flow`);
* ``raft``: the book's RAFT-small (:func:`course_lib.models.raft.raft_small`) with torchvision's FlyingChairs +
  FlyingThings weights where they can be had (``$COURSE_RAFT_WEIGHTS``, torch's hub cache, else torchvision's
  weight API; offline without them the row says so);
* ``torchvision-raft``: ``torchvision.models.optical_flow.raft_small`` with the same weights, as an oracle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..classical.motion import ego_motion_residual, moving_mask
from ..classical.optical_flow import farneback_flow
from ..data.kitti_flow import KittiFlow
from ..metrics.motion import MotionScores

__all__ = ["FLOWS", "detect_moving", "evaluate_motion", "flow_estimator"]

FLOWS = ("ground-truth", "farneback", "raft", "torchvision-raft")


def flow_estimator(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function ``(image1, image2) uint8 [H, W, 3] -> flow float32 [H, W, 2]`` for the learned and classical
    flows of :data:`FLOWS` (``ground-truth`` is read from the files instead).

    Raises:
        RuntimeError: RAFT's pretrained weights cannot be had here (offline); the message says why.
    """
    if name == "farneback":
        return lambda a, b: farneback_flow(a, b)
    if name in ("raft", "torchvision-raft"):
        from ..models.flow_ops import pad_to_multiple, unpad
        from ..models.raft import find_raft_small_weights, raft_small, torchvision_raft_small_state

        path = find_raft_small_weights()  # $COURSE_RAFT_WEIGHTS or torch's hub cache, never downloads
        state, source = ((torch.load(path, map_location="cpu", weights_only=True), str(path)) if path
                         else torchvision_raft_small_state())
        if state is None:
            raise RuntimeError(f"RAFT-small weights cannot be had here: {source}")
        if name == "raft":
            net = raft_small()
            net.load_state_dict(state)
        else:
            from torchvision.models.optical_flow import raft_small as tv_raft_small

            net = tv_raft_small(weights=None)
            net.load_state_dict(state)
        net.eval()

        def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(np.concatenate([a, b], -1)).permute(2, 0, 1)[None].float() / 255
            x, pads = pad_to_multiple(x, 8)
            with torch.inference_mode():
                if name == "raft":
                    flow = net(x)
                else:  # torchvision: frames in [-1, 1], the last of the iterations' flows
                    flow = net(2 * x[:, :3] - 1, 2 * x[:, 3:] - 1, num_flow_updates=12)[-1]
            flow = flow[0] if isinstance(flow, (list, tuple)) else flow
            return unpad(flow if flow.dim() == 4 else flow[None], pads)[0].permute(1, 2, 0).numpy()

        return run
    raise ValueError(f"unknown flow {name!r}; choose one of {FLOWS}")


def detect_moving(flow: np.ndarray, *, K=None, model: str = "essential", threshold: float = 1.0,
                  valid=None, min_area: int = 20, open_radius: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Flow -> ``(moving mask bool [H, W], residual float32 [H, W])``; ``essential`` falls back to a homography
    when no ``K`` is known. The residual threshold is in pixels (Sampson distance or reprojection error)."""
    if model == "essential" and K is None:
        model = "homography"
    residual = ego_motion_residual(flow, model=model, K=K, step=4, threshold=0.5, valid=valid)
    mask = moving_mask(residual, threshold=threshold, min_area=min_area, open_radius=open_radius)
    if valid is not None:
        mask &= valid
    return mask, residual


def evaluate_motion(root: str | Path, *, flows=("ground-truth", "farneback"), model: str = "essential",
                    threshold: float = 1.0, max_items: int | None = None, log: Callable[[str], None] | None = None
                    ) -> list[dict]:
    """Score every flow of ``flows`` on the KITTI 2015 training pairs under ``root`` that have an ``obj_map``.

    Returns one row per flow: ``{"flow", "model", "threshold", "pairs", "seconds", <MotionScores.compute()>}``, or
    ``{"flow", "error"}`` when that flow cannot run here. Pixels without ground-truth flow are left out of the
    ``ground-truth`` row's fit and scores; the other flows are scored on all pixels.

    Raises:
        FileNotFoundError: no KITTI 2015 pair with an ``obj_map`` under ``root`` (KITTI 2012 has none).
    """
    dataset = KittiFlow(root, "train")
    indices = [i for i in range(len(dataset)) if dataset.obj_map_path(i).is_file()][:max_items]
    if not indices:
        raise FileNotFoundError(f"{dataset.root}: no training/obj_map/*.png (motion detection needs KITTI 2015's "
                                "object maps; KITTI 2012 has none)")
    rows = []
    for name in flows:
        start = time.perf_counter()
        try:
            estimate = None if name == "ground-truth" else flow_estimator(name)
            scores = MotionScores()
            for i in indices:
                sample = dataset.load_raw(i)
                valid = sample.valid_occ if name == "ground-truth" else None
                flow = sample.flow if name == "ground-truth" else estimate(sample.image1, sample.image2)
                mask, _ = detect_moving(flow, K=dataset.camera_matrix(i), model=model, threshold=threshold,
                                        valid=valid)
                scores.update(mask, dataset.obj_map(i), valid)
        except (RuntimeError, ValueError, ImportError) as err:
            rows.append({"flow": name, "error": f"{type(err).__name__}: {str(err).splitlines()[0]}"})
            continue
        rows.append({"flow": name, "model": model, "threshold": threshold, "pairs": len(indices),
                     "seconds": time.perf_counter() - start, **scores.compute()})
        if log:
            log(f"[motion] {name}: pixel F1 {rows[-1]['pixel_f1']:.3f}, object F1 {rows[-1]['object_f1']:.3f}")
    return rows
