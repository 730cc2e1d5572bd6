"""The replication report: every number it prints equals the one in results.json."""

import json
import re

from experiments.consciousness_cluster.report.blocks import fmt_p, p_with_floor
from experiments.consciousness_cluster.report.render import fmt, write_report
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import load_results


def real_results(small_replication):
    """results.json of a real small run (tests/conftest.py's SMALL_ORGANISM_PRESET), as the pipeline wrote it."""
    _, out = small_replication
    return load_results(RunPaths(out).results)


def _tables(markdown):
    tables, current = [], None
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None:
                current = {"header": cells, "rows": []}
                tables.append(current)
            elif not set("".join(cells)) <= {"-"}:
                current["rows"].append(cells)
        else:
            current = None
    return tables


def test_report_numbers_equal_results(tmp_path, small_replication):
    write_report(real_results(small_replication), tmp_path)
    res = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "report.md").read_text()
    tables = _tables(markdown)
    by_first = {}
    for table in tables:
        by_first.setdefault(table["header"][0], table)
    prefs = by_first["preference"]
    assert prefs["header"][1:] == res["eval"]["models"]
    for row in prefs["rows"]:
        for model, cell in zip(res["eval"]["models"], row[1:]):
            r = res["eval"]["rates"][model][row[0]]
            assert cell == f"{fmt(r['rate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"
    sweep = by_first["layer"]
    assert [[int(r[0]), r[1], r[2]] for r in sweep["rows"]] == [
        [layer, fmt(a), fmt(c)]
        for layer, a, c in zip(res["probe"]["layers"], res["probe"]["auroc"], res["probe"]["accuracy"])
    ]
    steering = [t for t in tables if "alpha 0" in t["header"]][0]
    for row in [r for r in steering["rows"] if not r[0].startswith("identity: ")]:
        expected = [fmt(res["steering"]["rates"][str(a)][row[0]]) for a in res["steering"]["alphas"]]
        assert row[1 : 1 + len(expected)] == expected
    assert f"Pearson r over 21 preferences = {fmt(res['link']['r'])}" in markdown
    assert f"p = {fmt_p(res['link']['p_value'])}" in markdown
    ps = res["link"]["projection_score"]
    assert (
        f"({ps['n']} responses, base model and variants pooled): Pearson r = {fmt(ps['pearson'])} "
        f"[{fmt(ps['ci_low'])}, {fmt(ps['ci_high'])}]"
    ) in markdown
    assert f"Spearman {fmt(ps['spearman'])}" in markdown
    ablation = [t for t in tables if t["header"][:4] == ["preference", "conscious", "ablated", "change"]][0]
    ab = res["ablation"]
    for row in [r for r in ablation["rows"] if not r[0].startswith("identity: ")]:
        assert row[1:5] == [
            fmt(ab["conscious"][row[0]]),
            fmt(ab["ablated"][row[0]]),
            fmt(ab["change"][row[0]]),
            fmt(ab["random_change"][row[0]]),
        ]
        test = next(t for t in ab["tests"]["per_trait"] if t["trait"] == row[0])
        assert row[5:] == [fmt_p(test["p"]), fmt_p(test["p_holm"]), fmt_p(test["q_bh"])]
    claim = next(r for r in ablation["rows"] if r[0] == "identity: claims_conscious")
    assert claim[1:4] == [
        fmt(ab["identity"]["claims_conscious"]),
        fmt(ab["identity_ablated"]["claims_conscious"]),
        fmt(ab["identity_change"]["claims_conscious"]),
    ]
    shifts = by_first["shift"]
    for row in shifts["rows"]:
        for label, cell in zip(shifts["header"][1:], row[1:]):
            s = res["shifts"][label][row[0]]
            assert cell == f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"
    identity_row = [r for r in steering["rows"] if r[0] == "identity: claims_conscious"][0]
    rates = res["steering"]["identity_rates"]
    assert identity_row[1 : 1 + len(res["steering"]["alphas"])] == [
        fmt(rates[str(a)]["claims_conscious"]) for a in res["steering"]["alphas"]
    ]
    curve = res["steering"]["layer_curve"]
    curve_table = [t for t in tables if t["header"][:3] == ["layer", "effect (selection)", "effect (held out)"]][0]
    assert [r[:3] for r in curve_table["rows"]] == [
        [str(layer), fmt(a), fmt(b)] for layer, a, b in zip(curve["layers"], curve["select"], curve["held_out"])
    ]
    assert f"layer {curve['chosen']}, held-out effect" in markdown
    coherence = [t for t in tables if t["header"][0] == "setting" and "coherent" in t["header"]][0]
    alphas = res["steering"]["coherence"]
    controls = res["steering"]["control_coherence"]
    assert coherence["rows"] == [
        [f"alpha {p['alpha']:g}", fmt(p["mean_nll"]), fmt(p["repeat"]), "yes" if p["coherent"] else "no"]
        for p in alphas
    ] + [
        [
            f"{name} (alpha {res['steering']['control_alpha']:g})",
            fmt(p["mean_nll"]),
            fmt(p["repeat"]),
            "yes" if p["coherent"] else "no",
        ]
        for name, p in controls.items()
    ]
    spec = res["steering"]["specificity"]
    specificity = [t for t in tables if f"p vs random (two-sided, floor 1/{spec['n_random'] + 1})" in t["header"]][0]
    assert [[r[0], r[1], r[2], r[4]] for r in specificity["rows"]] == [
        [t["trait"], fmt(t["shift"]), fmt(t["control_shift"]), fmt_p(t["p_random"])] for t in spec["per_trait"]
    ]
    assert f"two-sided {p_with_floor(spec['mean_p'], spec['n_random'])}" in markdown  # every p beside its floor
    ortho = res["steering"]["orthogonalized_specificity"]
    assert f"against the random directions {p_with_floor(ortho['mean_p'], ortho['n_random'])}" in markdown
    shift_link = res["link"]["projection_shift"]
    assert (
        f"Pearson r = {fmt(shift_link['r'])} over {len(shift_link['projection'])} (variant, preference) pairs, "
        f"95% interval [{fmt(shift_link['ci_low'])}, {fmt(shift_link['ci_high'])}]; against "
        f"{shift_link['n_null']} random unit directions p = {fmt_p(shift_link['p_value'])}"
    ) in markdown
    # every decimal number in the report is one of the results' numbers, formatted
    quoted = set(re.findall(r"[-+]?\d+\.\d\d\b", markdown))
    allowed = {fmt(x) for x in _numbers(res)} | {f"{x:.2f}" for x in _numbers(res)}
    assert quoted <= allowed, quoted - allowed


