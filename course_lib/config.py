"""Profiles, seeding, device choice and the data root: the settings every chapter shares.

Introduced in Chapter 1 and used by the first cell of every notebook (``course_lib.setup()``).

Two environment variables steer the whole book:

``COURSE_PROFILE``
    ``quick`` (small inputs, few steps, bundled sample data: about a minute per notebook on a
    2-core CPU) or ``full`` (the real dataset and the paper-like schedule). Unset, the profile is
    ``full`` when a CUDA GPU is visible and ``quick`` otherwise.
``COURSE_DATA_ROOT``
    The folder that holds the datasets (one sub-folder per dataset). Unset, it is ``/kaggle/input``
    on Kaggle (read-only: downloads then go to the work folder's ``data/``), ``data/`` in the
    repository checkout, or ``~/course_data`` when course_lib was installed from a wheel or from git.
``COURSE_WORK_DIR``
    The one writable folder for runs, checkpoints, caches and samples (:func:`work_dir`).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import runtime

PROFILE_ENV = "COURSE_PROFILE"
DATA_ENV = "COURSE_DATA_ROOT"
WORK_ENV = "COURSE_WORK_DIR"
PROFILES = ("quick", "full")

_REPO_ROOT = Path(__file__).resolve().parent.parent


def get_profile(profile: str | None = None) -> str:
    """Return the active profile: ``profile`` if given, else ``$COURSE_PROFILE``, else by device.

    Args:
        profile: ``"quick"``, ``"full"`` or ``None`` to decide from the environment.

    Example:
        >>> get_profile("quick")
        'quick'
    """
    choice = profile if profile is not None else os.environ.get(PROFILE_ENV, "").strip().lower()
    if not choice:
        return "full" if torch.cuda.is_available() else "quick"
    if choice not in PROFILES:
        raise ValueError(f"unknown profile {choice!r} (from {PROFILE_ENV} or argument); choose one of {PROFILES}")
    return choice


def get_device(prefer: str | None = None) -> torch.device:
    """The device to compute on: CUDA when available, else Apple MPS, else the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The folder that holds datasets: ``path`` if given, else ``$COURSE_DATA_ROOT``, else a default."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    if runtime.detect() == "kaggle" and runtime.KAGGLE_INPUT.is_dir():
        return runtime.KAGGLE_INPUT
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "course_lib").is_dir():
        return _REPO_ROOT / "data"
    return Path.home() / "course_data"


def work_dir(path: str | os.PathLike | None = None) -> Path:
    """The one writable folder for runs, checkpoints and caches: ``path``, else ``$COURSE_WORK_DIR``, else a default.

    The default is ``/kaggle/working/runs`` on Kaggle (its data root ``/kaggle/input`` is read-only), ``runs/`` in
    the repository checkout, and ``~/course_runs`` for a pip install. Nothing is ever written inside a data root.

    Example:
        >>> work_dir("/tmp/w").as_posix()
        '/tmp/w'
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(WORK_ENV)
    if env:
        return Path(env).expanduser()
    if runtime.KAGGLE_WORKING.is_dir():
        return runtime.KAGGLE_WORKING / "runs"
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "course_lib").is_dir():
        return _REPO_ROOT / "runs"
    return Path.home() / "course_runs"


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for ``device``: bfloat16 on GPUs that support it, float16 on older GPUs, None
    (no autocast) on a CPU. Training (:mod:`course_lib.engine`) and prediction (:mod:`course_lib.inference`) share it.
    """
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) so that a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@dataclass(frozen=True)
class Setup:
    """What a notebook's first cell decided: profile, device, data root, seed, runtime and work folder."""

    profile: str
    device: torch.device
    data_root: Path
    seed: int
    runtime: str = "local"
    work_dir: Path = Path("runs")

    @property
    def quick(self) -> bool:
        return self.profile == "quick"


def setup(seed: int = 0, profile: str | None = None, data: str | os.PathLike | None = None,
          verbose: bool = True) -> Setup:
    """One call for a notebook's first cell: pick the profile, seed everything, report what was chosen.

    Prints the profile, the device, the runtime (local, Colab, Kaggle), the data root and the work folder; on
    Colab and Kaggle it also checks the internet connection and says how to switch it on when it is off.

    Args:
        seed: seed for Python, NumPy and torch.
        profile: force ``"quick"`` or ``"full"``; ``None`` reads ``$COURSE_PROFILE``.
        data: the data root; ``None`` reads ``$COURSE_DATA_ROOT``.
        verbose: print one line describing the choice.

    Example:
        >>> cfg = setup(seed=0, profile="quick", verbose=False)
        >>> cfg.profile
        'quick'
    """
    chosen = get_profile(profile)
    seed_everything(seed)
    device = get_device()
    root = data_root(data)
    where = runtime.detect()
    work = work_dir()
    if verbose:
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else device.type
        print(f"profile={chosen}  device={name}  runtime={where}  torch={torch.__version__}  seed={seed}\n"
              f"data_root={root}  work_dir={work}")
        if chosen == "full" and device.type == "cpu":
            print("warning: the full profile on a CPU will be very slow; set COURSE_PROFILE=quick")
        if where != "local" and not runtime.has_internet():
            print("warning: " + runtime.internet_hint(where))
    return Setup(profile=chosen, device=device, data_root=root, seed=seed, runtime=where, work_dir=work)
