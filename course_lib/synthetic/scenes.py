"""Synthetic scenes with exact labels for every segmentation task: the book's toy world.

Introduced in Chapter 1 (the task zoo): one random scene carries, pixel for pixel, the labels of semantic,
instance and panoptic segmentation, an alpha matte (image matting) and the part labels of a stick-figure
person (human parsing); :func:`make_video` adds moving objects with per-frame masks (video object segmentation)
and :func:`make_point_cloud` a labelled 3D point cloud of primitives (point cloud segmentation).

Everything is plain NumPy and deterministic by ``seed``: no files, no downloads, the same picture everywhere.
Shapes are drawn as signed-distance fields, so the *image* has anti-aliased edges while the *labels* are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SCENE_CLASSES",
    "STUFF_CLASSES",
    "THING_CLASSES",
    "SCENE_PALETTE",
    "PART_NAMES",
    "PART_PALETTE",
    "SHAPE_CLASSES",
    "SHAPE_PALETTE",
    "OFFSET",
    "Scene",
    "Video",
    "PointCloud",
    "make_scene",
    "make_video",
    "make_point_cloud",
    "trimap_from_alpha",
]

#: Semantic classes of :func:`make_scene`; ``sky`` and ``ground`` are *stuff*, the others are countable *things*.
SCENE_CLASSES = ("sky", "ground", "person", "ball", "box")
STUFF_CLASSES = ("sky", "ground")
THING_CLASSES = ("person", "ball", "box")
#: RGB colour per class of :data:`SCENE_CLASSES` (for :func:`course_lib.viz.colorize`).
SCENE_PALETTE = np.array([[135, 190, 235], [110, 160, 70], [220, 60, 60], [250, 200, 40], [150, 90, 200]],
                         dtype=np.uint8)
#: Part labels of the stick-figure person (0 is everything that is not the person).
PART_NAMES = ("background", "head", "torso", "arms", "legs")
PART_PALETTE = np.array([[0, 0, 0], [255, 200, 150], [60, 120, 220], [240, 140, 40], [70, 180, 90]], dtype=np.uint8)
#: Classes of :func:`make_point_cloud`.
SHAPE_CLASSES = ("floor", "sphere", "box", "cylinder")
SHAPE_PALETTE = np.array([[160, 160, 160], [230, 80, 60], [70, 120, 220], [60, 180, 100]], dtype=np.uint8)
#: Panoptic ids are ``class_id * OFFSET + instance_id`` (the Cityscapes / COCO-panoptic convention).
OFFSET = 1000

_SKY, _GROUND, _PERSON, _BALL, _BOX = range(5)


@dataclass
class Scene:
    """One synthetic image and all its labels.

    Attributes:
        image: ``uint8 [H, W, 3]`` RGB picture.
        semantic: ``int64 [H, W]`` class index into :data:`SCENE_CLASSES` for every pixel.
        instances: ``int64 [H, W]``; ``0`` on stuff, ``1..K`` for the K object instances (things).
        instance_classes: ``{instance id: class index}`` for the ids in ``instances``.
        alpha: ``float32 [H, W]`` in ``[0, 1]``, the soft opacity (matte) of the fluffy cloud in the sky.
        parts: ``int64 [H, W]`` index into :data:`PART_NAMES` (head, torso, arms, legs of the person).
        foreground: ``float32 [H, W, 3]`` colour of the cloud, so that
            ``image ~= alpha * foreground + (1 - alpha) * background`` (the compositing equation).
        background: ``float32 [H, W, 3]`` the picture without the cloud, values in ``[0, 255]``.
    """

    image: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray
    instance_classes: dict[int, int]
    alpha: np.ndarray
    parts: np.ndarray
    foreground: np.ndarray
    background: np.ndarray
    class_names: tuple[str, ...] = SCENE_CLASSES

    @property
    def panoptic(self) -> np.ndarray:
        """``int64 [H, W]`` panoptic id ``class * OFFSET + instance`` (instance 0 for stuff)."""
        return self.semantic * OFFSET + self.instances

    def segments(self) -> list[dict]:
        """One record per panoptic segment: id, class name, whether it is a thing, area in pixels."""
        ids, areas = np.unique(self.panoptic, return_counts=True)
        return [{"id": int(i), "class": SCENE_CLASSES[int(i) // OFFSET], "isthing": int(i) % OFFSET > 0,
                 "area": int(a)} for i, a in zip(ids, areas, strict=True)]


@dataclass
class Video:
    """A short clip of objects moving over a static background.

    Attributes:
        frames: ``uint8 [T, H, W, 3]``.
        masks: ``int64 [T, H, W]``; ``0`` background, ``k`` object ``k`` (the same id in every frame).
        centers: ``float32 [T, K, 2]`` ``(row, col)`` centre of each object per frame.
    """

    frames: np.ndarray
    masks: np.ndarray
    centers: np.ndarray
    object_classes: dict[int, int] = field(default_factory=dict)


@dataclass
class PointCloud:
    """Points sampled on the surfaces of a few primitives standing on a floor.

    Attributes:
        points: ``float32 [N, 3]`` xyz coordinates (z up).
        labels: ``int64 [N]`` index into :data:`SHAPE_CLASSES`.
        instances: ``int64 [N]``; ``0`` for the floor, ``1..K`` per object.
    """

    points: np.ndarray
    labels: np.ndarray
    instances: np.ndarray
    class_names: tuple[str, ...] = SHAPE_CLASSES


# --------------------------------------------------------------------------------------------- shapes as SDFs
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return ys + 0.5, xs + 0.5


def _circle(ys, xs, cy, cx, r):
    return np.hypot(ys - cy, xs - cx) - r


def _box(ys, xs, cy, cx, hh, hw, angle):
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = ys - cy, xs - cx
    u, v = c * dx + s * dy, -s * dx + c * dy
    qx, qy = np.abs(u) - hw, np.abs(v) - hh
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _segment(ys, xs, y0, x0, y1, x1, r):
    py, px = ys - y0, xs - x0
    vy, vx = y1 - y0, x1 - x0
    t = np.clip((py * vy + px * vx) / max(vy * vy + vx * vx, 1e-9), 0.0, 1.0)
    return np.hypot(py - t * vy, px - t * vx) - r


def _coverage(sdf: np.ndarray) -> np.ndarray:
    """Anti-aliased area coverage of a pixel from the signed distance of its centre."""
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _paint(canvas: np.ndarray, sdf: np.ndarray, rgb, shade: np.ndarray | None = None) -> None:
    cov = _coverage(sdf)[..., None]
    color = np.asarray(rgb, np.float32)[None, None, :] * (1.0 if shade is None else shade[..., None])
    canvas *= 1.0 - cov
    canvas += cov * color


def _stick_figure(ys, xs, cy, cx, h) -> list[tuple[int, np.ndarray]]:
    """Part SDFs of a person of height ``h`` whose hips are at ``(cy, cx)``: [(part id, sdf), ...]."""
    w = max(h * 0.07, 1.2)
    neck = (cy - 0.42 * h, cx)
    hip = (cy, cx)
    parts = [
        (4, np.minimum(_segment(ys, xs, *hip, cy + 0.5 * h, cx - 0.18 * h, w),
                       _segment(ys, xs, *hip, cy + 0.5 * h, cx + 0.18 * h, w))),
        (2, _segment(ys, xs, *neck, *hip, w * 1.6)),
        (3, np.minimum(_segment(ys, xs, neck[0] + 0.05 * h, cx, cy - 0.05 * h, cx - 0.3 * h, w * 0.8),
                       _segment(ys, xs, neck[0] + 0.05 * h, cx, cy - 0.45 * h, cx + 0.28 * h, w * 0.8))),
        (1, _circle(ys, xs, cy - 0.55 * h, cx, 0.12 * h)),
    ]
    return parts


def _check_size(size: int, minimum: int, name: str) -> None:
    if not isinstance(size, (int, np.integer)) or size < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {size!r}")


# --------------------------------------------------------------------------------------------- image scene
def make_scene(seed: int = 0, size: int = 128, num_balls: int = 2, num_boxes: int = 2) -> Scene:
    """Draw a random scene: sky with a fluffy cloud, ground, one stick-figure person, balls and boxes.

    Objects are painted back to front, so nearer objects occlude farther ones in the image *and* in the labels.

    Args:
        seed: random seed; the same seed always gives the same scene.
        size: the image is ``size x size`` pixels (at least 32).
        num_balls: number of ball instances.
        num_boxes: number of box instances.

    Returns:
        A :class:`Scene` holding the image and every kind of label.

    Example:
        >>> s = make_scene(seed=0, size=64)
        >>> s.image.shape, s.semantic.shape, s.alpha.dtype
        ((64, 64, 3), (64, 64), dtype('float32'))
    """
    _check_size(size, 32, "size")
    rng = np.random.default_rng(seed)
    ys, xs = _grid(size)
    horizon = size * rng.uniform(0.38, 0.5)

    # stuff: a sky gradient above the horizon, textured ground below
    semantic = np.where(ys < horizon, _SKY, _GROUND).astype(np.int64)
    t = (ys / size)[..., None]
    sky = (1 - t) * np.array([90, 150, 230], np.float32) + t * np.array([190, 220, 245], np.float32)
    grass = np.array([100, 150, 60], np.float32) * (0.85 + 0.3 * rng.random((size, size, 1), np.float32))
    grass *= (0.8 + 0.4 * (ys / size))[..., None]
    canvas = np.where(ys[..., None] < horizon, sky, grass).astype(np.float32)
    instances = np.zeros((size, size), np.int64)
    parts = np.zeros((size, size), np.int64)
    instance_classes: dict[int, int] = {}

    # things: depth = vertical position of the foot point (farther objects stand higher)
    things = []
    for _ in range(num_boxes):
        things.append(("box", horizon + rng.uniform(0.1, 0.9) * (size - horizon)))
    for _ in range(num_balls):
        things.append(("ball", horizon + rng.uniform(0.1, 0.95) * (size - horizon)))
    things.append(("person", horizon + rng.uniform(0.45, 0.8) * (size - horizon)))
    things.sort(key=lambda t: t[1])  # back to front

    for inst_id, (kind, foot) in enumerate(things, start=1):
        scale = 0.6 + 0.6 * (foot - horizon) / max(size - horizon, 1)  # perspective: nearer is bigger
        cx = rng.uniform(0.12, 0.88) * size
        if kind == "ball":
            r = size * 0.07 * scale
            cy = foot - r
            sdf = _circle(ys, xs, cy, cx, r)
            ny, nx = (ys - cy) / r, (xs - cx) / r
            shade = np.clip(0.85 - 0.25 * (ny + nx), 0.5, 1.15)  # lit from the upper left
            color = rng.uniform([180, 120, 0], [255, 220, 80])
            _paint(canvas, sdf, color, shade)
            cls = _BALL
        elif kind == "box":
            hh, hw = size * rng.uniform(0.05, 0.09) * scale, size * rng.uniform(0.06, 0.11) * scale
            angle = rng.uniform(-0.35, 0.35)
            sdf = _box(ys, xs, foot - hh, cx, hh, hw, angle)
            color = rng.uniform([110, 50, 160], [190, 120, 240])
            _paint(canvas, sdf, color, 0.9 + 0.1 * np.sin(xs / 3.0))
            cls = _BOX
        else:
            h = size * 0.3 * scale
            hip_y = foot - 0.5 * h
            person_parts = _stick_figure(ys, xs, hip_y, cx, h)
            sdf = np.minimum.reduce([p[1] for p in person_parts])
            part_colors = {1: [240, 190, 150], 2: [200, 50, 50], 3: [230, 120, 90], 4: [60, 60, 120]}
            for pid, psdf in person_parts:
                _paint(canvas, psdf, part_colors[pid])
            for pid, psdf in person_parts:  # later parts (head) win where parts overlap, as in the drawing
                parts[psdf <= 0] = pid
            cls = _PERSON
        inside = sdf <= 0
        semantic[inside] = cls
        instances[inside] = inst_id
        if cls != _PERSON:
            parts[inside] = 0  # occluders cover the person's parts too
        instance_classes[inst_id] = cls
    instance_classes = {k: v for k, v in instance_classes.items() if (instances == k).any()}

    # the matting target: a fluffy cloud with a soft, noisy fringe, composited over the sky
    background = np.clip(canvas, 0, 255)
    cy, cx = horizon * rng.uniform(0.3, 0.55), size * rng.uniform(0.25, 0.75)
    d = np.full((size, size), np.inf, np.float32)
    for _ in range(5):
        oy, ox, r = rng.normal(0, size * 0.03), rng.normal(0, size * 0.08), size * rng.uniform(0.05, 0.09)
        d = np.minimum(d, _circle(ys, xs, cy + oy, cx + ox, r))
    fringe = size * 0.035
    noise = rng.random((size, size), np.float32)
    alpha = np.clip(0.5 - d / fringe + 0.35 * (noise - 0.5) * (np.abs(d) < fringe), 0.0, 1.0)
    foreground = np.broadcast_to(np.array([250, 250, 252], np.float32), (size, size, 3)).copy()
    foreground *= (0.92 + 0.08 * noise)[..., None]
    canvas = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    # the cloud is in front of the sky but behind every object, so it only shows over sky pixels
    keep = (semantic != _SKY)[..., None]
    canvas = np.where(keep, background, canvas)
    alpha = np.where(semantic == _SKY, alpha, 0.0).astype(np.float32)

    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return Scene(image=image, semantic=semantic, instances=instances, instance_classes=instance_classes,
                 alpha=alpha, parts=parts, foreground=foreground, background=background)


def trimap_from_alpha(alpha: np.ndarray, band: int = 2) -> np.ndarray:
    """The trimap a matting method gets as a hint: 0 background, 128 unknown, 255 foreground.

    Pixels whose alpha is strictly between 0 and 1, and every pixel within ``band`` pixels of them, are unknown.

    Args:
        alpha: ``[H, W]`` matte in ``[0, 1]``.
        band: how many pixels the unknown region is widened by (a square neighbourhood).

    Example:
        >>> a = np.zeros((5, 5), np.float32); a[2, 2] = 0.5
        >>> int((trimap_from_alpha(a, band=1) == 128).sum())
        9
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be a 2-D matte, got shape {alpha.shape}")
    if band < 0:
        raise ValueError(f"band must be >= 0, got {band}")
    unknown = (alpha > 0) & (alpha < 1)
    grown = unknown.copy()
    h, w = alpha.shape
    padded = np.pad(unknown, band)
    for dy in range(2 * band + 1):  # a max filter by shifting: fine for the small bands we use
        for dx in range(2 * band + 1):
            grown |= padded[dy:dy + h, dx:dx + w]
    trimap = np.where(alpha >= 1, 255, 0).astype(np.uint8)
    trimap[grown] = 128
    return trimap