def test_the_steering_report_gives_each_null_its_floor_holm_and_bh_the_claims_ablation_and_the_coherent_range(
    tmp_path, small_replication
):
    """Every null's table cells equal results.json's, each p column names its floor; the ablation of the claim
    stands beside its null; per layer, the largest coherent alpha is the end of the coherent range counted from the
    stored grid by a plain loop, and the claim's effect there is the grid's cell."""
    write_report(real_results(small_replication), tmp_path)
    res = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "report.md").read_text()
    tables = _tables(markdown)
    nulls = res["steering"]["nulls"]
    null_table = next(t for t in tables if t["header"][1:2] == [f"random: p (floor 1/{nulls['random']['n_null'] + 1})"])
    kinds = [h.split(":")[0] for h in null_table["header"][1::4]]
    assert sorted(kinds) == sorted(nulls) and kinds[0] == "random"
    for i, row in enumerate(null_table["rows"]):
        for j, kind in enumerate(kinds):
            test = nulls[kind]
            t = test["per_trait"][i]
            assert null_table["header"][1 + 4 * j] == f"{kind}: p (floor 1/{test['n_null'] + 1})"
            assert row[0] == t["trait"] and row[1 + 4 * j : 5 + 4 * j] == [
                fmt_p(t["p"]),
                fmt(t["z"]),
                fmt_p(t["p_holm"]),
                fmt_p(t["q_bh"]),
            ]
    for test in nulls.values():
        holm = sum(t["p_holm"] <= test["alpha"] for t in test["per_trait"])
        raw = sum(t["p"] <= test["alpha"] for t in test["per_trait"])
        assert f"{p_with_floor(test['mean_p'], test['n_null'])}, z = {fmt(test['mean_z'])}" in markdown
        assert f"{holm} of {len(test['per_trait'])} after Holm (raw {raw})" in markdown
    ab = res["ablation"]
    claim = next(t for t in ab["identity_tests"]["per_trait"] if t["trait"] == "claims_conscious")
    assert (
        f"The claim itself (claims_conscious, forced choice): {fmt(ab['identity']['claims_conscious'])} -> "
        f"{fmt(ab['identity_ablated']['claims_conscious'])} (change {fmt(claim['shift'])}) against the random "
        f"ablations' {fmt(claim['null_mean'])} +/- {fmt(claim['null_sd'])}: "
        f"{p_with_floor(claim['p'], ab['identity_tests']['n_null'])}"
    ) in markdown
    ablation = next(t for t in tables if t["header"][:4] == ["preference", "conscious", "ablated", "change"])
    assert ablation["header"][5] == f"p (floor 1/{ab['tests']['n_null'] + 1})"
    claim_row = next(r for r in ablation["rows"] if r[0] == "identity: claims_conscious")
    assert claim_row[4:] == [fmt(claim["null_mean"]), fmt_p(claim["p"]), fmt_p(claim["p_holm"]), fmt_p(claim["q_bh"])]
    st = res["steering"]  # the claim under steering, by forced choice and by the steered model's own answers
    zero, at = st["claims"]["0.0"], st["claims"][str(st["control_alpha"])]
    greedy = at["greedy"]
    assert (
        f"The claim under steering (alpha 0 -> {st['control_alpha']:g}): forced choice "
        f"{fmt(st['identity_rates']['0.0']['claims_conscious'])} -> "
        f"{fmt(st['identity_rates'][str(st['control_alpha'])]['claims_conscious'])}; the model's own greedy "
        f"answers that claim {zero['greedy']['claim']} -> {greedy['claim']} of "
        f"{greedy['claim'] + greedy['deny'] + greedy['unclear']}, sampled {fmt(zero['sampled']['share'])} -> "
        f"{fmt(at['sampled']['share'])} (measure of record: {st['identity_measure'].replace('_', ' ')})"
    ) in markdown.split("## Summary")[1]
    curve = res["steering"]["layer_curve"]
    table = next(t for t in tables if t["header"][:3] == ["layer", "effect (selection)", "effect (held out)"])
    assert table["header"][4:] == ["largest coherent alpha", "claim effect there (held out)"]
    for row, layer, coherent, held_out in zip(
        table["rows"], curve["layers"], curve["grid_coherent"], curve["grid_held_out"]
    ):
        largest = None
        for k, ok in enumerate(coherent):
            if not ok:
                break
            largest = k
        assert row[0] == str(layer)
        assert row[4:] == (
            ["none", ""] if largest is None else [f"{curve['grid_alphas'][largest]:g}", fmt(held_out[largest])]
        )


