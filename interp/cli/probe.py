"""`interp probe`: a layer sweep of probes on an HDF5 activation store."""

from __future__ import annotations

from interp.cli.common import LAYERS_HELP, UserError, add_command, check_writable, layers_or_exit, literal_choices
from interp.cli.direction import add_partial_arg, open_store_layers


def _sweep_config():
    from probes.sweep import SweepConfig

    return SweepConfig


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "probe",
        "fit a probe on every layer of an activation file, score it on held-out examples and pick a layer",
        "interp probe --store runs/acts.h5 --layers 2,4,6,8 --out runs/sweep", run,
    )
    parser.add_argument("--store", required=True, help="activation file in the documented HDF5 layout")
    parser.add_argument("--layers", default="all", help=f"stored layers to sweep: {LAYERS_HELP} (default all)")
    parser.add_argument("--probe", choices=literal_choices(_sweep_config, "probe"), default="logistic",
                        metavar="PROBE", help="%(choices)s (default %(default)s)")
    parser.add_argument("--backend", choices=literal_choices(_sweep_config, "backend"), default="sklearn",
                        metavar="BACKEND", help="logistic probes: per-layer scikit-learn, or one batched torch fit "
                                                "(%(choices)s)")
    parser.add_argument("--test-fraction", type=float, default=0.25, help="share of examples held out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the example split")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (scikit-learn's C)")
    parser.add_argument("--out", required=True, help="folder for sweep.csv and sweep.json")
    add_partial_arg(parser)


def run(args) -> int:
    from probes.sweep import SweepConfig, sweep_store

    check_writable("--out", args.out, folder=True)
    layers = layers_or_exit(args.layers, "--layers", stored=open_store_layers(args.store, args.partial))
    try:
        config = SweepConfig(probe=args.probe, backend=args.backend, test_fraction=args.test_fraction,
                             seed=args.seed, C=args.C)
        result = sweep_store(args.store, layers, config, allow_partial=args.partial)
    except (KeyError, ValueError) as err:
        raise UserError(f"--store {args.store}: {err}") from err
    csv_path, json_path = result.save(args.out)
    print(result.table())
    print(f"wrote {csv_path} and {json_path}")
    return 0