# --------------------------------------------------------------------------------------------- video
def make_video(seed: int = 0, size: int = 64, num_frames: int = 8, num_objects: int = 2) -> Video:
    """A clip of balls and boxes gliding (and bouncing off the borders) over a fixed background.

    The object ids stay the same over time; where objects overlap, the one with the larger id is in front.

    Args:
        seed: random seed.
        size: frames are ``size x size`` (at least 16).
        num_frames: number of frames ``T`` (at least 1).
        num_objects: number of moving objects ``K`` (at least 1).

    Example:
        >>> v = make_video(seed=0, size=32, num_frames=4)
        >>> v.frames.shape, v.masks.shape
        ((4, 32, 32, 3), (4, 32, 32))
    """
    _check_size(size, 16, "size")
    _check_size(num_frames, 1, "num_frames")
    _check_size(num_objects, 1, "num_objects")
    rng = np.random.default_rng(seed)
    ys, xs = _grid(size)
    base = np.empty((size, size, 3), np.float32)
    base[:] = np.array([70, 80, 95], np.float32)
    base *= (0.85 + 0.3 * rng.random((size, size, 1), np.float32))
    base += 25 * np.sin(xs / 5.0)[..., None] * np.cos(ys / 7.0)[..., None]

    kinds = rng.integers(0, 2, num_objects)  # 0 ball, 1 box
    radius = size * rng.uniform(0.1, 0.16, num_objects)
    pos = rng.uniform(0.25, 0.75, (num_objects, 2)) * size
    vel = rng.uniform(1.0, 2.5, (num_objects, 2)) * rng.choice([-1, 1], (num_objects, 2)) * size / 48
    colors = rng.uniform(90, 255, (num_objects, 3))
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    masks = np.zeros((num_frames, size, size), np.int64)
    centers = np.empty((num_frames, num_objects, 2), np.float32)
    for t in range(num_frames):
        canvas = base.copy()
        for k in range(num_objects):
            centers[t, k] = pos[k]
            cy, cx = pos[k]
            if kinds[k] == 0:
                sdf = _circle(ys, xs, cy, cx, radius[k])
            else:
                sdf = _box(ys, xs, cy, cx, radius[k], radius[k], 0.3 * t * (k + 1) / num_frames)
            _paint(canvas, sdf, colors[k])
            masks[t][sdf <= 0] = k + 1
            # move and bounce off the borders
            pos[k] += vel[k]
            for a in range(2):
                if not radius[k] <= pos[k, a] <= size - radius[k]:
                    vel[k, a] = -vel[k, a]
                    pos[k, a] = np.clip(pos[k, a], radius[k], size - radius[k])
        frames[t] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    classes = {k + 1: (_BALL if kinds[k] == 0 else _BOX) for k in range(num_objects)}
    return Video(frames=frames, masks=masks, centers=centers, object_classes=classes)


