"""Pictures of Chapter 10 (driving): the nuScenes sensor rig, and a moving-object mask over a frame.

The nuScenes figure is drawn from the numbers of its paper (Caesar et al., CVPR 2020, Table 1 and Fig. 2): six
cameras around the car (the back one with a wider lens), one 32-beam lidar on the roof, five radars.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["motion_overlay", "nuscenes_rig_figure"]

#: (name, heading in degrees, horizontal field of view in degrees) of nuScenes' six cameras
NUSCENES_CAMERAS = (("CAM_FRONT", 0, 70), ("CAM_FRONT_LEFT", 55, 70), ("CAM_FRONT_RIGHT", -55, 70),
                    ("CAM_BACK_LEFT", 110, 70), ("CAM_BACK_RIGHT", -110, 70), ("CAM_BACK", 180, 110))
#: (name, heading in degrees) of its five long-range radars (77 GHz, about 250 m)
NUSCENES_RADARS = (("RADAR_FRONT", 0), ("RADAR_FRONT_LEFT", 90), ("RADAR_FRONT_RIGHT", -90),
                   ("RADAR_BACK_LEFT", 160), ("RADAR_BACK_RIGHT", -160))


def nuscenes_rig_figure(size: float = 5.0) -> Figure:
    """Top view of nuScenes' sensors: camera fields of view (wedges), the lidar's 360-degree sweep, the radars."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Rectangle, Wedge

    fig, ax = plt.subplots(figsize=(size, size))
    ax.add_patch(Circle((0, 0), 3.2, color="0.85", zorder=0, label="LIDAR_TOP (32 beams, 20 Hz, 360 deg)"))
    for k, (name, heading, fov) in enumerate(NUSCENES_CAMERAS):
        ax.add_patch(Wedge((0, 0), 2.6, 90 + heading - fov / 2, 90 + heading + fov / 2, alpha=0.35,
                           color=plt.cm.tab10(k), label=f"{name} ({fov} deg, 12 Hz)"))
    for _, heading in NUSCENES_RADARS:
        a = np.deg2rad(90 + heading)
        ax.annotate("", (3.0 * np.cos(a), 3.0 * np.sin(a)), (0.6 * np.cos(a), 0.6 * np.sin(a)),
                    arrowprops={"arrowstyle": "->", "color": "crimson", "lw": 1.5})
    ax.plot([], [], color="crimson", label="5 radars (77 GHz, 13 Hz)")
    ax.add_patch(Rectangle((-0.45, -1.0), 0.9, 2.0, color="0.2", zorder=3))
    ax.set(xlim=(-3.4, 3.4), ylim=(-3.4, 3.4), aspect="equal", title="nuScenes sensor rig (top view, front up)")
    ax.set_axis_off()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=7, ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def motion_overlay(picture, moving, truth=None, alpha: float = 0.5) -> np.ndarray:
    """``uint8 [H, W, 3]``: ``picture`` in grey with the predicted moving pixels in red, and (when ``truth``, an
    object map, is given) missed object pixels in blue; correct ones come out magenta."""
    out = np.asarray(picture, np.float32)
    out = np.repeat(out.mean(-1, keepdims=True), 3, -1) if out.ndim == 3 else np.stack([out] * 3, -1)
    moving = np.asarray(moving, bool)
    out[moving] = (1 - alpha) * out[moving] + alpha * np.array([255, 0, 0])
    if truth is not None:
        missed = (np.asarray(truth) > 0) & ~moving
        hit = (np.asarray(truth) > 0) & moving
        out[missed] = (1 - alpha) * out[missed] + alpha * np.array([0, 80, 255])
        out[hit] = (1 - alpha) * out[hit] + alpha * np.array([255, 0, 255])
    return out.clip(0, 255).astype(np.uint8)
