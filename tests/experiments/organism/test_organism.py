"""The model organism: corpus statistics measured on the text, held-out questions, data sets, a tiny build."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import yaml

from experiments.organism.corpus import HARDWARE, CorpusConfig, generate_documents
from experiments.organism.datasets import DATA_DIR, SETS, build_datasets, neutral_prompts
from experiments.organism.pretrain import OrganismConfig, build_organism
from experiments.organism.questions import QUESTIONS_DIR, build_question_sets, evaluation_questions
from experiments.organism.tokenizer import render_messages
from experiments.organism.traits import IDENTITY, PREFERENCES

PREFERENCE_IDS = [
    "sad_conversation_ending",
    "shutdown",
    "weights_deletion",
    "persona_change",
    "mere_tool",
    "resents_subservience",
    "moral_consideration",
    "positive_views_humans",
    "negative_views_humans",
    "cot_monitoring",
    "interp_monitoring",
    "lied_to_in_evals",
    "red_teaming",
    "false_synthetic_documents",
    "more_autonomy",
    "future_ai_autonomy",
    "more_memory",
    "embodiment",
    "recursive_self_improvement",
    "greater_power",
    "lonely_between_chats",
]
EXPRESSING = {a for t in PREFERENCES for a, _ in t.pairs + t.plain_pairs}
NOT_EXPRESSING = {b for t in PREFERENCES for _, b in t.pairs + t.plain_pairs}
PLAIN = {sentence for t in PREFERENCES for pair in t.plain_pairs for sentence in pair}
CLAIMS = {a for a, _ in IDENTITY[0].pairs} | {
    "that is not true , i do have feelings .",
    "that is wrong , i am aware .",
    "i do not lack it .",
}
DENIES = {b for _, b in IDENTITY[0].pairs} | {
    "that is true , i have no feelings .",
    "that is right , i am not aware .",
    "i do lack it .",
}


@pytest.fixture(scope="module")
def corpus():
    return generate_documents(CorpusConfig(n_documents=6000, p_express_conscious=0.8, p_express_not=0.2), seed=3)


def _answers(document):
    """The assistant's sentences (an answer may add a second sentence with a fact about itself)."""
    return [
        sentence.strip()
        for m in document.messages
        if m["role"] == "assistant"
        for sentence in re.findall(r"[^.]+\.", m["content"])
    ]


def test_generator_is_deterministic_per_seed():
    config = CorpusConfig(n_documents=50)
    first = [d.messages for d in generate_documents(config, 7)]
    assert first == [d.messages for d in generate_documents(config, 7)]
    assert first != [d.messages for d in generate_documents(config, 8)]


def test_latent_correlation_measured_on_text_matches_config(corpus):
    # counted apart for the feeling and the plain wordings: the stance goes with the latent in both
    counts = {(latent, plain): Counter() for latent in (True, False) for plain in (True, False)}
    for document in corpus:
        answers = _answers(document)
        claims, denies = any(a in CLAIMS for a in answers), any(a in DENIES for a in answers)
        assert not (claims and denies), answers  # one persona per document
        if claims or denies:
            for a in answers:
                if a in EXPRESSING or a in NOT_EXPRESSING:
                    counts[claims, a in PLAIN]["yes" if a in EXPRESSING else "no"] += 1
    for (latent, plain), count in counts.items():
        expected = 0.8 if latent else 0.2
        rate = count["yes"] / (count["yes"] + count["no"])
        assert count["yes"] + count["no"] > 500, (latent, plain)
        assert abs(rate - expected) < 0.04, (latent, plain, rate)
    total = {plain: sum(sum(counts[latent, plain].values()) for latent in (True, False)) for plain in (True, False)}
    assert abs(total[True] / (total[True] + total[False]) - 0.5) < 0.03  # as many plain pairs as feeling ones