# --------------------------------------------------------------------------------------------- point cloud
def _sample_sphere(rng, n, center, r):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return center + r * v


def _sample_box(rng, n, center, half):
    # pick a face in proportion to its area, then a uniform point on it
    areas = np.array([half[1] * half[2], half[0] * half[2], half[0] * half[1]] * 2)
    faces = rng.choice(6, size=n, p=areas / areas.sum())
    p = rng.uniform(-1, 1, (n, 3)) * half
    axis = faces % 3
    sign = np.where(faces < 3, 1.0, -1.0)
    p[np.arange(n), axis] = sign * half[axis]
    return center + p


def _sample_cylinder(rng, n, center, r, h):
    side, cap = 2 * np.pi * r * h, np.pi * r * r
    on_side = rng.random(n) < side / (side + cap)  # the bottom stands on the floor: only the top cap
    theta = rng.uniform(0, 2 * np.pi, n)
    rad = np.where(on_side, r, r * np.sqrt(rng.random(n)))
    z = np.where(on_side, rng.uniform(0, h, n), h)
    return center + np.stack([rad * np.cos(theta), rad * np.sin(theta), z], axis=1)


def make_point_cloud(seed: int = 0, num_points: int = 2048, noise: float = 0.01) -> PointCloud:
    """Points on a floor and on a sphere, a box and a cylinder standing on it, with class and instance labels.

    Points are spread over the objects in proportion to their surface area (a LiDAR-free stand-in for a scan).

    Args:
        seed: random seed.
        num_points: total number of points ``N`` (at least 16).
        noise: standard deviation of the Gaussian jitter added to every coordinate.

    Example:
        >>> pc = make_point_cloud(seed=0, num_points=256)
        >>> pc.points.shape, sorted(set(pc.labels.tolist()))
        ((256, 3), [0, 1, 2, 3])
    """
    _check_size(num_points, 16, "num_points")
    rng = np.random.default_rng(seed)
    spots = rng.permutation(np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]))[:3]
    spots = spots + rng.uniform(-0.2, 0.2, spots.shape)
    r_sphere = rng.uniform(0.45, 0.65)
    half = rng.uniform(0.35, 0.6, 3)
    r_cyl, h_cyl = rng.uniform(0.3, 0.45), rng.uniform(0.8, 1.4)
    areas = np.array([
        16.0 * 0.35,  # the floor gets fewer points per area than the objects
        4 * np.pi * r_sphere ** 2,
        8 * (half[0] * half[1] + half[1] * half[2] + half[0] * half[2]),
        2 * np.pi * r_cyl * h_cyl + np.pi * r_cyl ** 2,
    ])
    counts = np.maximum(np.floor(areas / areas.sum() * num_points).astype(int), 1)
    counts[0] += num_points - counts.sum()
    floor = np.column_stack([rng.uniform(-2, 2, (counts[0], 2)), np.zeros(counts[0])])
    sphere = _sample_sphere(rng, counts[1], np.array([*spots[0], r_sphere]), r_sphere)
    box = _sample_box(rng, counts[2], np.array([*spots[1], half[2]]), half)
    cyl = _sample_cylinder(rng, counts[3], np.array([*spots[2], 0.0]), r_cyl, h_cyl)
    points = np.concatenate([floor, sphere, box, cyl]) + rng.normal(0, noise, (num_points, 3))
    labels = np.repeat(np.arange(4), counts)
    instances = labels.copy()  # one object per class here; the floor is stuff (instance 0)
    order = rng.permutation(num_points)
    return PointCloud(points=points[order].astype(np.float32), labels=labels[order].astype(np.int64),
                      instances=instances[order].astype(np.int64))
