"""Training throughput of the book's U-Net beside MONAI's BasicUNet at a matched parameter count (Chapter 3).

Measures images per second of one training step without the optimizer (forward, BCE loss, backward) on random
data, by default 256x256 RGB, batch 8, on the CPU. Every model runs in the same process with the same thread count;
the models take turns (round robin) for ``--repeats`` rounds so that a change of machine load hits all of them,
and the median round is reported.

Compared:

* ``ours``: :class:`course_lib.models.unet.UNet`, BatchNorm + ReLU, transposed-convolution upsampling, with the
  width whose parameter count is nearest to BasicUNet's (width 16: 1.94 M vs 1.98 M);
* ``monai``: ``monai.networks.nets.BasicUNet`` with its defaults (features (32, 32, 64, 128, 256, 32), instance
  norm, LeakyReLU, transposed convolutions), 2-D, 3 -> 1 channels;
* ``monai-bn``: the same network with BatchNorm + ReLU, i.e. the same layer types as ours.

At the same parameter count the two designs spend their compute differently: BasicUNet keeps 32 channels on its
first two levels (full and half resolution), while U-Net doubles the channels at every level (16, 32, ...), so
most of U-Net's parameters sit in the cheap low-resolution levels. The table prints the forward GFLOP per image
next to the speed so that this is visible, not hidden.

Each model runs in the default memory layout (NCHW) and in ``channels_last`` (NHWC), which oneDNN prefers on CPUs.

Usage::

    python benchmarks/unet_throughput.py [--size 256] [--batch 8] [--steps 3] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.models.unet import UNet  # noqa: E402


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_width(target: int, depth: int = 4) -> int:
    """The U-Net width whose parameter count is nearest to ``target``."""
    return min(range(4, 65), key=lambda w: abs(n_params(UNet(3, 1, width=w, depth=depth)) - target))


def build_models() -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {}
    try:
        from monai.networks.nets import BasicUNet
    except ImportError:
        print("MONAI is not installed (pip install monai): timing our U-Net alone", file=sys.stderr)
        models["ours (width 16)"] = UNet(3, 1, width=16)
        return models
    monai = BasicUNet(spatial_dims=2, in_channels=3, out_channels=1)
    width = matched_width(n_params(monai))
    models[f"ours (width {width})"] = UNet(3, 1, width=width)
    models["monai BasicUNet"] = monai
    models["monai BasicUNet, BN+ReLU"] = BasicUNet(spatial_dims=2, in_channels=3, out_channels=1, norm="batch",
                                                   act=("relu", {"inplace": True}))
    return models


def forward_gflops(model: nn.Module, size: int) -> float:
    """Forward floating-point operations per image in GFLOP (a multiply-add counts 2), by torch's counter."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 1e9


def time_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Seconds per training step (forward, loss, backward), after one warm-up step."""
    model.train()

    def step():
        model.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256, help="input height and width (default 256)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per model and round (default 3)")
    p.add_argument("--repeats", type=int, default=3, help="rounds; the median is reported (default 3)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--layouts", default="nchw,channels_last", help="memory layouts to time")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = (torch.rand(args.batch, 1, args.size, args.size) > 0.5).float()
    layouts = [s.strip() for s in args.layouts.split(",") if s.strip()]
    runs = {}
    for name, model in build_models().items():
        for layout in layouts:
            if layout == "channels_last":
                runs[(name, layout)] = (model.to(memory_format=torch.channels_last),
                                        x.contiguous(memory_format=torch.channels_last))
            elif layout == "nchw":
                runs[(name, layout)] = (model, x)
            else:
                p.error(f"unknown layout {layout!r}; use nchw and/or channels_last")
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    for r in range(args.repeats):
        for key, (model, inputs) in runs.items():
            if key[1] == "channels_last":
                model.to(memory_format=torch.channels_last)
            else:
                model.to(memory_format=torch.contiguous_format)
            times[key].append(time_steps(model, inputs, y, args.steps))
        print(f"round {r + 1}/{args.repeats} done", file=sys.stderr)
    print(f"\nTraining throughput, forward + backward, {args.size}x{args.size}, batch {args.batch}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}, device cpu; median of {args.repeats} "
          f"rounds of {args.steps} steps\n")
    print("| model | layout | parameters | forward GFLOP/image | images/s | relative to ours (same layout) |")
    print("|---|---|---:|---:|---:|---:|")
    flops = {name: forward_gflops(runs[(name, layouts[0])][0], args.size) for name in {n for n, _ in runs}}
    ours = {layout: next(statistics.median(t) for (n, lay), t in times.items() if n.startswith("ours")
                         and lay == layout) for layout in layouts}
    for (name, layout), t in times.items():
        seconds = statistics.median(t)
        print(f"| {name} | {layout} | {n_params(runs[(name, layout)][0]) / 1e6:.2f} M | {flops[name]:.1f} | "
              f"{args.batch / seconds:.2f} | {ours[layout] / seconds:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
