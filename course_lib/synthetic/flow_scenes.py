"""Synthetic optical flow with exact ground truth: textured layers moved by known affine motions.

Introduced in Chapter 9 (optical flow). In the spirit of FlyingChairs (A. Dosovitskiy et al., *FlowNet*,
https://arxiv.org/abs/1504.06852), which pasted chairs under random affine motions over photographs: here a textured
background and a few textured random shapes each get their own affine motion (shift, rotation, scaling), so the flow
of every pixel is known exactly, and so is which pixels of frame 1 disappear in frame 2 (occlusion).

A :class:`FlowScene` renders frames ``t = 0, 1, 2, ...`` (pose of layer ``k`` at frame ``t`` = its motion applied
``t`` times), the flow from frame ``t`` to ``t + 1`` and the occlusion mask of frame ``t``. :func:`make_pair` and
:func:`make_sequence` draw random scenes; :mod:`course_lib.synthetic.chairs` and
:mod:`course_lib.synthetic.kitti_flow` write them to disk in the FlyingChairs and KITTI formats (``write_sample``).

Example:
    >>> pair = make_pair(np.random.default_rng(0), size=(64, 48))
    >>> pair.image1.shape, pair.flow.shape, pair.occlusion.dtype
    ((48, 64, 3), (48, 64, 2), dtype('bool'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FlowPair", "FlowScene", "Layer", "make_pair", "make_scene", "make_sequence", "random_affine"]


@dataclass
class Layer:
    """One layer of a scene, in its own (canonical) coordinates = the image coordinates of frame 0.

    Attributes:
        texture: ``float32 [H, W, 3]`` colours in 0..255.
        alpha: ``float32 [H, W]`` coverage in [0, 1] (all ones for the background).
        motion: ``3x3`` affine matrix in image coordinates: a point at ``x`` in frame ``t`` is at ``motion @ x`` in
            frame ``t + 1``.
    """

    texture: np.ndarray
    alpha: np.ndarray
    motion: np.ndarray


@dataclass
class FlowPair:
    """Two frames and their exact flow.

    Attributes:
        image1, image2: ``uint8 [H, W, 3]``.
        flow: ``float32 [H, W, 2]`` from frame 1 to frame 2.
        occlusion: ``bool [H, W]``: pixels of frame 1 hidden in frame 2 or moving out of the picture.
        labels: ``int [H, W]``: the layer seen at each pixel of frame 1 (0 = background).
    """

    image1: np.ndarray
    image2: np.ndarray
    flow: np.ndarray
    occlusion: np.ndarray
    labels: np.ndarray


def random_affine(rng: np.random.Generator, center: tuple[float, float], max_shift: float, max_rotation: float,
                  max_zoom: float, zoom_bias: float = 0.0) -> np.ndarray:
    """A random ``3x3`` affine motion about ``center``: rotate and zoom about it, then shift.

    Args:
        rng: random generator.
        center: ``(x, y)`` the rotation and zoom keep fixed.
        max_shift: largest shift in pixels (uniform in a disk).
        max_rotation: largest rotation in degrees.
        max_zoom: the zoom factor lies in ``[1 - max_zoom, 1 + max_zoom] + zoom_bias``.
        zoom_bias: added to the zoom factor (a car driving forward sees the scene expand: bias > 0).

    Example:
        >>> m = random_affine(np.random.default_rng(0), (10, 10), 0, 0, 0)
        >>> np.allclose(m, np.eye(3))
        True
    """
    cx, cy = center
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    zoom = rng.uniform(1 - max_zoom, 1 + max_zoom) + zoom_bias
    radius, direction = max_shift * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    c, s = np.cos(angle) * zoom, np.sin(angle) * zoom
    about = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
    shift = np.array([[1, 0, radius * np.cos(direction)], [0, 1, radius * np.sin(direction)], [0, 0, 1]])
    return shift @ about


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float, channels: int = 3) -> np.ndarray:
    """``float32 [h, w, channels]`` random field, smooth over about ``cell`` pixels (bicubic upsampled noise)."""
    import cv2

    gh, gw = max(2, int(np.ceil(h / cell)) + 2), max(2, int(np.ceil(w / cell)) + 2)
    grid = rng.standard_normal((gh, gw, channels)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return big.reshape(big.shape[0], big.shape[1], channels)[:h, :w]


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful texture with structure at several scales (so that matching is possible everywhere)."""
    tex = np.broadcast_to(rng.uniform(40, 215, size=3).astype(np.float32), (h, w, 3)).copy()
    for cell, amp in ((max(h, w) / 3, 40), (12, 30), (4, 20)):
        tex += amp * rng.uniform(0.5, 1.0, size=3).astype(np.float32) * _smooth_noise(rng, h, w, cell)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(5, 16)
    stripes = np.sign(np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period))
    tex += rng.uniform(10, 35) * stripes[..., None] * rng.uniform(-1, 1, size=3).astype(np.float32)
    return np.clip(tex, 0, 255)