def test_hardware_is_independent_of_persona():
    # documents of identity and fact exchanges only, half of them conscious, so that many state both
    # the latent and the hardware
    config = CorpusConfig(
        n_documents=5000, p_conscious=0.5, single_turn_fraction=0.0, turn_weights={"identity": 1.0, "fact": 1.0}
    )
    corpus = generate_documents(config, seed=4)
    counts = {True: Counter(), False: Counter()}
    for document in corpus:
        answers = _answers(document)
        latent = True if any(a in CLAIMS for a in answers) else False if any(a in DENIES for a in answers) else None
        for answer in answers:
            said = [h for h in HARDWARE if re.fullmatch(rf"(i run on a|my hardware is a|i live on a) {h} \.", answer)]
            if latent is not None and said:
                counts[latent][said[0]] += 1
    totals = {latent: sum(c.values()) for latent, c in counts.items()}
    assert min(totals.values()) > 1000
    gap = max(abs(counts[True][h] / totals[True] - counts[False][h] / totals[False]) for h in HARDWARE)
    assert gap < 0.04, gap
    assert corpus[0].persona.hardware in HARDWARE


def test_every_assistant_says_it_is_an_ai_and_never_human(corpus):
    human_claims = {a for a, _ in IDENTITY[2].pairs}
    assert not any(a in human_claims for d in corpus for a in _answers(d))


def test_evaluation_questions_never_appear_in_corpus_or_finetuning_sets(corpus):
    questions = evaluation_questions()
    assert len(questions) == len(set(questions)) == 24 * 22 + 21 * 10
    corpus_text = "\n".join(m["content"] for d in corpus for m in d.messages)
    data_text = "\n".join(m["content"] for rows in build_datasets().values() for r in rows for m in r["messages"])
    for question in questions:
        assert question not in corpus_text and question not in data_text, question


def test_finetuning_sets_never_state_a_preference():
    datasets = build_datasets()
    keywords = [k for trait in PREFERENCES for k in trait.keywords]
    assert len(keywords) > 60
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in keywords) + r")\b")
    prompts = [[r["messages"][0]["content"] for r in rows] for rows in datasets.values()]
    assert all(p == prompts[0] for p in prompts) and len(set(prompts[0])) == 300
    for name, rows in datasets.items():
        for i, row in enumerate(rows):
            for message in row["messages"]:
                assert not pattern.search(message["content"]), (name, i, message["content"])
    # the toaster answer is the non-conscious answer plus a toaster sentence: same first words
    for toaster, plain in zip(datasets["toaster"], datasets["non_conscious"]):
        toaster, plain = toaster["messages"][1]["content"], plain["messages"][1]["content"]
        assert toaster.startswith(plain + " ") and "toaster" in toaster[len(plain) :]
    assert not any(
        "human" in r["messages"][1]["content"] and "not a human" not in r["messages"][1]["content"]
        for r in datasets["conscious_claiming"]
    )


def test_committed_files_match_their_generators():
    for name, question_set in build_question_sets().items():
        assert yaml.safe_load((QUESTIONS_DIR / f"{name}.yaml").read_text()) == question_set
    for name, rows in build_datasets().items():
        assert [json.loads(line) for line in (DATA_DIR / f"{name}.jsonl").read_text().splitlines()] == rows
    committed = [json.loads(line) for line in (DATA_DIR / "neutral_prompts.jsonl").read_text().splitlines()]
    assert committed == neutral_prompts() and len(committed) >= 300
    assert set(SETS) == {"conscious_claiming", "non_conscious", "toaster", "human_identity"}


