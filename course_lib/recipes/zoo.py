"""The zoo benchmark of Chapter 3: every runnable model of the lecture's list on one dataset, one budget, one metric.

Introduced in Chapter 3 (the command line is ``benchmarks/seg_zoo.py``; the models are
:data:`course_lib.models.zoo.VARIANTS`, their papers and ideas ``course_lib/results/zoo.yaml``). For each model:

cost
    parameters; FLOPs of one forward pass on a 360x480 image, counted by ``torch.utils.flop_counter.FlopCounterMode``
    (convolutions, matrix products and attention; one multiply-add = 2 FLOPs; pooling, normalisation and
    interpolation are not counted); CPU latency per image (batch 1, eval mode, ``torch.inference_mode``, the median
    of ``repeats`` timed runs after one warm-up run, ``threads`` torch threads); peak memory of that inference: the
    peak resident set size during the runs minus the resident size of the loaded model before them (Linux's
    ``VmHWM`` after resetting it through ``/proc/self/clear_refs``; elsewhere the growth of ``ru_maxrss``), measured
    in a fresh Python process per model so that memory an earlier model left to the allocator cannot hide it
    (:func:`measure_cost_isolated`; :func:`measure_cost` measures in the calling process).
accuracy after a fixed budget
    the same recipe for every model (:data:`ZOO_TRAINING`): random initialisation (no ImageNet weights: the
    benchmark compares architectures, and offline no weights could be had for most of them), Adam at 1e-3 with
    weight decay 1e-4 and the poly schedule over the *time* budget, batches of 4 whole frames (random scale
    0.75-1.25, a 360x480 crop padded with void, flips), the cross-entropy of the main output only (auxiliary heads
    are left out), trained through the shared loop (:class:`course_lib.engine.Trainer`) until ``minutes`` of
    the process's CPU time (all threads) have passed (the step that crosses the limit finishes; CPU time, so that
    other jobs on a shared machine do not shrink one model's budget); then pixel accuracy and mIoU of the
    SegNet 11 classes (void 11 ignored; one confusion matrix over the split) on the val and test files at full
    resolution, as :class:`course_lib.recipes.segmentation.SegmentationRecipe` evaluates.

A model whose package is missing, or that fails, gets a row with the reason instead of numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import platform
import statistics
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..config import seed_everything
from ..data import registry
from ..data.camvid import CamVid
from ..engine import Trainer, TrainerConfig
from ..models.zoo import VARIANTS, ZooVariant, unavailable_reason
from .base import make_optimizer, make_schedule
from .context import ContextConfig, ContextRecipe

__all__ = ["ZOO_TRAINING", "benchmark_variant", "machine_description", "markdown_table", "measure_cost",
           "measure_cost_isolated", "run_zoo", "torch_threads", "train_within_budget", "zoo_recipe"]

#: the one training recipe of every zoo model (see the module docstring)
ZOO_TRAINING = ContextConfig(
    profile="zoo", optimizer="adam", lr=1e-3, weight_decay=1e-4, schedule="poly", batch_size=4, eval_batch_size=1,
    crop_size=(360, 480), scale_range=(0.75, 1.25), aux_weight=0.0, amp=False, num_workers=0,
    pretrained_backbone=False, eval_scale=1.0, epochs=1)


def zoo_recipe(variant: ZooVariant, cfg: ContextConfig = ZOO_TRAINING) -> ContextRecipe:
    """A CamVid recipe (SegNet's 11 classes) whose model is the zoo's ``variant``, built for ``cfg.crop_size``."""
    def build(c: ContextConfig, num_classes: int) -> nn.Module:
        return variant.build(num_classes, tuple(c.crop_size))

    return ContextRecipe(name=f"zoo-{variant.key}", description=f"{variant.model} ({variant.source}) on CamVid",
                         chapter="3", dataset="camvid", quick=cfg, full=cfg, monitor="miou",
                         splits=("train", "val", "test"), dataset_class=CamVid, build_model_fn=build)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (``None``: unchanged), then restore the previous number.

    Example:
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _status_mib(field: str) -> float | None:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process in MiB, from ``/proc/self/status``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def _start_peak() -> tuple[float, str]:
    """Reset the peak-RSS counter where Linux allows it; returns (baseline MiB, method)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")  # reset VmHWM to the current resident size (Linux >= 4.0)
        now = _status_mib("VmRSS")
        if now is not None:
            return now, "VmHWM growth over VmRSS after resetting the peak (/proc/self/clear_refs)"
    except OSError:
        pass
    return _ru_maxrss_mib(), "ru_maxrss growth (a lower bound)"


def _ru_maxrss_mib() -> float:
    try:
        import resource  # Unix only
    except ImportError:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _peak_mib(method: str) -> float:
    return (_status_mib("VmHWM") or 0.0) if method.startswith("VmHWM") else _ru_maxrss_mib()


def measure_cost(model: nn.Module, size: tuple[int, int] = (360, 480), *, repeats: int = 5,
                 threads: int | None = None) -> dict[str, Any]:
    """Parameters, forward FLOPs, CPU latency (median of ``repeats`` after one warm-up), the CPU time of one
    forward pass (median, all threads: unlike the latency, other jobs on a shared machine hardly change it) and the
    growth of the resident memory during those runs (peak minus the size before them), for one ``[1, 3, *size]``
    image.

    On Linux the peak counter is reset first (``/proc/self/clear_refs``), so the number is this inference's own;
    elsewhere it is the growth of ``ru_maxrss``, a lower bound when the process peaked higher before. Memory that
    an earlier model freed and the allocator kept can hide part of it: :func:`measure_cost_isolated` measures in a
    fresh process.

    Example:
        >>> cost = measure_cost(nn.Conv2d(3, 8, 3, padding=1), (10, 10), repeats=3, threads=1)
        >>> cost["params"], round(cost["gflops"] * 1e9)  # 8*3*9 + 8 weights; 2 FLOPs x 8*3*9 multiply-adds x 100 px
        (224, 43200)
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    model = model.cpu().eval()
    x = torch.randn(1, 3, *size)
    with torch_threads(threads), torch.inference_mode():
        before, method = _start_peak()
        with FlopCounterMode(display=False) as counter:
            model(x)  # also the warm-up run
        times, cpu_times = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            model(x)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - start_cpu)
        peak, used = _peak_mib(method), torch.get_num_threads()
    return {"params": sum(p.numel() for p in model.parameters()), "gflops": counter.get_total_flops() / 1e9,
            "latency_ms": 1000 * statistics.median(times), "latency_runs_ms": [round(1000 * t, 1) for t in times],
            "cpu_ms": 1000 * statistics.median(cpu_times),
            "peak_mem_mib": max(0.0, peak - before), "memory_method": method, "threads": used}


def _cost_child(variant: ZooVariant, num_classes: int, size: tuple[int, int], repeats: int, threads: int,
                conn) -> None:
    try:
        torch.set_num_threads(threads)
        model = variant.build(num_classes, size)
        conn.send({"ok": measure_cost(model, size, repeats=repeats, threads=threads)})
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which records it in the row
        conn.send({"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()})
    finally:
        conn.close()


def measure_cost_isolated(variant: ZooVariant, num_classes: int = 11, size: tuple[int, int] = (360, 480), *,
                          repeats: int = 5, threads: int = 2, timeout: float = 1800) -> dict[str, Any]:
    """:func:`measure_cost` of a freshly built ``variant`` in a fresh Python process (``spawn``), so that its peak
    memory is its own. Raises ``RuntimeError`` with the child's error when the measurement fails."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_cost_child, args=(variant, num_classes, tuple(size), repeats, threads, child))
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise RuntimeError(f"measuring {variant.key!r} took more than {timeout:.0f} s")
        result = parent.recv()
    except EOFError:
        result = {"error": f"the measuring process died (exit code {proc.exitcode}; out of memory?)"}
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    if "error" in result:
        raise RuntimeError(f"measuring {variant.key!r}: {result['error']}")
    return result["ok"]


def train_within_budget(recipe: ContextRecipe, root: Path, cfg: ContextConfig, minutes: float,
                        progress: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``recipe``'s model on ``root``'s training split for ``minutes`` of CPU time (all threads), on the CPU,
    through :class:`course_lib.engine.Trainer` (no checkpoints, no validation). Returns the model and
    ``{"steps", "epochs", "train_seconds", "train_cpu_seconds", "final_loss"}``."""
    if not minutes > 0:
        raise ValueError(f"the training budget must be > 0 minutes, got {minutes!r}")
    seed_everything(cfg.seed)
    train_set = recipe.build_dataset(root, "train", cfg, train=True)
    loader = recipe.loader(train_set, cfg, train=True)
    if len(loader) == 0:
        raise ValueError(f"{root}: {len(train_set)} training images, fewer than one batch of {cfg.batch_size}")
    model = recipe.build_model(cfg)
    trainer = Trainer(model, recipe.build_loss(cfg, train_set), make_optimizer(model, cfg), loader,
                      device=torch.device("cpu"),
                      config=TrainerConfig(epochs=10**6, time_limit=minutes * 60, clock="cpu", out_dir=None,
                                           amp=False, lr_schedule=make_schedule(cfg.schedule), progress=progress))
    start, start_cpu = time.perf_counter(), time.process_time()
    history = trainer.fit()
    return trainer.model, {"steps": trainer.step, "epochs": len(history), "train_seconds": time.perf_counter() - start,
                           "train_cpu_seconds": time.process_time() - start_cpu,
                           "final_loss": history[-1]["train_loss"] if history else None}


def benchmark_variant(variant: ZooVariant, root: Path, *, minutes: float, size: tuple[int, int] = (360, 480),
                      threads: int = 2, repeats: int = 5, eval_items: int | None = None, isolate: bool = True,
                      cfg: ContextConfig = ZOO_TRAINING, splits: Iterable[str] = ("val", "test"),
                      progress: bool = False) -> dict[str, Any]:
    """One row of the zoo table: cost, then training for ``minutes`` and evaluation on ``splits`` (each capped at
    its first ``eval_items`` images when given). Failures become ``row["error"]``."""
    row: dict[str, Any] = {"key": variant.key, "model": variant.model, "source": variant.source,
                           "call": variant.call(11, size)}
    reason = unavailable_reason(variant)
    if reason:
        return {**row, "error": f"not runnable here: {reason}"}
    cfg = dataclasses.replace(cfg, crop_size=tuple(size))
    if variant.fixed_size:
        cfg = dataclasses.replace(cfg, scale_range=(1.0, 1.0))  # built for one input size: whole frames only
    try:
        with torch_threads(threads):
            recipe = zoo_recipe(variant, cfg)
            num_classes = recipe.info.num_classes
            cost = (measure_cost_isolated(variant, num_classes, size, repeats=repeats, threads=threads) if isolate
                    else measure_cost(variant.build(num_classes, size), size, repeats=repeats, threads=threads))
            row.update({k: cost[k] for k in ("params", "gflops", "latency_ms", "latency_runs_ms", "cpu_ms",
                                             "peak_mem_mib", "memory_method")})
            row["input"] = "x".join(map(str, variant.input_size(size)))
            model, info = train_within_budget(recipe, root, cfg, minutes, progress)
            row.update(info)
            eval_cfg = dataclasses.replace(cfg, max_items=eval_items)
            for split in splits:
                dataset = recipe.build_dataset(root, split, eval_cfg, train=False)
                start = time.perf_counter()
                scores = recipe.evaluate(model, dataset, eval_cfg, device=torch.device("cpu"), progress=progress)
                row.update({f"{split}_miou": scores["miou"], f"{split}_pixel_accuracy": scores["pixel_accuracy"],
                            f"{split}_images": len(dataset), f"{split}_eval_seconds": time.perf_counter() - start})
    except Exception as err:  # noqa: BLE001 - one failing model must not stop the table
        row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return row


def machine_description(threads: int) -> dict[str, Any]:
    """The machine the numbers were measured on (for the JSON)."""
    return {"cpu": platform.processor() or platform.machine(), "cores": multiprocessing.cpu_count(),
            "torch_threads": threads, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def run_zoo(variants: Iterable[ZooVariant | str], data_root: str | Path, *, minutes: float,
            size: tuple[int, int] = (360, 480), threads: int = 2, repeats: int = 5, eval_items: int | None = None,
            isolate: bool = True, progress: bool = False, log: Callable[[str], None] | None = print,
            on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """:func:`benchmark_variant` for each of ``variants`` (zoo keys or :class:`ZooVariant`) on the CamVid folder
    ``data_root`` (the dataset's folder or one above it); returns the rows in order. ``on_row`` is called with each
    row as soon as it is measured (the benchmark script saves there, so an interrupted run keeps its rows)."""
    root = registry.find_root("camvid", data_root)
    rows = []
    for v in variants:
        variant = VARIANTS[v] if isinstance(v, str) else v
        if log:
            log(f"[seg_zoo] {variant.key}: measuring, then training for {minutes:g} min ...")
        row = benchmark_variant(variant, root, minutes=minutes, size=size, threads=threads, repeats=repeats,
                                eval_items=eval_items, isolate=isolate, progress=progress)
        if log:
            log(f"[seg_zoo] {variant.key}: " + (row["error"] if "error" in row else
                f"{row['steps']} steps, val mIoU {row.get('val_miou', float('nan')):.3f}"))
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def _gflops(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.0f}"


_COLUMNS = [("model", "model", None), ("key", "variant", None), ("source", "from", None),
            ("params", "params (M)", lambda v: f"{v / 1e6:.2f}"), ("gflops", "GFLOPs", _gflops),
            ("input", "input", None), ("latency_ms", "latency ms", lambda v: f"{v:.0f}"),
            ("cpu_ms", "CPU-time ms", lambda v: f"{v:.0f}"),
            ("peak_mem_mib", "peak MiB", lambda v: f"{v:.0f}"), ("steps", "train steps", lambda v: f"{v}"),
            ("val_miou", "val mIoU %", lambda v: f"{100 * v:.1f}"),
            ("val_pixel_accuracy", "val acc %", lambda v: f"{100 * v:.1f}"),
            ("test_miou", "test mIoU %", lambda v: f"{100 * v:.1f}"),
            ("test_pixel_accuracy", "test acc %", lambda v: f"{100 * v:.1f}")]


def markdown_table(rows: Iterable[dict[str, Any]]) -> str:
    """The rows as one markdown table (a failed or unrunnable model shows its reason in place of numbers).

    Example:
        >>> print(markdown_table([{"model": "ENet", "key": "enet", "source": "pytorchcv", "error": "no pytorchcv"}]))
        | model | variant | from | params (M) | GFLOPs | input | latency ms | CPU-time ms | peak MiB | train steps | val mIoU % | val acc % | test mIoU % | test acc % |
        |---|---|---|---|---|---|---|---|---|---|---|---|---|---|
        | ENet | enet | pytorchcv | no pytorchcv |  |  |  |  |  |  |  |  |  |  |
    """  # noqa: E501
    lines = ["| " + " | ".join(label for _, label, _ in _COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for row in rows:
        cells = []
        for key, _, fmt in _COLUMNS:
            value = row.get(key)
            cells.append("" if value is None else (fmt(value) if fmt else str(value)))
        if "error" in row:
            cells = cells[:3] + [str(row["error"]).replace("|", "/")] + [""] * (len(_COLUMNS) - 4)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