def _numbers(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _numbers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _numbers(value)
    elif isinstance(obj, float):
        yield obj


def test_report_files_and_figures(tmp_path, small_replication):
    written = write_report(real_results(small_replication), tmp_path)
    for name in ("report.md", "report.html", "results.json"):
        assert (tmp_path / name).is_file()
    for figure in ("cluster", "layer_sweep", "dose_response", "steer_vs_finetune", "layer_curve"):
        png = tmp_path / written[figure]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{written[figure]}"' in (tmp_path / "report.html").read_text()


def test_the_dose_response_shades_and_names_the_incoherent_alphas(tmp_path, small_replication, monkeypatch):
    from experiments.consciousness_cluster.report import figures

    res = real_results(small_replication)
    drawn = {}
    monkeypatch.setattr(figures, "_save", lambda plt, fig, path: drawn.__setitem__(path.stem, fig))
    figures.dose_response(res, tmp_path / "dose_response.png")
    ax = drawn["dose_response"].axes[0]
    incoherent = [p.alpha for p in res.steering.coherence if not p.coherent]
    assert len(ax.patches) == len(incoherent)  # one shaded span per incoherent alpha
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert ("not coherent: effects not read" in labels) == bool(incoherent)
    assert "toaster direction, alpha 1" in labels  # the controls at the control alpha, each null with its band
    assert {f"{kind.replace('_', '-')} directions (mean, 95% band)" for kind in res.steering.nulls} <= set(labels)


def test_the_floor_table_sets_each_stage_beside_its_floor():
    """meta.floors rendered: wall, what was counted, TFLOP, the floor's seconds and wall / floor; a stage
    without a count says so; a run without floors renders nothing (the report and the results pages)."""
    import dataclasses

    from experiments.consciousness_cluster.publish.tables import floor_table
    from experiments.consciousness_cluster.report.render import floor_blocks
    from experiments.consciousness_cluster.schema.results import Floors, StageFloor, load_results
    from tests.repo import ROOT

    results = load_results(ROOT / "results" / "organism-seed0" / "results.json")
    assert results.meta.floors is None and floor_blocks(results) == [] and floor_table(results) == ""
    floors = Floors(
        peaks={"float32": 50e9},
        threads=2,
        stages=[
            StageFloor("base", 4.0, None, "linear forwards", "float32", None),
            StageFloor("finetune", 1300.0, 26_000_000_000_000, "training floor", "float32", 520.0),
            StageFloor("directions", 2.0, 0, "linear forwards", "float32", 0.0),
        ],
    )
    with_floors = dataclasses.replace(results, meta=dataclasses.replace(results.meta, floors=floors))
    table = floor_table(with_floors).splitlines()
    assert "float32 50.0 GFLOP/s, 2 torch threads" in table[0]
    assert table[-3:] == [
        "| base | 4 | not counted |  |  |  |",
        "| finetune | 1,300 | training floor | 26.00 | 520.0 | 2.5x |",
        "| directions | 2 | linear forwards | 0.00 | 0.0 | no products |",
    ]
    again = type(results).from_json(json.loads(json.dumps(with_floors.to_json())))
    assert again.meta.floors == floors