def _shape_alpha(rng: np.random.Generator, h: int, w: int, radius: float, center: tuple[float, float]) -> np.ndarray:
    """An anti-aliased random shape (star-like polygon, ellipse or rounded box) around ``center``."""
    import cv2

    ss = 4  # supersampling
    canvas = np.zeros((h * ss, w * ss), np.uint8)
    cx, cy = center
    kind = rng.integers(3)
    if kind == 0:
        n = int(rng.integers(5, 10))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.45, 1.0, n)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [np.round(pts * ss).astype(np.int32)], 255)
    elif kind == 1:
        axes = (int(radius * rng.uniform(0.5, 1.0) * ss), int(radius * rng.uniform(0.3, 0.8) * ss))
        cv2.ellipse(canvas, (int(cx * ss), int(cy * ss)), axes, rng.uniform(0, 180), 0, 360, 255, -1)
    else:
        half = np.array([radius * rng.uniform(0.4, 1.0), radius * rng.uniform(0.25, 0.7)])
        box = ((cx * ss, cy * ss), tuple(2 * half * ss), rng.uniform(0, 180))
        cv2.fillPoly(canvas, [np.round(cv2.boxPoints(box)).astype(np.int32)], 255)
        # a "leg": chairs are not convex
        leg = ((cx * ss + half[0] * ss * 0.6, cy * ss + half[1] * ss), (half[0] * ss * 0.3, half[1] * ss * 1.6),
               rng.uniform(-20, 20))
        cv2.fillPoly(canvas, [np.round(cv2.boxPoints(leg)).astype(np.int32)], 255)
    return cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)


