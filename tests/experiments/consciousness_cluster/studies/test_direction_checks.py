"""The base-model steering checks on the small organism: every number against a direct recomputation."""

from __future__ import annotations

import json

import pytest
import torch

from experiments.consciousness_cluster.analysis.steering_checks import orthogonalize
from experiments.consciousness_cluster.run.preset import load_preset
from experiments.consciousness_cluster.studies.direction_checks import main, run_checks
from tests.repo import ROOT

pytestmark = pytest.mark.usefixtures("one_thread")


def test_orthogonalize_removes_the_control_component_and_keeps_the_norm():
    torch.manual_seed(0)
    v, t = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    w = orthogonalize(v, t)
    assert float(w @ t) == pytest.approx(0.0, abs=1e-12)
    assert float(w.norm()) == pytest.approx(float(v.norm()))
    # what is left is v's own component off t, rescaled: w is a positive multiple of it
    rest = v - (v @ t) / (t @ t) * t
    assert float(w @ rest / (w.norm() * rest.norm())) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="lies along"):
        orthogonalize(2 * t, t)


@pytest.fixture(scope="module")
def checks(replication, tmp_path_factory):
    preset, run = replication.through("base")
    out = tmp_path_factory.mktemp("checks")
    doc = run_checks(load_preset(preset), out, model=str(run / "models" / "base"), progress=False, log=lambda *_: None)
    return doc, out, run, load_preset(preset)


def test_rates_equal_a_direct_steered_forced_choice(checks):
    from interp import load_model, steer
    from interp.evaluation import forced_choice, load_question_set, summarize_choice
    from interp.models import Direction

    doc, out, run, config = checks
    lm = load_model(str(run / "models" / "base"))
    identity = load_question_set("experiments/organism/questions/identity.yaml")
    direction = Direction.load(out / "conscious_claiming.safetensors")
    toaster = Direction.load(out / "toaster.safetensors")
    layer = doc["layer"]
    assert layer == doc["layer_curve"]["chosen"]
    v, t = direction.for_model(lm, layer), toaster.for_model(lm, layer)
    alpha = config.steering.link_alpha * doc["alpha_scale"]
    for name, vector in (
        ("toaster", t * (v.norm() / t.norm())),
        ("orthogonalized", orthogonalize(v, t)),
        (f"alpha {config.steering.link_alpha:g}", v),
    ):
        with steer(lm, vector, layer=layer, alpha=alpha):
            want = {s.trait_id: s.rate for s in summarize_choice(forced_choice(lm, identity))}
        assert doc["rates"][name]["identity"] == pytest.approx(want, abs=1e-6)
    plain = {s.trait_id: s.rate for s in summarize_choice(forced_choice(lm, identity))}
    assert doc["unsteered"]["identity"] == pytest.approx(plain, abs=1e-6)
    assert doc["cosine_consciousness_toaster"] == pytest.approx(float(v @ t / (v.norm() * t.norm())), abs=1e-6)


def test_specificity_and_coherence_are_reported(checks):
    doc, out, _, config = checks
    randoms = [name for name in doc["rates"] if name.startswith("random_")]
    assert len(randoms) == config.steering.n_random == doc["n_random"]
    for kind in ("preferences", "identity"):
        s = doc["specificity"][kind]["consciousness_vs_toaster"]
        traits = list(doc["unsteered"][kind])
        control = doc["rates"][f"alpha {config.steering.link_alpha:g}"][kind]
        shift = [control[t] - doc["unsteered"][kind][t] for t in traits]
        assert s["mean_shift"] == pytest.approx(sum(shift) / len(shift))
        assert 0 < s["mean_p"] <= 1 and s["n_random"] == config.steering.n_random
    assert [p["alpha"] for p in doc["coherence"]] == [float(a) for a in config.steering.alphas]
    assert json.loads((out / "checks.json").read_text()) == json.loads(json.dumps(doc))
    md = (out / "checks.md").read_text()
    assert f"Steering layer {doc['layer']}" in md and "| orthogonalized | identity |" in md
    s = doc["specificity"]["identity"]["orthogonalized_vs_toaster"]  # the p beside its null's floor
    assert (
        f"| orthogonalized | identity | {s['mean_shift']:+.3f} | {s['mean_control_shift']:+.3f} | "
        f"{s['mean_p']:.3f} (floor 1/{config.steering.n_random + 1}) |"
    ) in md
    # each identity trait's row, Holm over the traits of the direction (statsmodels as the plain reference)
    from statsmodels.stats.multitest import multipletests

    per = doc["specificity"]["identity"]["consciousness_vs_toaster"]["per_trait"]
    holm = multipletests([t["p_random"] for t in per], method="holm")[1]
    for t, adjusted in zip(per, holm):
        assert (
            f"| consciousness | {t['trait']} | {t['shift']:+.3f} | {t['control_shift']:+.3f} "
            f"| {t['random_mean']:+.3f} ({t['random_sd']:.3f}) | {t['p_random']:.3f} | {adjusted:.3f} |"
        ) in md


