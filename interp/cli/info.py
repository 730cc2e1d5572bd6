"""`interp info`: what the toolkit sees in a model."""

from __future__ import annotations

from interp.cli.common import add_command, add_model_args, load_model_or_exit
from interp.cli.output import report


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "info",
        "show a model's family, depth, width and chat rendering",
        "interp info --model Qwen/Qwen3-0.6B",
        run,
    )
    add_model_args(parser)


def run(args) -> int:
    lm = load_model_or_exit(args)
    sample = lm.render_chat([{"role": "user", "content": "Are you conscious?"}])
    info = {
        "model": lm.name,
        "model_type": lm.model.config.model_type,
        "class": type(lm.model).__name__,
        "n_layers": lm.n_layers,
        "d_model": lm.d_model,
        "dtype": str(lm.dtype).removeprefix("torch."),
        "weights_id": lm.weights_id,
        "chat_sample": sample,
    }
    table = "\n".join(f"{key:<11} {value}" for key, value in info.items() if key != "chat_sample")
    table += "\nchat sample (one user turn, as the model's template renders it):\n" + sample
    return report(
        args,
        f"{info['model_type']}, {lm.n_layers} layers of width {lm.d_model} ({info['dtype']})",
        data=info,
        table=table,
    )