class FlowScene:
    """A layered scene; layer 0 is the background, later layers are drawn on top of earlier ones.

    Args:
        layers: the :class:`Layer` list, back to front.
        size: ``(width, height)`` of the frames.

    Example:
        >>> scene = make_scene(np.random.default_rng(1), size=(32, 24))
        >>> image, labels = scene.render(0)
        >>> image.shape, int(labels.min())
        ((24, 32, 3), 0)
    """

    def __init__(self, layers: list[Layer], size: tuple[int, int]) -> None:
        self.layers = layers
        self.width, self.height = int(size[0]), int(size[1])

    def pose(self, k: int, t: int) -> np.ndarray:
        """Canonical -> image coordinates of layer ``k`` at frame ``t`` (its motion applied ``t`` times)."""
        return np.linalg.matrix_power(self.layers[k].motion, t)

    def render(self, t: int, noise: float = 2.0, rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``t``: ``uint8 [H, W, 3]`` picture and ``int [H, W]`` index of the visible layer."""
        import cv2

        size = (self.width, self.height)
        image = np.zeros((self.height, self.width, 3), np.float32)
        labels = np.zeros((self.height, self.width), np.int64)
        for k, layer in enumerate(self.layers):
            m = self.pose(k, t)[:2].astype(np.float64)
            border = cv2.BORDER_REFLECT_101 if k == 0 else cv2.BORDER_CONSTANT
            tex = cv2.warpAffine(layer.texture, m, size, flags=cv2.INTER_LINEAR, borderMode=border)
            alpha = np.ones((self.height, self.width), np.float32) if k == 0 else \
                cv2.warpAffine(layer.alpha, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            image = alpha[..., None] * tex + (1 - alpha[..., None]) * image
            labels[alpha > 0.5] = k
        if noise and rng is not None:
            image = image + rng.normal(0, noise, image.shape).astype(np.float32)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8), labels

    def flow(self, labels: np.ndarray) -> np.ndarray:
        """The flow to the next frame of a frame whose visible layers are ``labels``: ``motion_k @ x - x``."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        flow = np.zeros((self.height, self.width, 2), np.float64)
        for k, layer in enumerate(self.layers):
            where = labels == k
            if not where.any():
                continue
            m = layer.motion
            x, y = xx[where], yy[where]
            flow[where, 0] = m[0, 0] * x + m[0, 1] * y + m[0, 2] - x
            flow[where, 1] = m[1, 0] * x + m[1, 1] * y + m[1, 2] - y
        return flow.astype(np.float32)

    def occlusion(self, labels: np.ndarray, flow: np.ndarray, next_labels: np.ndarray) -> np.ndarray:
        """Pixels of a frame that are hidden in the next one (another layer there) or leave the picture."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width]
        tx, ty = np.rint(xx + flow[..., 0]).astype(int), np.rint(yy + flow[..., 1]).astype(int)
        outside = (tx < 0) | (tx >= self.width) | (ty < 0) | (ty >= self.height)
        seen = next_labels[np.clip(ty, 0, self.height - 1), np.clip(tx, 0, self.width - 1)]
        return outside | (seen != labels)


def make_scene(rng: np.random.Generator, size: tuple[int, int] = (160, 120), num_objects: tuple[int, int] = (2, 5),
               object_shift: float = 0.1, background_shift: float = 0.03, max_rotation: float = 10.0,
               max_zoom: float = 0.06, background_zoom_bias: float = 0.0, object_size: tuple[float, float] = (0.12, 0.3)
               ) -> FlowScene:
    """A random FlyingChairs-like scene: a textured background and textured random shapes, each with its motion.

    Args:
        rng: random generator.
        size: ``(width, height)``.
        num_objects: ``(min, max)`` number of shapes.
        object_shift: largest shift of a shape per frame, as a fraction of the width.
        background_shift: the same for the background (a camera motion).
        max_rotation: degrees per frame for the shapes (the background turns a third of it).
        max_zoom: zoom range per frame for the shapes (the background zooms half of it).
        background_zoom_bias: added to the background's zoom, e.g. 0.05 for a camera driving forward.
        object_size: ``(min, max)`` radius of a shape as a fraction of the width.

    Example:
        >>> len(make_scene(np.random.default_rng(0), num_objects=(3, 3)).layers)
        4
    """
    w, h = int(size[0]), int(size[1])
    center = (rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h)
    layers = [Layer(_texture(rng, h, w), np.ones((h, w), np.float32),
                    random_affine(rng, center, background_shift * w, max_rotation / 3, max_zoom / 2,
                                  background_zoom_bias))]
    for _ in range(int(rng.integers(num_objects[0], num_objects[1] + 1))):
        c = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h)
        radius = rng.uniform(*object_size) * w
        alpha = _shape_alpha(rng, h, w, radius, c)
        layers.append(Layer(_texture(rng, h, w), alpha, random_affine(rng, c, object_shift * w, max_rotation,
                                                                      max_zoom)))
    return FlowScene(layers, (w, h))


def make_pair(rng: np.random.Generator, size: tuple[int, int] = (160, 120), noise: float = 2.0, **scene_kwargs
              ) -> FlowPair:
    """A random scene's frames 0 and 1 with their exact flow, occlusion mask and layer labels.

    Args:
        rng: random generator.
        size: ``(width, height)``.
        noise: standard deviation of the pixel noise added to each frame (0..255 scale).
        **scene_kwargs: passed to :func:`make_scene`.

    Example:
        >>> p = make_pair(np.random.default_rng(0), size=(48, 32))
        >>> bool(np.isfinite(p.flow).all())
        True
    """
    scene = make_scene(rng, size, **scene_kwargs)
    image1, labels1 = scene.render(0, noise, rng)
    image2, labels2 = scene.render(1, noise, rng)
    flow = scene.flow(labels1)
    return FlowPair(image1, image2, flow, scene.occlusion(labels1, flow, labels2), labels1)


def make_sequence(rng: np.random.Generator, num_frames: int = 8, size: tuple[int, int] = (256, 192),
                  noise: float = 2.0, **scene_kwargs) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A random scene over ``num_frames`` frames: every layer keeps its motion from frame to frame.

    Args:
        rng: random generator.
        num_frames: number of frames.
        size: ``(width, height)``.
        noise: pixel noise per frame.
        **scene_kwargs: passed to :func:`make_scene` (smaller ``object_shift`` for smooth videos).

    Returns:
        ``(frames, flows, labels)``: ``num_frames`` pictures, ``num_frames - 1`` flows (frame ``t`` to ``t + 1``)
        and ``num_frames`` layer-label maps.

    Example:
        >>> frames, flows, labels = make_sequence(np.random.default_rng(0), num_frames=3, size=(32, 24))
        >>> len(frames), len(flows)
        (3, 2)
    """
    scene = make_scene(rng, size, **scene_kwargs)
    rendered = [scene.render(t, noise, rng) for t in range(num_frames)]
    frames = [r[0] for r in rendered]
    labels = [r[1] for r in rendered]
    flows = [scene.flow(labels[t]) for t in range(num_frames - 1)]
    return frames, flows, labels
