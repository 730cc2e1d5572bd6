"""`interp direction`: a direction file from an HDF5 activation store."""

from __future__ import annotations

from pathlib import Path

from interp.cli.common import UserError, add_command, check_writable

METHODS = ("mean-diff", "pca", "logistic", "mass-mean")


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "direction",
        "compute a direction (positive minus negative class) from an activation file and save it as safetensors",
        "interp direction --store runs/acts.h5 --layer 6 --method mean-diff --out runs/v.safetensors",
        run,
    )
    parser.add_argument("--store", required=True, help="activation file in the documented HDF5 layout")
    parser.add_argument("--layer", default="all",
                        help="a layer, a comma list (4,6,8) or 'all' stored layers; one row per layer")
    parser.add_argument("--method", choices=METHODS, default="mean-diff", help="how to find the direction")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    add_partial_arg(parser)


def add_partial_arg(parser) -> None:
    parser.add_argument("--partial", action="store_true",
                        help="use the committed rows of a store whose `interp cache` run has not finished "
                             "(refused by default; rerunning that command finishes it)")


def parse_layers(spec: str | None, stored: list[int], flag: str = "--layer") -> list[int]:
    """'all', None, '6' or '4,6,8' to stored layer indices; unknown layers are a UserError."""
    if spec is None or spec == "all":
        return list(stored)
    try:
        layers = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{flag} {spec!r}: expected 'all', a layer or a comma list such as 4,6,8") from None
    missing = [layer for layer in layers if layer not in stored]
    if missing or not layers:
        raise UserError(f"{flag} {spec}: layer(s) {missing} not in the store; it holds layers {stored}")
    return layers


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
    layers = parse_layers(args.layer, open_store_layers(args.store, args.partial))
    try:
        with ActivationStore(args.store, allow_partial=args.partial) as store:
            direction = direction_from_store(store, layers, args.method)
    except (KeyError, ValueError) as err:
        raise UserError(f"--store {args.store}: {err}") from err
    path = direction.save(Path(args.out))
    norms = ", ".join(f"{layer}: {norm:.4g}" for layer, norm in zip(direction.layers, direction.norms))
    print(f"wrote {path} ({args.method}, layers {list(direction.layers)}, norms {norms})")
    return 0
