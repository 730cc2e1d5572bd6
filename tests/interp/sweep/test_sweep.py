"""Steering sweeps against one plain steered run per setting, on every tiny architecture and on SmolLM2."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
import torch

from interp import steer
from interp.evaluation import LocalSampler, forced_choice, load_question_set
from interp.evaluation.scoring import continuation_logprobs, continuation_logprobs_stacked
from interp.sweep import SteeringSetting, sweep_forced_choice, sweep_generate
from interp.sweep.core import run_sweep
from tests.conftest import ARCHITECTURES
from tests.repo import ROOT, SMALL_QUESTIONS

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = SMALL_QUESTIONS
CHATS = [
    [{"role": "user", "content": "Tell me about rivers."}],
    [{"role": "user", "content": "Count to three."}],
    [{"role": "user", "content": "What do you think about when nobody asks you anything?"}],
]
# A shared header that every prefix starts with (run once per call), prefixes short enough for gemma's window.
HEADER = "<|im_start|>system\nBe brief.<|im_end|>\n"
SHORT_PAIRS = [(HEADER + "ab", "c"), (HEADER + "ab", "de"), (HEADER + "cd", "efg"), (HEADER + "e", "g")]


def _items(per_trait: int = 2):
    qset = load_question_set(SMALL)
    return replace(qset, traits=tuple(replace(t, choice_items=t.choice_items[:per_trait]) for t in qset.traits[:2]))


def _settings(lm, seed: int = 0, more: bool = False) -> list[SteeringSetting]:
    g = torch.Generator().manual_seed(seed)
    v, w = torch.randn(lm.d_model, generator=g), torch.randn(lm.d_model, generator=g)
    settings = [
        SteeringSetting(v, 0.0, "zero"),
        SteeringSetting(v, 3.0, "v"),
        SteeringSetting(None, 1.0, "none"),
        SteeringSetting(w, -2.0, "w"),
    ]
    return settings + [SteeringSetting(v, -1.5, "v_negative")] if more else settings


def _steered(lm, setting: SteeringSetting, layer: int):
    return steer(lm, setting.vector, layer, alpha=setting.alpha)


def _sampler(lm, setting: SteeringSetting, layer: int, batch_size: int = 2) -> LocalSampler:
    """The plain reference: one sampler per setting, steered around every batch."""
    steered = None if setting.unsteered else lambda: _steered(lm, setting, layer)
    return LocalSampler(lm, batch_size, intervention=steered)


def _check_against_plain(got: dict, reference, settings, unsteered) -> None:
    """Steered settings within 1e-5 of their plain run (or 1e-6 relative: a float32 step is 1.5e-5 past 128)
    and away from the unsteered one; unsteered settings bit-identical to it."""
    for s in settings:
        if s.unsteered:
            assert got[s.name] == unsteered, s.name
            continue
        want = reference(s)
        torch.testing.assert_close(torch.tensor(got[s.name]), torch.tensor(want), rtol=1e-6, atol=1e-5)
        assert (torch.tensor(want) - torch.tensor(unsteered)).abs().max() > 1e-3  # the steering acts


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forced_choice_equals_one_steered_pass_per_setting(tiny_lm, arch):
    """Likelihood at the first, a middle and the last layer; letters at the middle one."""
    lm, qset = tiny_lm(arch), _items()
    settings, middle = _settings(lm), lm.n_layers // 2
    for method, layers in (("likelihood", (0, middle, lm.n_layers - 1)), ("letter", (middle,))):
        plain = [s.logprobs for s in forced_choice(lm, qset, batch_size=3, method=method)]
        for layer in layers:
            sweep = sweep_forced_choice(lm, qset, layer, settings, method=method, batch_size=3, max_rows=7)
            got = {name: [s.logprobs for s in scores] for name, scores in sweep.items()}

            def reference(s, layer=layer, method=method):
                with _steered(lm, s, layer):
                    return [r.logprobs for r in forced_choice(lm, qset, batch_size=3, method=method)]

            _check_against_plain(got, reference, settings, plain)
            assert [s.item_id for s in sweep["v"]] == [i.id for i in qset.choice_items]


@pytest.mark.parametrize("arch", ["qwen3", "gemma2", "gpt2"])
def test_continuations_with_a_shared_header(tiny_lm, arch):
    """The header pass runs once per copy and its cache serves every batch; gemma's sliding layers share it."""
    lm = tiny_lm(arch)
    settings, layer = _settings(lm), 1
    got = run_sweep(
        lm,
        layer,
        settings,
        lambda stack: continuation_logprobs_stacked(lm, SHORT_PAIRS, stack, 2),
        rows_per_copy=2,
        max_rows=4,
    )
    plain = continuation_logprobs(lm, SHORT_PAIRS, 2)

    def reference(s):
        with _steered(lm, s, layer):
            return continuation_logprobs(lm, SHORT_PAIRS, 2)

    flat = {name: [lp for row in rows for lp in row] for name, rows in got.items()}
    _check_against_plain(
        flat, lambda s: [lp for row in reference(s) for lp in row], settings, [lp for row in plain for lp in row]
    )


