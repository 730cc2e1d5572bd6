"""`interp direction`: a direction file from an HDF5 activation store."""

from __future__ import annotations

from pathlib import Path

from interp.cli.common import RegistryChoices, UserError, add_command, add_shared, check_writable, layers_or_exit
from interp.cli.output import report


def _methods():
    from probes.directions import DIRECTION_METHODS

    return DIRECTION_METHODS


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "direction",
        "compute a direction (positive minus negative class) from an activation file and save it as safetensors",
        "interp direction --store runs/acts.h5 --layers 6 --method mean-diff --out runs/v.safetensors",
        run,
    )
    add_shared(parser, "--store", required=True)
    add_shared(parser, "--layers", "the stored layers to compute, one row each", default="all")
    add_shared(
        parser,
        "--method",
        "how to find the direction: %(choices)s (any registered with probes.register_direction_method)",
        choices=RegistryChoices(_methods),
        default="mean-diff",
        metavar="METHOD",
    )
    add_shared(parser, "--out", "a .safetensors file", required=True)
    add_shared(parser, "--overwrite", "a direction file already there")
    add_partial_arg(parser)


def add_partial_arg(parser) -> None:
    add_shared(parser, "--partial", "refused by default; rerunning that `interp cache` command finishes it")


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


def check_new_file(path: str | Path, overwrite: bool) -> None:
    """Refuse to replace an existing --out file unless --overwrite was given."""
    if Path(path).exists() and not overwrite:
        raise UserError(f"--out {path} already exists; pass --overwrite to replace it, or choose another --out")


def run(args) -> int:
    from activations import ActivationStore
    from probes.direction_file import direction_from_store

    if not args.out.endswith(".safetensors"):
        raise UserError(f"--out {args.out}: direction files end in .safetensors")
    check_new_file(args.out, args.overwrite)
    check_writable("--out", args.out)
    layers = layers_or_exit(args.layers, "--layers", stored=open_store_layers(args.store, args.partial))
    try:
        with ActivationStore(args.store, allow_partial=args.partial) as store:
            direction = direction_from_store(store, layers, args.method)
    except (KeyError, ValueError) as err:
        raise UserError(f"--store {args.store}: {err}") from err
    path = direction.save(Path(args.out))
    norms = {layer: norm for layer, norm in zip(direction.layers, direction.norms)}
    shown = ", ".join(f"{layer}: {norm:.4g}" for layer, norm in norms.items())
    return report(
        args,
        f"{args.method} direction at layers {list(direction.layers)} (norms {shown})",
        [path],
        {"out": path, "method": args.method, "layers": list(direction.layers), "norms": list(norms.values())},
    )
