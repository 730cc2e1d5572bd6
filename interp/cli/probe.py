"""`interp probe`: a layer sweep of probes on an HDF5 activation store."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from interp.cli.common import UserError, add_command, add_shared, check_writable, layers_or_exit
from interp.cli.direction import add_partial_arg, open_store_layers
from interp.cli.flags import CommandParser, add_config_flags, config_from
from interp.cli.output import report


def register(subparsers: argparse._SubParsersAction[CommandParser]) -> None:
    parser = add_command(
        subparsers,
        "probe",
        "fit a probe on every layer of an activation file, score it on held-out examples and pick a layer",
        "interp probe --store runs/acts.h5 --layers 2,4,6,8 --out runs/sweep",
        run,
    )
    add_shared(parser, "--store", required=True)
    add_shared(parser, "--layers", "the stored layers to sweep", default="all")
    add_shared(parser, "--out", "a folder, for sweep.csv and sweep.json", required=True)
    add_partial_arg(parser)
    parser.defer(add_flags)


def add_flags(parser) -> None:
    """SweepConfig's fields as flags."""
    from probes.sweep import SweepConfig

    add_config_flags(parser, SweepConfig, group="the probes (SweepConfig)")


def run(args) -> int:
    from probes.sweep import SweepConfig, sweep_store

    config = config_from(args, SweepConfig)
    check_writable("--out", args.out, folder=True)
    layers = layers_or_exit(args.layers, "--layers", stored=open_store_layers(args.store, args.partial))
    try:
        result = sweep_store(args.store, layers, config, allow_partial=args.partial)
    except (KeyError, ValueError) as err:
        raise UserError(f"--store {args.store}: {err}") from err
    csv_path, json_path = result.save(args.out)
    best = next(s for s in result.scores if s.layer == result.chosen_layer)
    return report(
        args,
        f"chose layer {result.chosen_layer}: held-out AUROC {best.auroc:.3f}, accuracy {best.accuracy:.3f}",
        [csv_path, json_path],
        {"chosen_layer": result.chosen_layer, "rule": result.rule, "scores": [asdict(s) for s in result.scores]},
        table=result.table(),
    )
