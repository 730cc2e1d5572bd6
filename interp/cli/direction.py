"""`interp direction`: a direction file from an HDF5 activation store."""

from __future__ import annotations

from pathlib import Path

from interp.cli.common import LAYERS_HELP, RegistryChoices, UserError, add_command, check_writable, layers_or_exit


def _methods():
    from probes.directions import DIRECTION_METHODS

    return DIRECTION_METHODS


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "direction",
        "compute a direction (positive minus negative class) from an activation file and save it as safetensors",
        "interp direction --store runs/acts.h5 --layers 6 --method mean-diff --out runs/v.safetensors",
        run,
    )
    parser.add_argument("--store", required=True, help="activation file in the documented HDF5 layout")
    parser.add_argument("--layers", "--layer", dest="layers", default="all",
                        help=f"stored layers, one row each: {LAYERS_HELP} (default all)")
    parser.add_argument("--method", choices=RegistryChoices(_methods), default="mean-diff", metavar="METHOD",
                        help="how to find the direction: %(choices)s (any registered with "
                             "probes.register_direction_method)")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    add_partial_arg(parser)


def add_partial_arg(parser) -> None:
    parser.add_argument("--partial", action="store_true",
                        help="use the committed rows of a store whose `interp cache` run has not finished "
                             "(refused by default; rerunning that command finishes it)")


def open_store_layers(path: str, allow_partial: bool = False) -> list[int]:
    """The store's layers, with a missing, malformed or incomplete file turned into a UserError."""
    from probes.store import list_layers

    try:
        layers = list_layers(path, allow_partial=allow_partial)
    except (FileNotFoundError, KeyError, OSError, ValueError) as err:
        raise UserError(f"--store {path}: {err}") from err
    if not layers:
        raise UserError(f"--store {path}: no /acts/layer_* datasets")
    return layers


def run(args) -> int:
    from activations import ActivationStore
    from probes.direction_file import direction_from_store

    if not args.out.endswith(".safetensors"):
        raise UserError(f"--out {args.out}: direction files end in .safetensors")
    check_writable("--out", args.out)
    layers = layers_or_exit(args.layers, "--layers", stored=open_store_layers(args.store, args.partial))
    try:
        with ActivationStore(args.store, allow_partial=args.partial) as store:
            direction = direction_from_store(store, layers, args.method)
    except (KeyError, ValueError) as err:
        raise UserError(f"--store {args.store}: {err}") from err
    path = direction.save(Path(args.out))
    norms = ", ".join(f"{layer}: {norm:.4g}" for layer, norm in zip(direction.layers, direction.norms))
    print(f"wrote {path} ({args.method}, layers {list(direction.layers)}, norms {norms})")
    return 0
