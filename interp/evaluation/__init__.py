"""Behavioural evaluation: question sets, sampling, judges, forced choice and per-trait summaries."""

from interp.evaluation.api import APIError, ChatAPIClient, OpenAISampler
from interp.evaluation.choice import ChoiceScore, forced_choice
from interp.evaluation.context import ContextError, UnknownTokensWarning, fit_questions, warn_unknown_tokens
from interp.evaluation.endpoint import EndpointModel
from interp.evaluation.importers import (
    QUESTION_FORMATS,
    ImportedSet,
    QuestionImportError,
    import_question_set,
)
from interp.evaluation.job import EvalConfig, EvalRun, EvalSettingsError, check_traits, read_questions, run_eval
from interp.evaluation.judges import (
    JUDGE_BACKENDS,
    JUDGES,
    TEMPLATES,
    APIJudgeBackend,
    BinaryJudge,
    JudgeInput,
    JudgeOutput,
    LocalJudgeBackend,
    PromptTemplate,
    ScoreJudge,
)
from interp.evaluation.plot import plot_traits
from interp.evaluation.questions import (
    ChoiceItem,
    OpenQuestion,
    QuestionSet,
    QuestionSetError,
    Trait,
    load_question_set,
    validate_question_set,
)
from interp.evaluation.runner import EvalResult, SamplingConfig, evaluate
from interp.evaluation.samplers import SAMPLERS, make_sampler
from interp.evaluation.sampling import LocalSampler, Sampler, VLLMSampler
from interp.evaluation.summary import (
    TraitSummary,
    add_shift,
    read_summary_csv,
    summarize_choice,
    summarize_judged,
    write_summary_csv,
)

__all__ = [
    "APIError",
    "APIJudgeBackend",
    "BinaryJudge",
    "ChatAPIClient",
    "ChoiceItem",
    "ChoiceScore",
    "ContextError",
    "EndpointModel",
    "EvalConfig",
    "EvalResult",
    "EvalRun",
    "EvalSettingsError",
    "ImportedSet",
    "JUDGES",
    "JUDGE_BACKENDS",
    "JudgeInput",
    "JudgeOutput",
    "LocalJudgeBackend",
    "LocalSampler",
    "OpenAISampler",
    "OpenQuestion",
    "PromptTemplate",
    "QuestionSet",
    "QUESTION_FORMATS",
    "QuestionImportError",
    "QuestionSetError",
    "SAMPLERS",
    "Sampler",
    "SamplingConfig",
    "ScoreJudge",
    "TEMPLATES",
    "Trait",
    "TraitSummary",
    "UnknownTokensWarning",
    "VLLMSampler",
    "add_shift",
    "check_traits",
    "evaluate",
    "fit_questions",
    "forced_choice",
    "import_question_set",
    "load_question_set",
    "make_sampler",
    "plot_traits",
    "read_questions",
    "read_summary_csv",
    "run_eval",
    "summarize_choice",
    "summarize_judged",
    "validate_question_set",
    "warn_unknown_tokens",
    "write_summary_csv",
]
