"""Train any chapter's recipe from the command line (Kaggle scripts, long GPU runs, ``torchrun``).

Usage::

    python -m course_lib.train RECIPE --data-root DIR [--profile quick|full] [--epochs N]
                               [--time-limit MINUTES] [--out DIR] [--set KEY=VALUE ...] [--resume]
    python -m course_lib.train --list
    torchrun --nproc_per_node 2 -m course_lib.train fcn8s-camvid --data-root data/camvid_segnet

``--data-root`` may name the dataset's own folder or the folder above it. The last line printed is one JSON
object with the final validation metrics, the run time and the checkpoint path. The notebooks call the same
``Recipe.train`` method. Introduced in Chapter 3.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import distributed as D
from .checkpoint import CheckpointError
from .recipes import RECIPES, get_recipe, parse_override
from .runlock import RunLockedError


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (``--epochs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_minutes(text: str) -> float:
    """argparse type: a number of minutes > 0 (``--time-limit``; omit the option for no limit)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of minutes > 0 (omit --time-limit for no limit), "
                                         f"got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_lib.train", description=__doc__.split("\n\n")[0])
    p.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    p.add_argument("--data-root", help="the dataset folder, or the folder above it")
    p.add_argument("--profile", choices=["quick", "full"], help="default: $COURSE_PROFILE, else full on GPU")
    p.add_argument("--epochs", type=positive_int, help="override the profile's number of epochs (>= 1)")
    p.add_argument("--time-limit", type=positive_minutes, metavar="MINUTES",
                   help="stop training after this many minutes (> 0)")
    p.add_argument("--out", help="output folder for checkpoints and history.json (default "
                   "$COURSE_WORK_DIR/RECIPE)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the recipe (JSON value, checked against its fields), e.g. --set lr=0.01 "
                   "--set crop_size=[256,256]")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="what --time-limit measures: wall time (default) or this process's CPU time, all threads "
                   "(a budget other jobs on a shared machine do not shrink)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if present")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        for name, r in sorted(RECIPES.items()):
            print(f"{name:28s} ch.{r.chapter:3s} {r.description}")
        return 0
    if not args.recipe or not args.data_root:
        build_parser().error("RECIPE and --data-root are required (or --list)")
    try:
        recipe = get_recipe(args.recipe)
        overrides = dict(parse_override(o) for o in args.overrides)
        recipe.check_data_root(args.data_root, "train")  # a named folder is never replaced by a sample
        device = D.init_distributed()
        result = recipe.train(args.data_root, profile=args.profile, overrides=overrides, epochs=args.epochs,
                              time_limit=args.time_limit, out_dir=args.out, device=device, resume=args.resume,
                              progress=not args.no_progress, clock=args.clock)
    except (KeyError, ValueError, TypeError, OSError, CheckpointError, RunLockedError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    summary = {
        "recipe": recipe.name,
        "profile": result.config.profile,
        "data_root": str(result.data_root),
        "data": result.data,
        "epochs": len(result.history),
        "seconds": round(result.seconds, 1),
        "checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "backbone": getattr(result.model, "backbone_source", None),
        "world_size": D.world_size(),
        **{f"val_{k}": v for k, v in result.metrics.items()},
    }
    main_process = D.is_main_process()
    D.cleanup()
    if main_process:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
