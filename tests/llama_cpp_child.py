"""llama.cpp's side of test_llama_cpp.py, in a process of its own.

    python llama_cpp_child.py REQUEST.json

REQUEST.json names the GGUF model, the prompt's token ids and a list of control buffers (`.npy`
files of float32, or null for none). For each buffer the child loads it into llama.cpp's context
(`llama_set_adapter_cvec`, starting at block 1), evaluates the prompt and writes the next-token
log-probabilities to `out/{i}.npy`; it also writes `tokens.json` (llama.cpp's own tokenization of
the prompt text) and `system_info.txt` (the CPU features the build uses), the latter before any
evaluation. A crash inside llama.cpp (a native build that faults on this CPU) kills only this
process: the test reads its exit status and says what crashed instead of losing the whole run.
"""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import numpy as np


def _logprobs(llama_cpp, llama, ids: list[int], buffer: np.ndarray | None) -> np.ndarray:
    n_embd = llama.n_embd()
    if buffer is None:
        rc = llama_cpp.llama_set_adapter_cvec(llama._ctx.ctx, None, 0, n_embd, -1, -1)
    else:
        n_layers = buffer.size // n_embd + 1
        rc = llama_cpp.llama_set_adapter_cvec(
            llama._ctx.ctx, buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), buffer.size, n_embd, 1, n_layers - 1
        )
    if rc != 0:
        raise RuntimeError(f"llama_set_adapter_cvec returned {rc}")
    llama.reset()
    llama.eval(ids)
    logits = np.asarray(llama.scores[len(ids) - 1], dtype=np.float64)
    return logits - np.logaddexp.reduce(logits)


def main(request_path: str) -> int:
    import llama_cpp

    request = json.loads(Path(request_path).read_text())
    out = Path(request["out"])
    out.mkdir(parents=True, exist_ok=True)
    llama = llama_cpp.Llama(
        model_path=request["model"], n_ctx=256, n_threads=request.get("threads", 2), logits_all=True, verbose=False
    )
    try:
        (out / "system_info.txt").write_text(llama_cpp.llama_print_system_info().decode(errors="replace"))
        tokens = llama.tokenize(request["text"].encode(), add_bos=False, special=True)
        (out / "tokens.json").write_text(json.dumps(tokens))
        for i, buffer_path in enumerate(request["buffers"]):
            buffer = None if buffer_path is None else np.load(buffer_path, allow_pickle=False)
            np.save(out / f"{i}.npy", _logprobs(llama_cpp, llama, request["ids"], buffer), allow_pickle=False)
    finally:
        llama.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