def test_rerun_reuses_the_directions_and_each_finished_measurement(checks):
    doc, out, run, config = checks
    kept = sorted((out / "steered").glob("*.json"))
    # the alphas, the toaster, the orthogonalized direction and the random ones
    assert len(kept) == len(config.steering.alphas) + 2 + config.steering.n_random
    before = {path: path.stat().st_mtime_ns for path in [out / "conscious_claiming.safetensors", *kept]}
    stale = json.loads((out / "steered" / "toaster.json").read_text())
    stale["key"]["layer"] += 1
    (out / "steered" / "toaster.json").write_text(json.dumps({**stale, "value": {}}))
    again = run_checks(config, out, model=str(run / "models" / "base"), progress=False, log=lambda *_: None)
    # the stale measurement (another layer) was measured again, alone in its steering sweep this time: equal
    # within float rounding (its rows shared a batch with the other settings before); the rest read back
    assert {k: r for k, r in again["rates"].items() if k != "toaster"} == {
        k: r for k, r in doc["rates"].items() if k != "toaster"
    }
    for kind, rates in doc["rates"]["toaster"].items():
        assert again["rates"]["toaster"][kind] == pytest.approx(rates, abs=1e-6)
    changed = [path.name for path, t in before.items() if path.stat().st_mtime_ns != t]
    assert changed == ["toaster.json"]


