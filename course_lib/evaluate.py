"""Evaluate a trained checkpoint of any recipe from the command line.

Usage::

    python -m course_lib.evaluate RECIPE --checkpoint FILE --data-root DIR [--split train|val|test|all]
    python -m course_lib.evaluate flow-farneback --data-root DIR --split all     (a recipe without training)

The model is rebuilt from the hyper-parameters stored in the checkpoint, its weights loaded with
``torch.load(weights_only=True)``, and the recipe's evaluation protocol run on the split (``all``: every split
with labels, and their union). Recipes that need no training (``requires_checkpoint`` false, e.g. the zero-flow
and Farneback baselines of Chapter 9) take no ``--checkpoint``. The last line printed is one JSON object with the
metrics. Introduced in Chapter 3.
"""

from __future__ import annotations

import argparse
import json
import sys

from .checkpoint import CheckpointError
from .config import get_device
from .recipes import get_recipe
from .recipes.base import data_description


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m course_lib.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("recipe")
    p.add_argument("--checkpoint", help="a last.pt / best.pt written by course_lib.train (not needed by recipes "
                   "without training, such as flow-zero)")
    p.add_argument("--data-root", required=True, help="the dataset folder, or the folder above it")
    p.add_argument("--split", default="val", help="train, val, test or all (default val)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        recipe = get_recipe(args.recipe)
        if args.checkpoint is None and getattr(recipe, "requires_checkpoint", True):
            raise ValueError(f"recipe {recipe.name!r} needs --checkpoint (a last.pt / best.pt of course_lib.train)")
        root = recipe.check_data_root(args.data_root, "evaluate")  # a named folder is never replaced by a sample
        device = get_device()
        model, cfg = recipe.load_model(args.checkpoint, device)
        metrics = recipe.evaluate_splits(model, args.data_root, args.split, cfg, device=device,
                                         progress=not args.no_progress)
    except (KeyError, ValueError, TypeError, OSError, CheckpointError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    print(json.dumps({"recipe": recipe.name, "checkpoint": args.checkpoint, "split": args.split,
                      "data": data_description(root), **(metrics if args.split != "all" else {"splits": metrics})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
