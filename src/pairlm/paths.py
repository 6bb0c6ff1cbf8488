"""pairlm's one cache root (converted models, downloaded datasets, side files of dropped rows).

`$PAIRLM_CACHE_DIR` when set, else the platform's user cache directory for "pairlm"
(platformdirs: `$XDG_CACHE_HOME/pairlm`, by default `~/.cache/pairlm`, on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("PAIRLM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pairlm", appauthor=False))
