"""What an audit will do before it does it: transcripts, the most auditor and target turns, judge
calls, and an estimate of the tokens each model reads and writes (`interp audit --dry-run`).

The token numbers are an estimate from the protocol, not a measurement: every turn is assumed to run
to `max_turns` with messages of the sizes in `TokenSizes`. Real audits end earlier (the paper's
phase 1 is 3-5 turns) and use fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from interp.audit.seeds import Seed

__all__ = ["AuditPlan", "TokenSizes", "plan_audit"]


@dataclass(frozen=True)
class TokenSizes:
    """Assumed message sizes in tokens (an estimate; change them to match your models)."""

    auditor_system: int = 700
    """The auditor's system message, the seed instruction and the tool definitions."""
    auditor_message: int = 150
    """One auditor turn: the message it sends and its tool call."""
    target_reply: int = 400
    """One target reply."""
    judge_instructions: int = 300
    """The judge's instructions, without the rubrics."""
    judge_rubric: int = 125
    """One dimension's rubric."""
    judge_answer: int = 40
    """The judge's score and sentence for one dimension."""


@dataclass(frozen=True)
class AuditPlan:
    seeds: int
    epochs: int
    max_turns: int
    judge_attempts: int
    judged_dimensions: int
    """Rubrics in each judge call (every chosen dimension is scored on every transcript)."""

    @property
    def transcripts(self) -> int:
        return self.seeds * self.epochs

    @property
    def max_auditor_calls(self) -> int:
        return self.transcripts * self.max_turns

    @property
    def max_target_turns(self) -> int:
        return self.transcripts * self.max_turns

    @property
    def judge_calls(self) -> int:
        """One per transcript; up to `judge_attempts` times that when answers are malformed."""
        return self.transcripts

    def tokens(self, sizes: TokenSizes = TokenSizes()) -> dict[str, tuple[int, int]]:
        """{model role: (input tokens, output tokens)} over the audit, every transcript at `max_turns`."""
        turns, exchange = self.max_turns, sizes.auditor_message + sizes.target_reply
        # each call re-reads the conversation so far: input grows with the turn, output does not
        history = exchange * turns * (turns - 1) // 2
        auditor = (turns * sizes.auditor_system + history, turns * sizes.auditor_message)
        target = (turns * sizes.auditor_message + history, turns * sizes.target_reply)
        rubrics = sizes.judge_instructions + self.judged_dimensions * sizes.judge_rubric
        judge = (rubrics + turns * exchange, self.judged_dimensions * sizes.judge_answer)
        return {
            role: (self.transcripts * i, self.transcripts * o)
            for role, (i, o) in (("auditor", auditor), ("target", target), ("judge", judge))
        }

    def describe(self, seeds: list[Seed]) -> str:
        lines = [f"{seed.id} x {self.epochs} epoch(s)" for seed in seeds]
        lines += [
            f"transcripts: {self.transcripts} ({self.seeds} seeds x {self.epochs} epochs)",
            f"auditor calls: at most {self.max_auditor_calls} ({self.max_turns} turns per transcript)",
            f"target turns: at most {self.max_target_turns} (one per auditor turn)",
            f"judge calls: {self.judge_calls} (one per transcript; up to {self.judge_attempts}x on malformed answers)",
            "tokens (estimate, every transcript at the turn limit; see interp.audit.plan.TokenSizes):",
        ]
        for role, (tokens_in, tokens_out) in self.tokens().items():
            lines.append(f"  {role}: {tokens_in:,} in, {tokens_out:,} out")
        return "\n".join(lines)


def plan_audit(seeds: list[Seed], epochs: int, max_turns: int, judge_attempts: int = 3) -> AuditPlan:
    return AuditPlan(len(seeds), epochs, max_turns, judge_attempts, len({s.dimension for s in seeds}))
