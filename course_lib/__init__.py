"""course_lib: the one library the segmentation course book imports.

Every model, dataset, loss, metric, training and plotting helper of the book lives here; the notebooks
only call it. Each module says which chapter introduces it.
"""

from .config import Setup, data_root, get_device, get_profile, seed_everything, setup

__version__ = "0.1.0"

__all__ = ["Setup", "data_root", "get_device", "get_profile", "seed_everything", "setup", "__version__"]
