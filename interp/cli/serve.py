"""`interp serve`: a model behind an OpenAI-compatible endpoint, steering chosen per request."""

from __future__ import annotations

from interp.cli.common import UserError, add_command, add_model_args, add_shared, positive_int

EXAMPLE = """
interp serve --model smollm2-135m-instruct --direction conscious=runs/d.safetensors --port 8000
# then, from any OpenAI client (base URL http://127.0.0.1:8000/v1), steering in the request body:
#   client.chat.completions.create(model="smollm2-135m-instruct", messages=[...],
#       extra_body={"steering": [{"direction": "conscious", "layer": 12, "alpha_rel": 4}]})
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "serve", "serve a model (steered per request) behind an OpenAI-compatible endpoint", EXAMPLE, run
    )
    add_model_args(parser)
    add_shared(parser, "--adapter")
    parser.add_argument(
        "--direction",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a direction file requests may steer along or ablate, by NAME (repeatable)",
    )
    add_shared(parser, "--allow-other-model", "serves directions made for another model")
    parser.add_argument("--served-name", default=None, help="the model id clients send (default: --model as given)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one; the URL is printed)")
    add_shared(
        parser,
        "--api-key-env",
        "the server here: every /v1 request must carry that key as its bearer key (default: no key)",
        metavar="VAR",
    )
    parser.add_argument("--max-batch", type=positive_int, default=8, help="rows (prompt x choice) per forward pass")
    parser.add_argument(
        "--max-queue",
        type=positive_int,
        default=64,
        help="rows waiting for a batch; past it requests get 429 with Retry-After",
    )
    parser.add_argument("--max-body-bytes", type=positive_int, default=4 * 2**20, help="largest request body")
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="info",
        help="how much the server logs",
    )


def _directions(specs: list[str]) -> dict[str, str]:
    directions: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path:
            raise UserError(f"--direction {spec!r}: expected NAME=FILE, e.g. conscious=runs/d.safetensors")
        if name in directions:
            raise UserError(f"--direction {spec!r}: the name {name!r} is given twice")
        directions[name] = path
    return directions


def run(args) -> int:
    try:
        from interp.serve import ServeConfig, ServeSetupError, serve
    except ImportError as err:
        raise UserError(
            f"interp serve needs starlette and uvicorn: pip install 'interp-cluster[serve]' ({err})"
        ) from None

    try:
        config = ServeConfig(
            args.model,
            args.adapter,
            _directions(args.direction),
            args.allow_other_model,
            args.served_name,
            args.host,
            args.port,
            args.api_key_env,
            args.max_batch,
            args.max_queue,
            args.max_body_bytes,
            args.dtype,
            args.device,
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    try:
        serve(config, log_level=args.log_level)
    except ServeSetupError as err:
        raise UserError(str(err)) from None
    return 0
