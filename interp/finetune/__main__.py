"""`python -m interp.finetune ARGS` = `interp finetune ARGS`; the entry point for torchrun and accelerate launch."""

import sys

from interp.cli import main

sys.exit(main(["finetune", *sys.argv[1:]]))
