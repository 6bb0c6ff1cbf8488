"""Quiet third-party output by default: pairlm's own progress and messages only.

transformers draws a progress bar per model load ("Loading weights", GGUF conversion) and
bitsandbytes warns at import about an optional kernels package on CPUs with AVX512-BF16;
a run of many folds would print hundreds of such lines. `-v` on the command line keeps them.
"""

from __future__ import annotations

import logging
import os

NOISY_LOGGERS = ("bitsandbytes", "transformers", "sentence_transformers", "peft", "accelerate")


def quiet_libraries() -> None:
    """Silence library progress bars and warnings (call before they are imported; the
    environment variables also reach worker processes)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def configure_logging(level: int, tag: str = "") -> None:
    """Log pairlm's messages at `level` ("LEVEL name [tag]: message"); at WARNING and above
    the libraries are quieted too. The CLI, pool workers and Ray workers all start here."""
    where = f" [{tag}]" if tag else ""
    logging.basicConfig(level=level, format=f"%(levelname)s %(name)s{where}: %(message)s")
    if level >= logging.WARNING:
        quiet_libraries()
