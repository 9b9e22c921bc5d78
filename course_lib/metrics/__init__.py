"""Metrics of the book, one module per kind of output, each computed as the papers' evaluation code defines it.

- :mod:`course_lib.metrics.segmentation`: confusion matrix, pixel accuracy, IoU/mIoU, Dice (Chapters 1 and 3).
- :mod:`course_lib.metrics.matting`: SAD, MSE, Grad, Conn of alpha mattes as Deep Image Matting's MATLAB code,
  :class:`MattingMeter` (Chapter 2).
- :mod:`course_lib.metrics.binary`: Dice/IoU over 256 thresholds, PraNet's polyp protocol (Chapter 3).
- :mod:`course_lib.metrics.boundary`: boundary F-score within a tolerance in pixels, as DAVIS/BSDS (Chapter 3).
- :mod:`course_lib.metrics.volume`: Dice and HD95 per region with the BraTS conventions (Chapter 3).
- :mod:`course_lib.metrics.flow`: end-point error, KITTI's Fl outliers, :class:`FlowMetrics` (Chapter 9).
- :mod:`course_lib.metrics.panoptic`: PQ/SQ/RQ as the COCO panoptic evaluation, VPQ over video windows (Chapter 11).
- :mod:`course_lib.metrics.video`: J, F and J&F with DAVIS's Mean/Recall/Decay, as davis2017-evaluation (Chapter 7).
- :mod:`course_lib.metrics.motion`: moving-object masks against KITTI 2015's obj_map, pixel and object
  precision/recall/F1 (Chapter 10).

Each chapter adds its module here (volumes, flow, point clouds, ...). Hand-written metrics are checked in the tests
against a library oracle (torchmetrics, MONAI, ...).
"""

from .binary import *  # noqa: F403
from .binary import __all__ as _binary_all
from .boundary import *  # noqa: F403
from .boundary import __all__ as _boundary_all
from .flow import *  # noqa: F403
from .flow import __all__ as _flow_all
from .instance_ap import *  # noqa: F403
from .instance_ap import __all__ as _instance_ap_all
from .matting import *  # noqa: F403
from .matting import __all__ as _matting_all
from .motion import *  # noqa: F403
from .motion import __all__ as _motion_all
from .panoptic import *  # noqa: F403
from .panoptic import __all__ as _panoptic_all
from .segmentation import *  # noqa: F403
from .segmentation import __all__ as _segmentation_all
from .video import *  # noqa: F403
from .video import __all__ as _video_all
from .volume import *  # noqa: F403
from .volume import __all__ as _volume_all

__all__ = [*_segmentation_all, *_binary_all, *_boundary_all, *_flow_all, *_volume_all, *_matting_all, *_panoptic_all,
           *_video_all, *_motion_all, *_instance_ap_all]
