"""Pictures of the book: overlays, grids, curves, colour wheels, 3D views and volume viewers.

- :mod:`course_lib.viz.plots`: palettes, label overlays, image grids, training curves, confusion matrices.
- :mod:`course_lib.viz.masks`: mask outlines, bounding boxes, panoptic edges, outcome maps (Ch. 1 and 3).
- :mod:`course_lib.viz.volume`: MRI slices in radiological orientation, region overlays, volume viewers (Ch. 3).
- :mod:`course_lib.viz.flow`: the optical flow colour wheel and its legend, point tracks (Ch. 9).
- :mod:`course_lib.viz.points`: interactive 3D point clouds (plotly): predictions, critical points, sampling and
  grouping, confusion matrices (Ch. 6).
- :mod:`course_lib.viz.video`: masked video frames, a frame slider (Jupyter) and a plotly animation (Ch. 7).
- :mod:`course_lib.viz.driving`: the nuScenes sensor rig, moving-object masks over frames (Ch. 10).

Each chapter adds its module here. Interactive figures come with a static fallback, so that the built site shows
them without a running kernel.
"""

from .driving import *  # noqa: F403
from .driving import __all__ as _driving_all
from .flow import *  # noqa: F403
from .flow import __all__ as _flow_all
from .instances import *  # noqa: F403
from .instances import __all__ as _instances_all
from .masks import *  # noqa: F403
from .masks import __all__ as _masks_all
from .plots import *  # noqa: F403
from .plots import __all__ as _plots_all
from .points import *  # noqa: F403
from .points import __all__ as _points_all
from .video import *  # noqa: F403
from .video import __all__ as _video_all
from .volume import *  # noqa: F403
from .volume import __all__ as _volume_all

__all__ = [*_plots_all, *_masks_all, *_flow_all, *_volume_all, *_points_all, *_video_all, *_driving_all,
           *_instances_all]
