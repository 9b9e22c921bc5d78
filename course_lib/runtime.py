"""Which runtime a notebook runs on (local, Colab, Kaggle) and whether it can reach the internet.

Introduced in Chapter 1 with the setup cell (:func:`course_lib.setup` prints what it finds). Kaggle's inputs
(``/kaggle/input``) are read-only and its notebooks start without internet access; Colab has internet but loses its
disk when the runtime is recycled. This module only looks and reports; :mod:`course_lib.config` decides the data root
and the work folder from it.

Example:
    >>> detect({}) in ("local", "colab", "kaggle")
    True
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["KAGGLE_INPUT", "KAGGLE_WORKING", "MIRROR_ENV", "RUNTIMES", "detect", "free_bytes", "has_internet",
           "internet_hint", "mirror_url"]

RUNTIMES = ("local", "colab", "kaggle")
KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
#: the environment variable naming a mirror of the dataset registry's files
MIRROR_ENV = "COURSE_DOWNLOAD_MIRROR"


def detect(environ: Mapping[str, str] | None = None) -> str:
    """``"kaggle"``, ``"colab"`` or ``"local"``.

    Kaggle sets ``KAGGLE_KERNEL_RUN_TYPE`` (and mounts ``/kaggle/input``); Colab sets ``COLAB_RELEASE_TAG`` (and
    imports ``google.colab``).

    Args:
        environ: the environment to look at (default ``os.environ``; the file system is looked at only then).

    Example:
        >>> detect({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}), detect({"COLAB_RELEASE_TAG": "release-colab"})
        ('kaggle', 'colab')
    """
    real = environ is None
    env = os.environ if environ is None else environ
    if env.get("KAGGLE_KERNEL_RUN_TYPE") or env.get("KAGGLE_URL_BASE") or (real and KAGGLE_INPUT.is_dir()):
        return "kaggle"
    if env.get("COLAB_RELEASE_TAG") or env.get("COLAB_GPU") is not None or (real and "google.colab" in sys.modules):
        return "colab"
    return "local"


def has_internet(host: str = "pypi.org", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def internet_hint(runtime: str) -> str:
    """What to do when the runtime has no internet (empty when there is nothing runtime-specific to say).

    Example:
        >>> "Internet" in internet_hint("kaggle")
        True
    """
    if runtime == "kaggle":
        return ("this Kaggle notebook has no internet: open the side panel -> Session options -> switch "
                "'Internet' on (a verified phone number is needed), then restart the session; or attach the "
                "dataset as a Kaggle input instead of downloading it")
    if runtime == "colab":
        return "this Colab runtime has no internet: Runtime -> Disconnect and delete runtime, then connect again"
    return "no internet: the datasets cannot be downloaded; put them under the data root by hand (see the README)"


def mirror_url(url: str, filename: str, environ: Mapping[str, str] | None = None) -> str:
    """Where to fetch ``url`` from: ``$COURSE_DOWNLOAD_MIRROR/<filename>`` when a mirror is set, else ``url``.

    A mirror (a classroom server, the local server of ``tests/test_fresh_runtime.py``) holds copies of the registry's
    files under the names they are stored as (``downloads/<filename>``); the URL's host and path are replaced,
    checksums are checked as usual.

    Example:
        >>> mirror_url("https://example.org/x/a.zip", "a.zip", {"COURSE_DOWNLOAD_MIRROR": "http://127.0.0.1:8000/"})
        'http://127.0.0.1:8000/a.zip'
        >>> mirror_url("https://example.org/x/a.zip", "a.zip", {})
        'https://example.org/x/a.zip'
    """
    mirror = (os.environ if environ is None else environ).get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{filename}" if mirror else url


def free_bytes(folder: str | os.PathLike) -> int:
    """Free disk space where ``folder`` is, or would be (its nearest existing parent is measured).

    Example:
        >>> free_bytes("/surely/not/there") > 0
        True
    """
    probe = Path(folder).expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free