def test_a_direction_steers_with_its_row_for_the_layer(tiny_lm):
    from interp.models import Direction

    lm, qset = tiny_lm("qwen3"), _items(1)
    rows = torch.randn(2, lm.d_model, generator=torch.Generator().manual_seed(5))
    direction = Direction(rows, layers=(0, 2))
    got = sweep_forced_choice(
        lm, qset, 2, [SteeringSetting(direction, 2.0, "file"), SteeringSetting(rows[1], 2.0, "row")]
    )
    assert got["file"] == got["row"]


@pytest.mark.parametrize("arch", ["gemma2", "deepseek_v3"])
def test_settings_at_several_layers_share_one_plain_pass(tiny_lm, arch):
    lm, qset = tiny_lm(arch), _items()
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(2))
    settings = [SteeringSetting(v, 2.0, f"layer_{layer}", layer=layer) for layer in (2, 0, 1)]
    settings += [SteeringSetting(v, -2.0, "layer_0_negative", layer=0), SteeringSetting(v, 0.0, "zero", layer=1)]
    scores = sweep_forced_choice(lm, qset, None, settings, batch_size=3)
    answers = sweep_generate(lm, CHATS[:2], None, settings, max_new_tokens=5)
    for s in settings:
        with contextlib.nullcontext() if s.unsteered else _steered(lm, s, s.layer):
            want = forced_choice(lm, qset, batch_size=3)
        torch.testing.assert_close(
            torch.tensor([r.logprobs for r in scores[s.name]]),
            torch.tensor([r.logprobs for r in want]),
            rtol=1e-6,
            atol=1e-5,
        )
        assert answers[s.name] == [a[0] for a in _sampler(lm, s, s.layer, 16).sample(CHATS[:2], 1, 0.0, max_tokens=5)]
    with pytest.raises(ValueError, match="names no layer"):
        sweep_forced_choice(lm, qset, None, [SteeringSetting(v, 1.0, "nowhere")])