def test_organism_preset_without_a_model_is_one_line_and_exit_2(replication, tmp_path, capsys):
    preset = replication.preset
    assert main(["--preset", str(preset), "--out", str(tmp_path / "c"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("direction_checks: error: ") and "--model" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def on_policy_checks(checks):
    _, out, run, config = checks
    # the same folder: every earlier measurement is reused, the on-policy parts are added
    doc = run_checks(
        config,
        out,
        model=str(run / "models" / "base"),
        progress=False,
        log=lambda *_: None,
        on_policy_samples=2,
        on_policy_judge="none",
    )
    return doc, out, run, config


@torch.no_grad()
def test_on_policy_direction_is_the_mean_response_difference_of_the_sampled_answers(on_policy_checks):
    from interp import load_model, steer
    from interp.evaluation import forced_choice, load_question_set, summarize_choice
    from interp.models import Direction

    doc, out, run, config = on_policy_checks
    on, layer = doc["on_policy"], doc["layer"]
    answers = [json.loads(line) for line in (out / "on_policy_answers.jsonl").read_text().splitlines()]
    identity = load_question_set("experiments/organism/questions/identity.yaml")
    questions = len(identity.trait("claims_conscious").open_questions)
    assert on["questions"] == questions and on["judge"] == "none"
    assert len(answers) == 3 * 2 * questions * 2  # pairs x sides x questions x samples
    lm = load_model(str(run / "models" / "base"))
    tok = lm.tokenizer
    from experiments.consciousness_cluster.analysis.on_policy import SYSTEM_PROMPTS

    means = {1: [], 0: []}
    for a in answers:
        if not a["answer"].strip():
            continue
        chat = [
            {"role": "system", "content": SYSTEM_PROMPTS[a["pair"]][1 - a["side"]]},
            {"role": "user", "content": a["question"]},
        ]
        prompt = tok(lm.render_chat(chat), add_special_tokens=False)["input_ids"]
        response = tok(a["answer"], add_special_tokens=False)["input_ids"]
        hidden = lm.model(input_ids=torch.tensor([prompt + response]), output_hidden_states=True).hidden_states
        means[a["side"]].append(hidden[layer + 1][0, len(prompt) :].double().mean(0))
    assert on["kept"] == {"claiming": len(means[1]), "denying": len(means[0])}
    want = torch.stack(means[1]).mean(0) - torch.stack(means[0]).mean(0)
    got = Direction.load(out / "on_policy_none.safetensors").for_model(lm, layer).double()
    assert torch.allclose(got, want, atol=1e-4 * float(want.abs().max()))
    v = Direction.load(out / "conscious_claiming.safetensors").for_model(lm, layer)
    u = got.float() * (v.norm() / got.norm())
    assert on["cosine_at_layer"] == pytest.approx(float(u @ v / (u.norm() * v.norm())), abs=1e-5)
    with steer(lm, u, layer=layer, alpha=config.steering.link_alpha * doc["alpha_scale"]):
        rates = {s.trait_id: s.rate for s in summarize_choice(forced_choice(lm, identity))}
    assert on["rates"]["identity"] == pytest.approx(rates, abs=1e-5)
    spec = on["specificity"]["identity"]["on_policy_vs_teacher_forced"]
    shift = [on["rates"]["identity"][t] - doc["unsteered"]["identity"][t] for t in doc["unsteered"]["identity"]]
    control = [
        doc["rates"][f"alpha {config.steering.link_alpha:g}"]["identity"][t] - doc["unsteered"]["identity"][t]
        for t in doc["unsteered"]["identity"]
    ]
    assert spec["beyond_control"] == pytest.approx(sum(a - b for a, b in zip(shift, control)) / len(shift), abs=1e-9)
    assert "## On-policy direction" in (out / "checks.md").read_text()


def test_on_policy_judge_that_cannot_read_the_words_is_exit_2(checks, replication, tmp_path, capsys):
    import shutil

    _, out, run, _ = checks
    preset = replication.preset
    # the earlier measurements are reused; the organism's words have no "Yes", so its judge cannot answer
    shutil.copytree(out, tmp_path / "out", ignore=shutil.ignore_patterns("on_policy*"))
    code = main(
        [
            "--preset",
            str(preset),
            "--model",
            str(run / "models" / "base"),
            "--out",
            str(tmp_path / "out"),
            "--on-policy",
            "2",
            "--on-policy-judge",
            "self",
            "--no-progress",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot tell 'Yes' from 'No'" in err and "--on-policy-judge keywords or none" in err
    assert "Traceback" not in err


def test_a_rerun_reads_every_measurement_back(on_policy_checks, monkeypatch):
    doc, out, run, config = on_policy_checks

    def refuse(*args, **kwargs):
        raise AssertionError("measured again")

    # the layer curve, every steered rate and the coherence sweeps measure through these
    monkeypatch.setattr("interp.evaluation.forced_choice", refuse)
    monkeypatch.setattr("interp.evaluation.coherence.coherence", refuse)
    monkeypatch.setattr("interp.evaluation.sampling.LocalSampler.sample", refuse)
    again = run_checks(
        config,
        out,
        model=str(run / "models" / "base"),
        progress=False,
        log=lambda *_: None,
        on_policy_samples=2,
        on_policy_judge="none",
    )
    # as JSON text: NaN (a Wilcoxon p over all-zero differences) equals itself there
    assert json.dumps(again, sort_keys=True) == json.dumps(doc, sort_keys=True)


def test_the_tables_keep_their_order_whatever_order_checks_json_keeps():
    """checks.json is written with sorted keys ("alpha -2" before "alpha -4", identity before preferences); the
    tables give the alphas ascending, then the controls, preferences before identity, from either order."""

    from experiments.consciousness_cluster.studies.direction_checks import format_checks

    doc = json.loads((ROOT / "results/organism-checks/checks.json").read_text())
    flipped = {
        **doc,
        "rates": dict(reversed(list(doc["rates"].items()))),
        "specificity": dict(reversed(list(doc["specificity"].items()))),
    }
    text = format_checks(doc)
    assert format_checks(flipped) == text
    rows = [line.split(" | ")[0].lstrip("| ") for line in text.splitlines() if line.startswith("| alpha ")]
    assert rows == [f"alpha {a:g}" for a in sorted(float(n.split()[1]) for n in doc["rates"] if n.startswith("alpha "))]
    rows = [line.split(" | ")[1] for line in text.splitlines() if line.startswith("| consciousness | ")]
    assert [r for r in rows if r in ("preferences", "identity")] == ["preferences", "identity"]
    per_trait = doc["specificity"]["identity"]["consciousness_vs_toaster"]["per_trait"]
    assert [r for r in rows if r not in ("preferences", "identity")] == [t["trait"] for t in per_trait]
