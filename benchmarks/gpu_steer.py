"""The GPU suite's steering measurements: exactness on a tiny model, then generation speed at real size.

`steer_exact`: a steered block output is the plain one plus alpha * v, and K alphas in one batch
give what K separate runs give (tests/interp/test_steering.py's properties, on this device).
`steer_speed`: steered against unsteered greedy generation with the KV cache. `steer_alphas`:
K = 8 alphas as the rows of one batch against the K generations one by one.
"""

from __future__ import annotations

import torch

from benchmarks.bench_steer import timed
from benchmarks.gpu_context import Context
from benchmarks.gpu_record import Result, at_least, closeness_numbers, compare, exact
from interp.steering import steer

__all__ = ["steer_alphas", "steer_exact", "steer_speed"]

K = 8
GOAL_STEERED, GOAL_PER_ALPHA = 0.98, 0.8
# tests/interp/test_steering.py: torch's float32 defaults for the added vector, 1e-5 for batched against alone
ADDED_TOL, BATCHED_TOL = (1.3e-6, 1e-5), (1e-5, 1e-5)


@torch.no_grad()
def steer_exact(ctx: Context) -> Result:
    lm = ctx.model("tiny")
    gen = torch.Generator(device=ctx.device).manual_seed(0)
    ids = torch.randint(0, 256, (3, 12), generator=gen, device=ctx.device)
    vector = torch.randn(lm.d_model, generator=gen, device=ctx.device).cpu()
    layer = lm.n_layers // 2
    base = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    with steer(lm, vector, layer=layer, alpha=2.5):
        steered = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    added = base[layer + 1] + 2.5 * vector.to(ctx.device)
    checks = [
        compare(
            "steered block output == plain + 2.5 v", steered[layer + 1], added, rtol=ADDED_TOL[0], atol=ADDED_TOL[1]
        ),
        compare(
            "block before the steered one unchanged", steered[layer], base[layer], rtol=ADDED_TOL[0], atol=ADDED_TOL[1]
        ),
    ]
    alphas = torch.tensor([0.0, 1.5, -3.0])
    with steer(lm, vector, layer=layer, alpha=alphas):
        together = lm.model(input_ids=ids).logits
    for row, alpha in enumerate(alphas.tolist()):
        with steer(lm, vector, layer=layer, alpha=alpha):
            alone = lm.model(input_ids=ids[row : row + 1]).logits
        checks.append(
            compare(
                f"alpha {alpha:g} in a batch of 3 == alone",
                together[row : row + 1],
                alone,
                rtol=BATCHED_TOL[0],
                atol=BATCHED_TOL[1],
            )
        )
    return Result(
        goals=[exact("steering == plain reference", checks, "tests/interp/test_steering.py's tolerances")],
        numbers={"layer": layer, "exactness": closeness_numbers(checks)},
    )


def _generator(ctx: Context, new_tokens: int):
    """generate(ids, alpha): greedy generation of exactly `new_tokens` tokens, steered when alpha is given."""
    lm = ctx.model("dense")
    layer = lm.n_layers // 2
    vector = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(1)) * 0.5
    options = dict(
        max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id
    )

    @torch.no_grad()
    def generate(ids, alpha=None):
        if alpha is None:
            return lm.model.generate(input_ids=ids, **options)
        with steer(lm, vector, layer=layer, alpha=alpha):
            return lm.model.generate(input_ids=ids, **options)

    return lm, generate


def steer_speed(ctx: Context) -> Result:
    batch, prompt, new_tokens = ctx.sizes.steer
    lm, generate = _generator(ctx, new_tokens)
    ids = torch.randint(0, 256, (batch, prompt), generator=torch.Generator().manual_seed(2)).to(ctx.device)
    generate(ids), generate(ids, 1.0)  # warm-up
    plain = steered = float("inf")
    for _ in ctx.rounds(3, 6):  # alternating, so drift on the machine falls on both sides
        plain = min(plain, timed(lambda: generate(ids), ctx.device)[0])
        steered = min(steered, timed(lambda: generate(ids, 1.0), ctx.device)[0])
    tokens = batch * new_tokens
    ratio = plain / steered
    return Result(
        ratios={"steered_vs_unsteered": ratio},
        goals=[at_least("steered / unsteered generation tokens/s", ratio, GOAL_STEERED)],
        numbers={
            "unsteered_tokens_per_s": tokens / plain,
            "steered_tokens_per_s": tokens / steered,
            "batch": batch,
            "prompt_tokens": prompt,
            "new_tokens": new_tokens,
            "model": ctx.sizes.models["dense"],
            "layers": lm.n_layers,
        },
    )


def steer_alphas(ctx: Context) -> Result:
    _, prompt, _ = ctx.sizes.steer
    new_tokens = ctx.sizes.alpha_tokens
    lm, generate = _generator(ctx, new_tokens)
    one = torch.randint(0, 256, (1, prompt), generator=torch.Generator().manual_seed(3)).to(ctx.device)
    same_K = one.repeat(K, 1)  # the one prompt, once per alpha
    alphas = torch.linspace(-4, 4, K)
    generate(same_K, alphas), generate(one, 1.0)  # warm-up
    batched = serial = float("inf")
    for _ in ctx.rounds(2, 4):
        batched = min(batched, timed(lambda: generate(same_K, alphas), ctx.device)[0])
        serial = min(serial, timed(lambda: [generate(one, float(a)) for a in alphas], ctx.device)[0])
    ratio = serial / batched
    return Result(
        ratios={"batched_vs_one_by_one": ratio},
        goals=[at_least(f"{K} alphas batched / one by one", ratio, GOAL_PER_ALPHA * K)],
        numbers={
            "batched_s": batched,
            "one_by_one_s": serial,
            "k": K,
            "prompt_tokens": prompt,
            "new_tokens": new_tokens,
            "model": ctx.sizes.models["dense"],
            "layers": lm.n_layers,
        },
    )
