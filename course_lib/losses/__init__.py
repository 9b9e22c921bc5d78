"""Training losses of the book, one module per kind of output (no model or data code here).

- :mod:`course_lib.losses.segmentation`: BCE, soft Dice and their sum; cross-entropy with auxiliary outputs
  (PSPNet) (Chapter 3).
- :mod:`course_lib.losses.polyp`: PraNet's structure loss (weighted IoU + BCE), deep supervision (Chapter 3).
- :mod:`course_lib.losses.volume`: BCE + soft Dice per region, one sigmoid each (Chapter 3, BraTS).
- :mod:`course_lib.losses.flow`: RAFT's sequence loss, FlowNet's multi-scale EPE (Chapter 9).
- :mod:`course_lib.losses.video`: OSVOS's class-balanced binary cross-entropy (Chapter 8).
- :mod:`course_lib.losses.points`: PointNet's transform regulariser and classification loss (Chapter 6).
- :mod:`course_lib.losses.lovasz`: the Lovász-softmax loss, a convex surrogate of the Jaccard loss (Chapter 4).
- :mod:`course_lib.losses.parsing`: SCHP's loss (Lovász + CE, edges, label refinement) (Chapter 4).
- :mod:`course_lib.losses.matting`: Deep Image Matting's alpha-prediction and compositional losses, MODNet's
  three sub-objectives (Chapter 2).

Each chapter adds its module here (flow sequence losses, T-Net regularisers, ...).
"""

from .flow import *  # noqa: F403
from .flow import __all__ as _flow_all
from .instance import *  # noqa: F403
from .instance import __all__ as _instance_all
from .lovasz import *  # noqa: F403
from .lovasz import __all__ as _lovasz_all
from .matting import *  # noqa: F403
from .matting import __all__ as _matting_all
from .parsing import *  # noqa: F403
from .parsing import __all__ as _parsing_all
from .points import *  # noqa: F403
from .points import __all__ as _points_all
from .polyp import *  # noqa: F403
from .polyp import __all__ as _polyp_all
from .segmentation import *  # noqa: F403
from .segmentation import __all__ as _segmentation_all
from .video import *  # noqa: F403
from .video import __all__ as _video_all
from .volume import *  # noqa: F403
from .volume import __all__ as _volume_all
from .yolop import *  # noqa: F403
from .yolop import __all__ as _yolop_all

__all__ = [*_segmentation_all, *_flow_all, *_volume_all, *_points_all, *_polyp_all, *_matting_all, *_lovasz_all,
           *_parsing_all, *_video_all, *_instance_all, *_yolop_all]