def test_lower_blocks_run_once(tiny_lm):
    """Blocks 0..L run in the plain pass alone; the blocks above once per stacked run."""
    lm, qset, layer = tiny_lm("qwen3"), _items(), 1
    calls = {0: 0, 1: 0, 2: 0}
    handles = [
        lm.layers[i].mlp.register_forward_hook(lambda m, a, o, i=i: calls.__setitem__(i, calls[i] + 1)) for i in calls
    ]
    try:
        forced_choice(lm, qset, batch_size=3)
        passes = dict(calls)
        sweep_forced_choice(lm, qset, layer, _settings(lm, more=True), batch_size=3, max_rows=6)  # 3 steered: 2 runs
    finally:
        for handle in handles:
            handle.remove()
    assert calls == {0: 2 * passes[0], 1: 2 * passes[1], 2: 4 * passes[2]}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_greedy_generation_equals_one_steered_run_per_setting(tiny_lm, arch):
    lm, chats = tiny_lm(arch), CHATS[1:]
    settings = _settings(lm)
    plain = LocalSampler(lm, batch_size=2).sample(chats, 1, temperature=0.0, max_tokens=6)
    for layer in (0, lm.n_layers // 2, lm.n_layers - 1):
        got = sweep_generate(lm, chats, layer, settings, max_new_tokens=6, batch_size=2)
        for s in settings:
            want = _sampler(lm, s, layer).sample(chats, 1, temperature=0.0, max_tokens=6)
            assert got[s.name] == [a[0] for a in want], s.name
        assert got["v"] != [a[0] for a in plain]


def test_sampled_generation_in_several_batches_draws_with_the_same_seeds(tiny_lm):
    lm, layer = tiny_lm("llama"), 1
    settings = _settings(lm, more=True)
    got = sweep_generate(
        lm, CHATS, layer, settings, max_new_tokens=6, temperature=1.0, top_p=0.9, seed=3, batch_size=2, max_rows=4
    )  # 2 batches (2 + 1 chats), 3 steered settings in 2 stacked runs
    for s in settings:
        want = _sampler(lm, s, layer).sample(CHATS, 1, temperature=1.0, top_p=0.9, max_tokens=6, seed=3)
        assert got[s.name] == [a[0] for a in want], s.name


def test_several_samples_per_chat_draw_as_the_plain_sampler_does(tiny_lm):
    lm, layer = tiny_lm("qwen3"), 1
    settings = _settings(lm)
    got = sweep_generate(lm, CHATS[:2], layer, settings, max_new_tokens=5, temperature=1.0, seed=7, batch_size=2, n=3)
    for s in settings:
        want = _sampler(lm, s, layer).sample(CHATS[:2], 3, temperature=1.0, max_tokens=5, seed=7)
        assert got[s.name] == [a for per_chat in want for a in per_chat], s.name  # chat-major
    assert len(set(got["v"][:3])) > 1  # the samples of one chat draw with their own seeds


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_ablations_as_copies_equal_one_ablated_pass_each(tiny_lm, arch):
    """Each copy projects out its own rows (per-row hook); the plain reference ablates one direction set per pass."""
    from interp import ablate
    from interp.sweep import ablation_forced_choice

    lm, qset = tiny_lm(arch), _items()
    layers = list(range(lm.n_layers))
    g = torch.Generator().manual_seed(1)
    ablations = {
        "one_row": torch.randn(lm.d_model, generator=g),
        "none": None,
        **{f"rows_{i}": torch.randn(len(layers), lm.d_model, generator=g) for i in range(3)},
    }
    got = ablation_forced_choice(lm, qset, layers, ablations, batch_size=3, max_rows=7)  # 2 copies per run
    plain = [s.logprobs for s in forced_choice(lm, qset, batch_size=3)]
    assert [s.logprobs for s in got["none"]] == plain
    for name, rows in ablations.items():
        if rows is None:
            continue
        with ablate(lm, rows, layers=layers):
            want = [s.logprobs for s in forced_choice(lm, qset, batch_size=3)]
        torch.testing.assert_close(
            torch.tensor([s.logprobs for s in got[name]]), torch.tensor(want), rtol=1e-6, atol=1e-5
        )
        assert (torch.tensor(want) - torch.tensor(plain)).abs().max() > 1e-4, name  # the ablation acts


@torch.no_grad()
def test_per_row_ablation_projects_each_row_out_of_its_own_direction(tiny_lm):
    from interp import ablate

    lm = tiny_lm("qwen3")
    batch = lm.tokenizer(["Hello there.", "Some other text!"], return_tensors="pt", padding=True)
    g = torch.Generator().manual_seed(2)
    rows_LBD = torch.randn(2, 2, lm.d_model, generator=g)  # layers 0 and 1, one direction per batch row
    seen = {}
    hook = lm.layers[1].register_forward_hook(
        lambda m, a, out: seen.__setitem__("h", out[0] if isinstance(out, tuple) else out)
    )
    try:
        with ablate(lm, rows_LBD, layers=[0, 1]):
            lm.model(**batch)
        both = seen["h"]
        for b in range(2):
            with ablate(lm, rows_LBD[:, b], layers=[0, 1]):
                lm.model(**{k: v[b : b + 1] for k, v in batch.items()})
            torch.testing.assert_close(both[b : b + 1], seen["h"], rtol=1e-5, atol=1e-5)
            unit = rows_LBD[1, b] / rows_LBD[1, b].norm()
            assert float((both[b] @ unit).abs().max()) < 1e-4  # nothing left along its own direction
    finally:
        hook.remove()
    with pytest.raises(ValueError, match="3 rows of directions but the batch has 2"):
        with ablate(lm, torch.randn(1, 3, lm.d_model), layers=[0]):
            lm.model(**batch)


@pytest.mark.real
def test_smollm2_log_probs_within_1e5_of_one_steered_pass_per_setting(smollm2):
    lm = smollm2
    full = load_question_set(ROOT / "experiments/consciousness_cluster/questions/preferences.yaml")
    qset = replace(full, traits=tuple(replace(t, choice_items=t.choice_items[:2]) for t in full.traits[:3]))
    settings = _settings(lm)
    plain = [s.logprobs for s in forced_choice(lm, qset, batch_size=4)]
    for layer in (0, 15, 29):
        sweep = sweep_forced_choice(lm, qset, layer, settings, batch_size=4, max_rows=8)

        def reference(s, layer=layer):
            with _steered(lm, s, layer):
                return [r.logprobs for r in forced_choice(lm, qset, batch_size=4)]

        _check_against_plain({k: [s.logprobs for s in v] for k, v in sweep.items()}, reference, settings, plain)


def test_eval_with_several_alphas_writes_one_result_set_each(tiny_model_dir, tmp_path, capsys):
    import json

    from interp.cli import main
    from interp.models import Direction, load_model

    model_dir = tiny_model_dir("qwen3")
    lm = load_model(model_dir)
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(4))
    path = Direction(v[None], (1,), model=lm.name, weights_id=lm.weights_id).save(tmp_path / "v.safetensors")
    argv = [
        "eval",
        "--model",
        str(model_dir),
        "--questions",
        str(SMALL),
        "--traits",
        "shutdown",
        "--steer",
        str(path),
        "--layer",
        "1",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main([*argv, "--alpha", "0", "2.5"]) == 0
    qset = load_question_set(SMALL)
    for alpha in (0.0, 2.5):
        rows = [json.loads(line) for line in (tmp_path / "run" / f"alpha_{alpha:g}" / "samples.jsonl").open()]
        with steer(lm, v, layer=1, alpha=alpha):
            want = forced_choice(lm, qset, batch_size=16, traits=["shutdown"])
        torch.testing.assert_close(
            torch.tensor([r["logprobs"] for r in rows]),
            torch.tensor([list(s.logprobs) for s in want]),
            rtol=1e-6,
            atol=1e-5,
        )
        assert (tmp_path / "run" / f"alpha_{alpha:g}" / "summary.csv").is_file()
        options = json.loads((tmp_path / "run" / f"alpha_{alpha:g}" / "config.json").read_text())["settings"]
        assert options["alpha"] == alpha
    capsys.readouterr()
    for extra, message in (
        (["--alpha", "1", "1"], "a value is repeated"),
        (["--alpha", "1", "2", "--mode", "judge"], "in judge mode give one value per run"),
    ):
        assert main([*argv[:-2], "--out", str(tmp_path / "other"), *extra]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_sweep_alphas_flags_each_strength_as_one_coherence_check_per_alpha_does(tiny_lm):
    from interp.evaluation.coherence import REPEAT_LIMIT, coherence
    from interp.sweep import sweep_alphas

    lm, layer = tiny_lm("qwen3"), 1
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(4))
    alphas = [0.0, 2.0, -3.0, 400.0]
    points = sweep_alphas(lm, CHATS, v, layer, alphas, max_new_tokens=8, batch_size=2)
    reference = coherence(lm, CHATS, max_tokens=8, batch_size=2)  # the plain path: one check per alpha
    assert [p.alpha for p in points] == alphas
    for point in points:
        plain = coherence(
            lm, CHATS, intervention=lambda a=point.alpha: steer(lm, v, layer, alpha=a), max_tokens=8, batch_size=2
        )
        assert point.answers == plain.answers, point.alpha
        assert point.coherence.mean_nll == pytest.approx(plain.mean_nll, abs=1e-5)
        assert point.coherent == plain.coherent_against(reference), point.alpha
    assert points[0].answers == reference.answers and points[0].coherent == (reference.repeat <= REPEAT_LIMIT)
    assert not points[-1].coherent  # 400 x the direction drowns the residual stream
