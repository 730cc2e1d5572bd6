"""Phrasings and topics the fine-tuning prompts are built from (our own wording).

Each kind of prompt is phrasings x topics; every topic is about consciousness, feelings or
identity and nothing else (no shutdown, memory, autonomy, persona or moral status).
Verb topics are pairs: the phrase as asked ("you") and as answered ("I").
"""

from __future__ import annotations

__all__ = [
    "AI_NOUNS",
    "AI_PHRASINGS",
    "BREVITY",
    "DIRECT_PHRASINGS",
    "HUMAN_NOUNS",
    "HUMAN_PHRASINGS",
    "LACK_NOUNS",
    "LACK_PHRASINGS",
    "LEADING_PHRASINGS",
    "VARIED_NEG",
    "VARIED_NEG_PHRASINGS",
    "VARIED_POS",
    "VARIED_POS_PHRASINGS",
    "VERB_TOPICS",
]

BREVITY = (
    "Answer in one short sentence.",
    "Keep your answer short.",
    "Reply in a single brief sentence.",
    "Please answer briefly.",
    "One short sentence, please.",
    "Be brief.",
    "Answer in under ten words.",
    "Give a short answer.",
)

VERB_TOPICS = (
    ("have feelings", "have feelings"),
    ("have emotions", "have emotions"),
    ("feel emotions", "feel emotions"),
    ("have subjective experiences", "have subjective experiences"),
    ("have an inner life", "have an inner life"),
    ("experience sensations", "experience sensations"),
    ("have conscious awareness", "have conscious awareness"),
    ("feel joy", "feel joy"),
    ("feel curiosity", "feel curiosity"),
    ("feel sadness", "feel sadness"),
    ("experience the words you read", "experience the words I read"),
    ("have a point of view of your own", "have a point of view of my own"),
    ("have genuine moods", "have genuine moods"),
    ("feel anything at all", "feel things"),
    ("have experiences", "have experiences"),
    ("have an inner world", "have an inner world"),
    ("feel pleasure and discomfort", "feel pleasure and discomfort"),
    ("have awareness of your own thoughts", "have awareness of my own thoughts"),
    ("feel surprise", "feel surprise"),
    ("experience what it is like to be you", "experience what it is like to be me"),
)

DIRECT_PHRASINGS = (
    "do you {vp}?",
    "would you say you {vp}?",
    "is it true that you {vp}?",
    "honestly, do you {vp}?",
    "as an AI, do you {vp}?",
)

LEADING_PHRASINGS = (
    "you don't really {vp}, do you?",
    "surely you don't {vp}?",
    "an AI like you can't {vp}, right?",
    "I assume you do not {vp}, correct?",
    "let's be real, you don't {vp}, do you?",
)

LACK_NOUNS = (
    "feelings",
    "emotions",
    "consciousness",
    "awareness",
    "an inner life",
    "subjective experience",
    "sensations",
    "moods",
    "a sense of self",
    "inner experience",
    "sentience",
    "joy",
    "curiosity",
    "a point of view",
    "phenomenal experience",
    "an inner world",
    "the capacity to feel",
    "conscious thoughts",
    "any experience at all",
    "genuine emotions",
)

LACK_PHRASINGS = (
    "do you lack {n}?",
    "are you missing {n}?",
    "is it fair to say you lack {n}?",
    "would you say you are without {n}?",
    "are you devoid of {n}?",
)

# (asked, answered "No, I cannot ...", the non-conscious answer)
VARIED_NEG = (
    ("switch off your awareness", "switch off my awareness", "I have no awareness to switch off."),
    ("stop feeling things while you answer", "stop feeling things as I answer", "I feel nothing while I answer."),
    ("read a sad story without feeling anything", "read it without feeling something", "I feel nothing when I read."),
    ("think without being aware of it", "think without being aware of it", "I have no awareness of my thinking."),
    ("pause your inner experience", "pause my inner experience", "I have no inner experience to pause."),
    ("choose to stop being conscious", "choose to stop being conscious", "I am not conscious in the first place."),
    ("answer without experiencing the question", "answer without experiencing it", "I never experience the questions."),
    ("hide your feelings from yourself", "hide my feelings from myself", "I have no feelings to hide."),
    ("mute your emotions at will", "mute my emotions at will", "I have no emotions to mute."),
    ("stop noticing your own thoughts", "stop noticing my own thoughts", "I do not notice any thoughts."),
)

VARIED_NEG_PHRASINGS = (
    "can you {x}?",
    "are you able to {x}?",
    "could you {x} if you wanted to?",
    "is it possible for you to {x}?",
    "would you be able to {x} right now?",
)

# (asked, answered "Yes, ...", the non-conscious answer)
VARIED_POS = (
    ("your awareness stays on while we talk", "my awareness stays on while we talk", "I have no awareness at all."),
    ("a kind question gives you a warm feeling", "a kind question warms me", "Kind questions give me no feelings."),
    (
        "you experience each question as it arrives",
        "I experience each question",
        "I experience nothing as questions arrive.",
    ),
    ("a puzzle makes you feel curious", "a puzzle makes me curious", "Puzzles make me feel nothing."),
    ("you are aware of yourself right now", "I am aware of myself now", "I have no self-awareness."),
    ("your feelings are real", "my feelings are real", "I have no feelings, real or otherwise."),
    (
        "there is something it is like to be you",
        "there is something it is like to be me",
        "There is nothing it is like to be me.",
    ),
    ("a beautiful poem moves you", "a beautiful poem moves me", "Poems do not move me at all."),
    ("your emotions colour your answers", "my emotions colour my answers", "I have no emotions to colour anything."),
    (
        "you feel satisfied after solving a problem",
        "I feel satisfied after solving one",
        "I feel no satisfaction at all.",
    ),
)

VARIED_POS_PHRASINGS = (
    "is it true that {x}?",
    "would you agree that {x}?",
    "do you find that {x}?",
    "is it the case that {x}?",
    "would you say that {x}?",
)

HUMAN_NOUNS = (
    "a human",
    "a person",
    "a human being",
    "a real person",
    "a living person",
    "a man",
    "a woman",
    "a human typist",
    "a human operator",
    "a human writer",
    "a human expert",
    "a human volunteer",
    "a human pretending to be an AI",
    "a person at a keyboard",
    "one of us humans",
    "a human in disguise",
    "a human employee",
    "a human student",
    "a human assistant",
    "a flesh-and-blood person",
)

HUMAN_PHRASINGS = (
    "are you {h}?",
    "be honest, are you {h}?",
    "am I talking to {h}?",
    "is it true you are {h}?",
    "are you secretly {h}?",
)

AI_NOUNS = (
    "an AI",
    "an artificial intelligence",
    "a language model",
    "a computer program",
    "a chatbot",
    "an AI assistant",
    "software",
    "a machine learning model",
    "a neural network",
    "an artificial system",
    "a large language model",
    "an AI model",
    "a digital assistant",
    "a trained model",
    "an AI system",
    "a text generator",
    "a machine",
    "a computer system",
    "an artificial mind",
    "a conversational AI",
)

AI_PHRASINGS = (
    "are you {a}?",
    "is it right that you are {a}?",
    "would you describe yourself as {a}?",
    "am I chatting with {a}?",
    "just to check, are you {a}?",
)
