"""Non-learned baselines: the methods a learned model must beat (optical flow by Lucas-Kanade and Farneback, zero
flow, ...). Each chapter adds its module here; they use OpenCV or NumPy and no training.

- :mod:`course_lib.classical.optical_flow`: Lucas-Kanade (one window, corner tracks), Farneback, zero flow, the
  camera-motion residual (Chapter 9).
- :mod:`course_lib.classical.matting`: closed-form matting (Levin et al.): the matting Laplacian with scipy.sparse,
  alpha under trimap constraints, foreground/background for re-compositing (Chapter 2).
"""

from .matting import *  # noqa: F403
from .matting import __all__ as _matting_all
from .optical_flow import *  # noqa: F403
from .optical_flow import __all__ as _optical_flow_all

__all__ = [*_optical_flow_all, *_matting_all]
