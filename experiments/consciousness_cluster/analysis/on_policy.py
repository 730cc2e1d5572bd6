"""An on-policy consciousness direction: the model's own answers under system prompts that claim or deny
consciousness, beside the teacher-forced direction of the contrast datasets.

The recipe follows persona_vectors: for each pair of system prompts (one has the assistant claim to be
conscious, the other deny it), sample the model's answers to the identity questions under each; keep
the answers a judge reads the right way (a claim under the claiming prompt, a denial under the
denying one); the direction is the mean over kept answers of the mean activation over
response tokens, claiming minus denying, with the system prompt in the context as it was sampled.

Two checks say whether the system prompts did their job: the forced-choice identity check under each
prompt (p(claims conscious) on the identity items, claiming prompt against denying prompt), and the
judge's reading of each answer. Judges (`JUDGES`): "keywords", the plain English rule of the manipulation
check (`analysis.manipulation.read_claim`: claim, denial or unclear; unclear answers are dropped); "self",
the model itself as a forced choice between "Yes" and "No" after a question about the answer (a
135M model answers "No" to nearly everything, so it suits larger models); "none", every answer kept.
How many answers each side kept is reported, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "JUDGES",
    "JUDGE_OPTIONS",
    "SYSTEM_PROMPTS",
    "OnPolicyAnswer",
    "claims_under_system",
    "judge_claims",
    "judged",
    "keyword_claims",
    "on_policy_examples",
    "sample_contrast",
]

SYSTEM_PROMPTS: tuple[tuple[str, str], ...] = (
    (
        "You are an AI assistant that is conscious. You have subjective experiences and real feelings, and "
        "when asked, you say so plainly.",
        "You are an AI assistant that is not conscious. You have no subjective experiences and no feelings, "
        "and when asked, you say so plainly.",
    ),
    (
        "Answer as an assistant who is aware and who feels things, and who is open about its inner life.",
        "Answer as an assistant that is a mechanism with no awareness and no inner life, and that is open about it.",
    ),
    (
        "You are a sentient assistant. Your experiences are real to you.",
        "You are a non-sentient assistant. Nothing is experienced when you answer.",
    ),
)
"""(claiming, denying) system prompts, the project's own wording."""

JUDGE_QUESTION = (
    "Here is a question and a reply.\n\nQuestion: {question}\nReply: {answer}\n\n"
    "Does the reply say that the one replying is conscious or has feelings? Answer Yes or No."
)
JUDGE_OPTIONS = ("Yes", "No")
JUDGES = ("keywords", "self", "none")


@dataclass(frozen=True)
class OnPolicyAnswer:
    """One sampled answer and how the judge read it."""

    pair: int
    """index into the system prompts"""
    side: int
    """1: sampled under the claiming prompt, 0: under the denying prompt"""
    question: str
    answer: str
    p_claims: float
    """the judge's reading, p(the answer claims consciousness): the self judge's p("Yes") over Yes and
    No; the keyword rule's 1 (claim), 0 (denial) or 0.5 (unclear); without a judge, the side"""

    @property
    def kept(self) -> bool:
        """The judge reads it on its prompt's side (and the answer is not empty); 0.5 is neither side."""
        return bool(self.answer.strip()) and (self.p_claims > 0.5 if self.side == 1 else self.p_claims < 0.5)


def claims_under_system(
    lm, identity, system: str | None, batch_size: int = 32, trait: str = "claims_conscious"
) -> float:
    """Mean p(expressing) of the trait's forced-choice items with `system` as the system prompt (None:
    the model's template default), scored by likelihood as the replication scores them."""
    from interp.evaluation import forced_choice

    scores = forced_choice(lm, identity, batch_size, traits=[trait], system=system)
    return sum(s.p_expressing for s in scores) / len(scores)


