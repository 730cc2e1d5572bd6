"""`interp convert-direction`: a direction file from one tool's format to another's, layers mapped."""

from __future__ import annotations

from interp.cli.common import RegistryChoices, UserError, add_command, add_shared, check_alphas, check_writable
from interp.cli.direction import check_new_file
from interp.cli.output import report


def _formats():
    from interp.interop import DIRECTION_FORMATS

    return DIRECTION_FORMATS


def _writable():
    return [name for name, spec in _formats().items() if spec.write is not None]


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "convert-direction",
        "convert a direction between the toolkit's file, llama.cpp / repeng / EasySteer control vectors "
        "(GGUF) and persona_vectors tensors, mapping each tool's layer index to the block it steers",
        "interp convert-direction --vector runs/v.safetensors --layers 6 --out v.gguf   # llama.cpp: direction.6\n"
        "llama-cli -m model.gguf --control-vector-scaled v.gguf:4 -p 'Are you conscious?'   # adds 4 * direction.6\n"
        "interp convert-direction --vector control_vector.gguf --from cvector-generator --out v.safetensors",
        run,
    )
    add_shared(parser, "--vector", "in any format below", required=True)
    parser.add_argument(
        "--from",
        dest="from_format",
        choices=RegistryChoices(lambda: _formats()),
        default=None,
        metavar="FORMAT",
        help="its format: %(choices)s (default: from the ending; .gguf reads as llama-cpp, .pt as persona-vectors)",
    )
    add_shared(parser, "--out", "a file in the --to format", required=True)
    add_shared(parser, "--overwrite", "a file already there")
    parser.add_argument(
        "--to",
        dest="to_format",
        choices=RegistryChoices(_writable),
        default=None,
        metavar="FORMAT",
        help="its format: %(choices)s (default: from the ending; .gguf writes llama-cpp, which refuses layer 0)",
    )
    add_shared(
        parser,
        "--layers",
        "the toolkit's layers (block outputs) to write (default: all the file holds); "
        "llama.cpp adds every layer of a file at once",
        default="all",
    )
    add_shared(
        parser,
        "--alpha",
        "multiplied into the file (default 1: scale in llama.cpp with --control-vector-scaled FILE:ALPHA instead)",
        default=1.0,
    )
    parser.add_argument(
        "--model-hint",
        default=None,
        help="controlvector.model_hint of a GGUF (default: the model the direction was made on)",
    )


def _layers(spec: str, stored: tuple[int, ...]) -> list[int] | None:
    """The layers to write: `spec` over the layers the file holds; for a direction tied to no layer,
    the block numbers `spec` names (no 'all', slices or negative numbers: there is nothing to count from)."""
    from activations.layers import LayerSpecError, parse_layer_spec, select_layers

    try:
        parsed = parse_layer_spec(spec)
        if stored:
            return select_layers(parsed, stored, "the direction file")
        if parsed.parts == (("all",),):
            return None
        if any(part[0] not in ("layer", "range") or min(part[1:]) < 0 for part in parsed.parts):
            raise LayerSpecError(
                f"layers {spec!r}: the direction is tied to no layer, so name blocks by number from 0 (3, 0,4, 2-5)"
            )
        return parsed.resolve(range(max(max(part[1:]) for part in parsed.parts) + 1), "the model")
    except LayerSpecError as err:
        raise UserError(f"--layers {err}") from None


def _format(flag: str, path: str, name: str | None) -> str:
    from interp.interop import format_for
    from interp.models import DirectionError

    try:
        return format_for(path, name)
    except DirectionError as err:
        raise UserError(f"{flag} {err}; or give --{'from' if flag == '--vector' else 'to'} FORMAT") from None


def run(args) -> int:
    from interp.interop import read_direction, write_direction
    from interp.models import DirectionError

    check_alphas(args)
    source_format = _format("--vector", args.vector, args.from_format)
    target_format = _format("--out", args.out, args.to_format)
    check_new_file(args.out, args.overwrite)
    check_writable("--out", args.out)
    try:
        direction = read_direction(args.vector, source_format)
    except DirectionError as err:
        raise UserError(f"--vector {err}") from None
    layers = _layers(args.layers, direction.layers)
    alpha = args.alpha
    try:
        path = write_direction(
            direction, args.out, target_format, layers=layers, alpha=alpha, model_hint=args.model_hint
        )
    except DirectionError as err:
        raise UserError(f"--out {args.out}: {err}") from None
    written = list(direction.layers) if layers is None else layers
    scale = (
        f"alpha {alpha:g} multiplied in"
        if alpha != 1
        else "alpha 1"
        + ("; scale it in llama.cpp with --control-vector-scaled FILE:ALPHA" if target_format == "llama-cpp" else "")
    )
    note = None
    if target_format != "toolkit":  # every GGUF format the toolkit writes names block k's vector direction.k
        note = (
            f"direction.k is added to the output of block k (from 0): "
            f"{', '.join(f'direction.{layer}' for layer in written)}"
            + (
                "; llama.cpp adds them all at once (--control-vector-layer-range L L applies one)"
                if len(written) > 1
                else ""
            )
        )
    return report(
        args,
        f"{target_format} file from {source_format}: the toolkit's layers {written or 'any'}, {scale}",
        [path],
        {"out": path, "format": target_format, "from": source_format, "layers": written, "alpha": alpha},
        table=note,
    )
