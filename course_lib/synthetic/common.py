"""What every sample writer shares: a canvas that paints a picture and its labels together, and the marker file.

Introduced in Chapter 1. A sample writer produces a small synthetic dataset in exactly the official layout and
file formats of a real one, so that the loader reads both with the same code; its folder holds
:data:`course_lib.data.registry.SAMPLE_MARKER` (written last, with the writer's parameters), so that the loaders
and :func:`course_lib.datasets.locate` can say loudly that the data are synthetic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..data.registry import SAMPLE_MARKER
from ..io.atomic import atomic_write_text

__all__ = ["SampleCanvas", "boundary_band", "mark_sample", "sample_is_current"]


class SampleCanvas:
    """An RGB picture and its label map painted together, for the synthetic samples of the dataset modules.

    Args:
        width, height: size in pixels.
        rng: the random generator (textures and noise).

    Example:
        >>> c = SampleCanvas(32, 24, np.random.default_rng(0))
        >>> c.paint(c.ellipse((4, 4, 20, 16)), label=3, colour=(200, 40, 40))
        >>> int(c.labels[10, 12])
        3
    """

    def __init__(self, width: int, height: int, rng: np.random.Generator, background: int = 0) -> None:
        self.width, self.height, self.rng = width, height, rng
        self.image = np.zeros((height, width, 3), np.float32)
        self.labels = np.full((height, width), background, np.uint8)
        self.yy, self.xx = np.mgrid[0:height, 0:width]

    def _draw(self, fn: str, *args, **kwargs) -> np.ndarray:
        layer = Image.new("L", (self.width, self.height), 0)
        getattr(ImageDraw.Draw(layer), fn)(*args, fill=255, **kwargs)
        return np.asarray(layer) > 0

    def ellipse(self, box) -> np.ndarray:
        """Boolean mask of the ellipse inside ``box = (x0, y0, x1, y1)``."""
        return self._draw("ellipse", [float(v) for v in box])

    def rectangle(self, box) -> np.ndarray:
        """Boolean mask of the rectangle ``box = (x0, y0, x1, y1)``."""
        return self._draw("rectangle", [float(v) for v in box])

    def polygon(self, points) -> np.ndarray:
        """Boolean mask of the polygon through ``points = [(x, y), ...]``."""
        return self._draw("polygon", [(float(x), float(y)) for x, y in points])

    def paint(
        self, where: np.ndarray, label: int | None, colour, noise: float = 8.0, texture: np.ndarray | None = None
    ) -> None:
        """Colour the pixels of ``where`` (plus optional ``texture`` ``[H, W]`` or ``[H, W, 3]`` and noise) and
        set their label (``None`` keeps the labels: a marking drawn on a surface of the same class)."""
        count = int(where.sum())
        if count == 0:
            return
        value = np.broadcast_to(np.asarray(colour, np.float32), (count, 3)).copy()
        if texture is not None:
            texture = np.asarray(texture, np.float32)[where]
            value += texture[:, None] if texture.ndim == 1 else texture
        if noise:
            value += self.rng.normal(0.0, noise, value.shape).astype(np.float32)
        self.image[where] = value
        if label is not None:
            self.labels[where] = label

    def smooth_noise(self, cell: int, sigma: float) -> np.ndarray:
        """A smooth random field ``[H, W]`` (standard deviation about ``sigma``) varying over ``cell`` pixels."""
        rows, cols = self.height // cell + 2, self.width // cell + 2
        grid = self.rng.normal(0.0, sigma, (rows, cols)).astype(np.float32)
        field = np.asarray(Image.fromarray(grid, mode="F").resize((cols * cell, rows * cell), Image.Resampling.BICUBIC))
        return field[cell // 2 : cell // 2 + self.height, cell // 2 : cell // 2 + self.width]

    def to_uint8(self, noise: float = 4.0) -> np.ndarray:
        """The picture with a last layer of sensor-like noise, as ``uint8 [H, W, 3]``."""
        image = self.image + self.rng.normal(0.0, noise, self.image.shape).astype(np.float32)
        return np.clip(image, 0, 255).astype(np.uint8)


def boundary_band(labels: np.ndarray, width: int = 3) -> np.ndarray:
    """Boolean mask of the pixels within ``width // 2`` of a pixel with another label (the label edges).

    Args:
        labels: ``uint8`` label map ``[H, W]``.
        width: the odd window size; 3 gives a band about 2 pixels wide straddling each edge.

    Example:
        >>> lab = np.zeros((5, 6), np.uint8); lab[:, 3:] = 1
        >>> boundary_band(lab)[0].astype(int).tolist()
        [0, 0, 1, 1, 0, 0]
    """
    img = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8), mode="L")
    high = np.asarray(img.filter(ImageFilter.MaxFilter(width)))
    low = np.asarray(img.filter(ImageFilter.MinFilter(width)))
    return high != low


def sample_is_current(folder: Path, params: dict) -> bool:
    """Whether ``folder`` holds a complete sample written with the same parameters (``write_sample`` skips it)."""
    marker = folder / SAMPLE_MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").splitlines()[-1:] == [_params_line(params)]


def mark_sample(folder: Path, params: dict, description: str) -> None:
    """Write the marker that tells loaders and readers that ``folder`` is a synthetic sample (written last)."""
    text = f"{description.strip()}\n{_params_line(params)}\n"
    atomic_write_text(folder / SAMPLE_MARKER, text)


def _params_line(params: dict) -> str:
    return "params: " + ", ".join(f"{k}={params[k]!r}" for k in sorted(params))