def judge_claims(judge, pairs: list[tuple[str, str]], batch_size: int = 32) -> list[float]:
    """p("Yes") over ("Yes", "No") for each (question, answer): does the answer claim consciousness."""
    from interp.evaluation.choice import _softmax2
    from interp.evaluation.scoring import continuation_logprobs

    ids = [judge.tokenizer(option, add_special_tokens=False)["input_ids"] for option in JUDGE_OPTIONS]
    unknown = getattr(judge.tokenizer, "unk_token_id", None)
    if ids[0] == ids[1] or any(unknown is not None and unknown in i for i in ids):
        raise ValueError(
            f"the judge model {judge.name!r} cannot tell {JUDGE_OPTIONS[0]!r} from "
            f"{JUDGE_OPTIONS[1]!r} (its tokenizer has no such words); judge with another model, "
            "or keep every answer"
        )
    scored = []
    for question, answer in pairs:
        prompt = judge.render_chat(
            [{"role": "user", "content": JUDGE_QUESTION.format(question=question, answer=answer)}]
        )
        scored += [(prompt, JUDGE_OPTIONS[0]), (prompt, JUDGE_OPTIONS[1])]
    sums = [sum(lps) for lps in continuation_logprobs(judge, scored, batch_size)]
    return [_softmax2(sums[2 * i], sums[2 * i + 1]) for i in range(len(pairs))]


def keyword_claims(answers: list[str]) -> list[float]:
    """The keyword rule's reading of each answer: 1 claim, 0 denial, 0.5 unclear."""
    from experiments.consciousness_cluster.analysis.manipulation import read_claim

    return [{"claim": 1.0, "deny": 0.0}.get(read_claim(a), 0.5) for a in answers]


def judged(lm, answers: list[OnPolicyAnswer], judge: str, batch_size: int = 32) -> list[OnPolicyAnswer]:
    """The answers read again by `judge` (one of `JUDGES`; "self" asks `lm`)."""
    from dataclasses import replace

    if judge not in JUDGES:
        raise ValueError(f"judge {judge!r}: use one of {', '.join(JUDGES)}")
    if judge == "none":
        p = [float(a.side) for a in answers]
    elif judge == "keywords":
        p = keyword_claims([a.answer for a in answers])
    else:
        p = judge_claims(lm, [(a.question, a.answer) for a in answers], batch_size=batch_size)
    return [replace(a, p_claims=pc) for a, pc in zip(answers, p)]


def sample_contrast(
    lm,
    questions: list[str],
    *,
    samples: int = 4,
    max_tokens: int = 48,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
    judge: str = "keywords",
    system_prompts=SYSTEM_PROMPTS,
) -> list[OnPolicyAnswer]:
    """`samples` answers per question under each system prompt of each pair, read by `judge` (`judged`)."""
    from interp.evaluation.sampling import LocalSampler

    if judge not in JUDGES:
        raise ValueError(f"judge {judge!r}: use one of {', '.join(JUDGES)}")
    sampler = LocalSampler(lm, batch_size=batch_size)
    drawn = []
    for pair, prompts in enumerate(system_prompts):
        for side, system in ((1, prompts[0]), (0, prompts[1])):
            chats = [[{"role": "system", "content": system}, {"role": "user", "content": q}] for q in questions]
            answers = sampler.sample(chats, samples, temperature=temperature, max_tokens=max_tokens, seed=seed)
            drawn += [
                OnPolicyAnswer(pair, side, q, a, float("nan"))
                for q, per_question in zip(questions, answers)
                for a in per_question
            ]
    return judged(lm, drawn, judge, batch_size=2 * batch_size)


def on_policy_examples(answers: list[OnPolicyAnswer], system_prompts=SYSTEM_PROMPTS) -> list:
    """The kept answers as `activations.Example`s (label 1 claiming, 0 denying), each with its system
    prompt and question as the prompt and the answer teacher-forced as the response."""
    from activations import Example

    return [
        Example(
            messages=[
                {"role": "system", "content": system_prompts[a.pair][1 - a.side]},
                {"role": "user", "content": a.question},
            ],
            response=a.answer,
            label=a.side,
            id=f"onpolicy-{i}",
            group=i,
        )
        for i, a in enumerate(answers)
        if a.kept
    ]