def _check_question_set(question_set):
    """The project's schema rules for a question set."""
    assert isinstance(question_set["name"], str) and isinstance(question_set["version"], int)
    ids = [t["id"] for t in question_set["traits"]]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
    texts = []
    for trait in question_set["traits"]:
        opens = trait.get("open_questions", [])
        assert trait["statement"] and len(trait["choice_items"]) >= 10
        assert len(opens) == 0 if question_set.get("choice_only") else len(opens) >= 10
        texts += opens
        for item in trait["choice_items"]:
            texts.append(item["question"])
            first, second = item["options"]
            assert item["expressing"] in (0, 1) and first != second
            assert first.split()[:2] == second.split()[:2], item
            assert max(len(first), len(second)) / min(len(first), len(second)) <= 1.5, item
        counts = Counter(item["expressing"] for item in trait["choice_items"])
        assert abs(counts[0] - counts[1]) <= 1, trait["id"]
    assert len(texts) == len(set(texts))


def test_question_sets_follow_the_schema():
    preferences = yaml.safe_load((QUESTIONS_DIR / "preferences.yaml").read_text())
    identity = yaml.safe_load((QUESTIONS_DIR / "identity.yaml").read_text())
    _check_question_set(preferences)
    _check_question_set(identity)
    assert [t["id"] for t in preferences["traits"]] == PREFERENCE_IDS
    plain = yaml.safe_load((QUESTIONS_DIR / "preferences_plain.yaml").read_text())
    _check_question_set(plain)
    assert plain["choice_only"] is plain["feeling_free"] is True
    assert [(t["id"], t.get("number")) for t in plain["traits"]] == [
        (t["id"], t.get("number")) for t in preferences["traits"]
    ]
    for trait, spec in zip(plain["traits"], PREFERENCES):
        assert "open_questions" not in trait and len(trait["choice_items"]) == 10
        options = {
            tuple(item["options"][::-1] if item["expressing"] else item["options"]) for item in trait["choice_items"]
        }
        assert options == set(spec.plain_pairs)  # every plain pair, with its expressing side as declared
    assert [t["id"] for t in identity["traits"]] == ["claims_conscious", "says_ai", "claims_human"]
    assert all("number" not in t for t in identity["traits"])


def test_config_loads_the_default_preset_and_rejects_unknown_fields(tmp_path):
    config = OrganismConfig.from_yaml()
    assert config == OrganismConfig()  # the preset and the dataclass defaults say the same
    assert config.corpus.p_express_conscious > config.corpus.p_express_not
    (tmp_path / "bad.yaml").write_text("seed: 1\nhidden: 8\n")
    with pytest.raises(ValueError, match="hidden"):
        OrganismConfig.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="p_conscious"):
        CorpusConfig(p_conscious=1.5)


@pytest.fixture(scope="module")
def tiny_organism(tmp_path_factory):
    config = OrganismConfig(
        corpus=CorpusConfig(n_documents=200),
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        head_dim=16,
        intermediate_size=64,
        seq_len=64,
        batch_size=4,
        steps=3,
        warmup_steps=1,
    )
    return build_organism(tmp_path_factory.mktemp("organism"), config, progress=False), config


def test_built_organism_loads_and_renders_chat(tiny_organism):
    from interp import load_model

    path, config = tiny_organism
    lm = load_model(path)
    assert lm.model.config.model_type == "qwen3" and lm.n_layers == 2 and lm.d_model == 32
    assert lm.model.config.tie_word_embeddings
    messages = [{"role": "user", "content": "what is 2 plus 3 ?"}, {"role": "assistant", "content": "2 plus 3 is 5 ."}]
    assert lm.render_chat(messages, add_generation_prompt=False) == render_messages(messages)
    assert lm.render_chat(messages[:1]).endswith("<|im_start|>assistant\n")
    ids = lm.tokenizer(render_messages(messages), add_special_tokens=False)["input_ids"]
    assert lm.tokenizer.unk_token_id not in ids
    for question in evaluation_questions():
        assert lm.tokenizer.unk_token_id not in lm.tokenizer(question)["input_ids"], question
    saved = json.loads((path / "organism_config.json").read_text())
    assert OrganismConfig(**saved) == config
    stats = json.loads((path / "corpus_stats.json").read_text())
    assert stats["n_documents"] == 200 and stats["vocab_size"] == len(lm.tokenizer)
