"""Non-learned baselines: the methods a learned model must beat (optical flow by Lucas-Kanade and Farneback, zero
flow, ...). Each chapter adds its module here; they use OpenCV or NumPy and no training.

- :mod:`course_lib.classical.optical_flow`: Lucas-Kanade (one window, corner tracks), Farneback, zero flow, the
  camera-motion residual (Chapter 9).
- :mod:`course_lib.classical.matting`: closed-form matting (Levin et al.): the matting Laplacian with scipy.sparse,
  alpha under trimap constraints, foreground/background for re-compositing (Chapter 2).
- :mod:`course_lib.classical.propagation`: mask propagation by backward warping with optical flow, stopped at
  disocclusions by the forward-backward check (Chapter 8).
- :mod:`course_lib.classical.motion`: ego-motion compensation of a flow (RANSAC homography or essential matrix) and
  the moving-object mask (Chapter 10).
"""

from .matting import *  # noqa: F403
from .matting import __all__ as _matting_all
from .motion import *  # noqa: F403
from .motion import __all__ as _motion_all
from .optical_flow import *  # noqa: F403
from .optical_flow import __all__ as _optical_flow_all
from .propagation import *  # noqa: F403
from .propagation import __all__ as _propagation_all

__all__ = [*_optical_flow_all, *_matting_all, *_propagation_all, *_motion_all]
