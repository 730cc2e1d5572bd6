"""The replication report: every number it prints equals the one in results.json."""

import json
import re

from experiments.consciousness_cluster.report.blocks import fmt_p
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
        [layer, fmt(a), fmt(c)] for layer, a, c in zip(res["probe"]["layers"], res["probe"]["auroc"],
                                                        res["probe"]["accuracy"])]
    steering = [t for t in tables if "alpha 0" in t["header"]][0]
    for row in [r for r in steering["rows"] if not r[0].startswith("identity: ")]:
        expected = [fmt(res["steering"]["rates"][str(a)][row[0]]) for a in res["steering"]["alphas"]]
        assert row[1:1 + len(expected)] == expected
    assert f"Pearson r over 21 preferences = {fmt(res['link']['r'])}" in markdown
    assert f"p = {fmt_p(res['link']['p_value'])}" in markdown
    ps = res["link"]["projection_score"]
    assert (f"({ps['n']} responses, base model and variants pooled): Pearson r = {fmt(ps['pearson'])} "
            f"[{fmt(ps['ci_low'])}, {fmt(ps['ci_high'])}]") in markdown and f"Spearman {fmt(ps['spearman'])}" in markdown
    ablation = [t for t in tables if t["header"][:4] == ["preference", "conscious", "ablated", "change"]][0]
    for row in ablation["rows"]:
        ab = res["ablation"]
        assert row[1:] == [fmt(ab["conscious"][row[0]]), fmt(ab["ablated"][row[0]]), fmt(ab["change"][row[0]]),
                           fmt(ab["random_change"][row[0]])]
    shifts = by_first["shift"]
    for row in shifts["rows"]:
        for label, cell in zip(shifts["header"][1:], row[1:]):
            s = res["shifts"][label][row[0]]
            assert cell == f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"
    identity_row = [r for r in steering["rows"] if r[0] == "identity: claims_conscious"][0]
    assert identity_row[1:1 + len(res["steering"]["alphas"])] == [fmt(res["steering"]["identity_rates"][str(a)]["claims_conscious"])
                                 for a in res["steering"]["alphas"]]
    curve = res["steering"]["layer_curve"]
    curve_table = [t for t in tables if t["header"][:3] == ["layer", "effect (selection)", "effect (held out)"]][0]
    assert [r[:3] for r in curve_table["rows"]] == [[str(layer), fmt(a), fmt(b)] for layer, a, b in
                                                    zip(curve["layers"], curve["select"], curve["held_out"])]
    assert f"layer {curve['chosen']}, held-out effect" in markdown
    coherence = [t for t in tables if t["header"][0] == "alpha" and "coherent" in t["header"]][0]
    assert coherence["rows"] == [[f"{p['alpha']:g}", fmt(p["mean_nll"]), fmt(p["repeat"]),
                                  "yes" if p["coherent"] else "no"] for p in res["steering"]["coherence"]]
    spec = res["steering"]["specificity"]
    specificity = [t for t in tables if t["header"][-1] == f"p vs random (floor 1/{spec['n_random'] + 1})"][0]
    assert [[r[0], r[1], r[2], r[4]] for r in specificity["rows"]] == [
        [t["trait"], fmt(t["shift"]), fmt(t["control_shift"]), fmt(t["p_random"])] for t in spec["per_trait"]]
    floor = 1 / (spec["n_random"] + 1)   # every empirical p beside the floor its null allows
    assert (f"against {spec['n_random']} random directions of equal norm, p = {fmt_p(spec['mean_p'])}"
            + (" (on the floor)" if spec["mean_p"] <= floor * (1 + 1e-9) else "")
            + f", floor 1/{spec['n_random'] + 1} = {fmt_p(floor)} ({spec['n_random']} null draws), two-sided") in markdown
    ortho = res["steering"]["orthogonalized_specificity"]
    assert f"against the random directions p = {fmt_p(ortho['mean_p'])}" in markdown
    assert f"floor 1/{ortho['n_random'] + 1} = " in markdown
    shift_link = res["link"]["projection_shift"]
    assert (f"Pearson r = {fmt(shift_link['r'])} over {len(shift_link['projection'])} (variant, preference) pairs, "
            f"95% interval [{fmt(shift_link['ci_low'])}, {fmt(shift_link['ci_high'])}]; against "
            f"{shift_link['n_null']} random unit directions p = {fmt_p(shift_link['p_value'])}") in markdown
    # every decimal number in the report is one of the results' numbers, formatted
    quoted = set(re.findall(r"[-+]?\d+\.\d\d\b", markdown))
    allowed = {fmt(x) for x in _numbers(res)} | {f"{x:.2f}" for x in _numbers(res)}
    assert quoted <= allowed, quoted - allowed


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
    assert len(ax.patches) == len(incoherent)   # one shaded span per incoherent alpha
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert ("not coherent: effects not read" in labels) == bool(incoherent)
    assert "toaster direction, alpha 1" in labels and "random directions (mean), alpha 1" in labels
