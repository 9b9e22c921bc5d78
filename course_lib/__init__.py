"""course_lib: the one library the segmentation course book imports.

Every model, dataset, loss, metric, training and plotting helper of the book lives here; the notebooks
only call it. Each module says which chapter introduces it.
"""

from typing import Any

from .config import Setup, data_root, get_device, get_profile, seed_everything, setup, work_dir

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``course_lib.fetch`` and ``course_lib.locate`` (:mod:`course_lib.datasets`), imported on first use so that
    ``python -m course_lib.download`` does not find its module imported already."""
    if name in ("fetch", "locate"):
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")

__all__ = ["Setup", "data_root", "fetch", "get_device", "get_profile", "locate", "seed_everything", "setup",
           "work_dir", "__version__"]
