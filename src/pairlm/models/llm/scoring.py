"""Fast yes/no scoring of prompts with a causal LM: one forward pass per batch, no `generate`.

- Each batch runs one forward pass with `logits_to_keep=1`: only the last position is
  projected onto the vocabulary. log P(label) = log Σ_variants P(variant) over the
  verbaliser's answers; P(match) = softmax over the two labels' scores.
- Multi-token answers are scored exactly: their first token from the main pass, the others
  from a short continuation pass that reuses the batch's key/value cache.
- Prompts are tokenized as (shared prefix, per-query suffix). Suffixes are sorted by length
  and batched with dynamic (left) padding. When a prefix is shared, its key/value cache is
  computed once and expanded to every batch (a view until the forward pass concatenates the
  suffix); position ids continue after the prefix and skip the padding, and the attention
  mask hides the padding, so the score equals that of the unpadded, uncached prompt.
- Contextual calibration ("calibrate before use", Zhao et al. 2021): divide the label
  probabilities by those of content-free inputs under the same prefix, renormalise.

`collate`, `last_logits` and `answer_loss` are the pieces a fine-tuning loop reuses (with a
model that has adapters): the same prompts, the same answer tokens, a loss at the last position.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pairlm.models.llm.prompts import AnswerTokens, PromptParts
from pairlm.progress import progress

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

CONTENT_FREE: tuple[tuple[str, str], ...] = (("N/A", "N/A"), ("", ""), ("[MASK]", "[MASK]"))
"""Content-free pairs for contextual calibration (Zhao et al. 2021 used "N/A", "", "[MASK]")."""


# ---------------------------------------------------------------------------- helpers
def cache_kwarg(model: Any) -> str:
    """Name of the model's key/value cache argument ("cache" in transformers ≥ 5.2x, else
    "past_key_values"); looks through a peft wrapper."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _cache_kwarg_of(type(base))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=32)
def _cache_kwarg_of(cls: Any) -> str:
    params = inspect.signature(cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def bos_ids(tokenizer: Any) -> list[int]:
    """[BOS] when the tokenizer puts a BOS token at the start of a sequence, else []."""
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is not None and with_special[:1] == [bos] and without[:1] != [bos]:
        return [int(bos)]
    return []


def tokenize_parts(
    tokenizer: Any, parts: Sequence[PromptParts]
) -> tuple[list[tuple[str, list[int]]], list[int], list[list[int]]]:
    """Tokenize prompts as (prefix, suffix): distinct prefixes with their ids, each prompt's
    prefix index and suffix ids. The BOS token (if any) starts every prefix, and a prefix
    that already starts with the BOS text (some chat templates) gets none added."""
    bos = bos_ids(tokenizer)
    bos_text = tokenizer.bos_token or ""
    prefixes: dict[str, int] = {}
    prefix_list: list[tuple[str, list[int]]] = []
    which: list[int] = []
    for p in parts:
        j = prefixes.get(p.prefix)
        if j is None:
            ids = tokenizer(p.prefix, add_special_tokens=False)["input_ids"] if p.prefix else []
            lead = [] if bos_text and p.prefix.startswith(bos_text) else bos
            j = prefixes[p.prefix] = len(prefix_list)
            prefix_list.append((p.prefix, lead + list(ids)))
        which.append(j)
    suffix_ids = tokenizer([p.suffix for p in parts], add_special_tokens=False)["input_ids"]
    return prefix_list, which, [list(s) for s in suffix_ids]


def collate(
    seqs: Sequence[Sequence[int]],
    pad_id: int,
    *,
    offset: int = 0,
    device: Any = "cpu",
    mask_prefix: bool = True,
) -> dict[str, torch.Tensor]:
    """Left-pad token sequences into a batch: input_ids, attention_mask, position_ids.

    Position ids count only real tokens and start at `offset` (the length of a cached prefix),
    so padding changes nothing. With `offset` > 0 the attention mask covers the prefix too,
    unless `mask_prefix` is False (the prefix is attended to apart: `prefix_attention`).
    """
    import torch

    n, length = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, length - len(s) :] = torch.as_tensor(s, dtype=torch.long)
            mask[i, length - len(s) :] = 1
    pos = (mask.cumsum(1) - 1).clamp(min=0) + offset
    attn = mask
    if offset and mask_prefix:
        attn = torch.cat([torch.ones((n, offset), dtype=torch.long), mask], 1)
    return {
        "input_ids": ids.to(device),
        "attention_mask": attn.to(device),
        "position_ids": pos.to(device),
    }


def last_logits(model: Any, batch: dict[str, Any], cache: Any = None) -> tuple[Any, Any]:
    """Logits at the last position (B, V) in one forward pass (`logits_to_keep=1`), and the
    key/value cache when `cache` was given (it is extended in place). Differentiable: wrap
    in `torch.inference_mode()` for scoring."""
    kwargs: dict[str, Any] = dict(batch)
    if cache is not None:
        kwargs[cache_kwarg(model)] = cache
        kwargs["use_cache"] = True
    else:
        kwargs["use_cache"] = False
    out = model(**kwargs, logits_to_keep=1)
    return out.logits[:, -1, :], (cache if cache is not None else None)


def label_scores_from_logprobs(logp: torch.Tensor, answers: AnswerTokens) -> torch.Tensor:
    """(B, 2) log Σ P(first token) per label from last-position log-probs (single-token view)."""
    import torch

    first0, first1 = answers.first_tokens
    return torch.stack(
        [torch.logsumexp(logp[:, sorted(set(f))], dim=-1) for f in (first0, first1)], dim=-1
    )


def answer_loss(
    logits: torch.Tensor, labels: torch.Tensor, answers: AnswerTokens, over: str = "labels"
) -> torch.Tensor:
    """Training loss on the answer token at the last position (first token of multi-token
    answers). ``over="labels"``: cross-entropy of the label scores (each label's variants
    summed) — the quantity scoring uses; ``over="vocab"``: the language-model loss of the
    true label's canonical answer token against the whole vocabulary."""
    import torch.nn.functional as F

    logp = logits.float().log_softmax(-1)
    if over == "labels":
        return F.cross_entropy(label_scores_from_logprobs(logp, answers), labels.long())
    if over == "vocab":
        import torch

        canonical = torch.tensor(
            [answers.seqs[0][0][0], answers.seqs[1][0][0]], device=logits.device
        )
        return F.nll_loss(logp, canonical[labels.long()])
    raise ValueError(f"over must be 'labels' or 'vocab', got {over!r}")


class AnswerHead:
    """Training-time shortcut for the loss at the last position.

    `last_logits` asks the model for `logits_to_keep=1`; the LM head then multiplies a
    non-contiguous (B, 1, H) slice, which torch runs as a batched product against a copy of
    the (V, H) weight per example, forward and backward (profiled on SmolLM2: over half the
    time of a LoRA step, most of it in those copies). Here the decoder body runs alone and
    the head is applied as one 2-D product to the last hidden states — and, for the label
    loss, only to the answer tokens' rows of the head (the vocabulary normaliser cancels in
    the two-way softmax, so the loss is the same).

    `agrees` checks the shortcut against the model's own logits on a batch (architectures
    that scale or soft-cap their logits, or quantize the head, fail it and keep the plain path).
    """

    def __init__(self, model: Any, answers: AnswerTokens) -> None:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.decoder = base.get_decoder()
        self.head = base.get_output_embeddings()
        import torch

        first0, first1 = answers.first_tokens
        dev = getattr(getattr(self.head, "weight", None), "device", "cpu")
        self.ids = [torch.as_tensor(sorted(set(f)), device=dev) for f in (first0, first1)]

    def usable(self) -> bool:
        import torch

        head = self.head
        return (
            self.decoder is not None
            and isinstance(head, torch.nn.Linear)
            and type(head.weight) is torch.nn.Parameter
            and head.weight.dim() == 2
        )

    def hidden(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, H) final hidden state at the last position (after the final norm)."""
        out = self.decoder(**batch, use_cache=False)
        return out.last_hidden_state[:, -1, :]

    def logits(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, V) last-position logits over the whole vocabulary."""
        import torch.nn.functional as F

        return F.linear(self.hidden(batch), self.head.weight, self.head.bias)

    def label_scores(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, 2) log Σ exp(logit) over each label's first answer tokens: the label scores of
        `label_scores_from_logprobs` shifted by the row's log-normaliser (same softmax)."""
        import torch
        import torch.nn.functional as F

        h = self.hidden(batch)
        w, b = self.head.weight, self.head.bias
        cols = []
        for idx in self.ids:
            z = F.linear(h, w.index_select(0, idx), None if b is None else b.index_select(0, idx))
            cols.append(torch.logsumexp(z.float(), dim=-1))
        return torch.stack(cols, dim=-1)

    def agrees(self, model: Any, batch: dict[str, Any], rtol: float = 1e-2) -> bool:
        """Whether the shortcut reproduces the model's last-position logits on `batch`."""
        import torch

        if not self.usable():
            return False
        with torch.no_grad():
            ref = last_logits(model, batch)[0].float()
            got = self.logits(batch).float()
        if ref.shape != got.shape:
            return False
        scale = float(ref.abs().max()) + 1.0
        return float((ref - got).abs().max()) <= rtol * scale


def calibrate(scores: np.ndarray, content_free: np.ndarray) -> np.ndarray:
    """Contextual calibration: p ∝ softmax(scores) / mean softmax(content_free); log scale out."""
    p = _softmax(scores)
    cf = _softmax(np.atleast_2d(content_free)).mean(0)
    q = p / np.clip(cf, 1e-12, None)
    return np.log(np.clip(q / q.sum(1, keepdims=True), 1e-300, None))


def p_match(scores: np.ndarray) -> np.ndarray:
    """P(label 1) from (n, 2) label log-scores (softmax over the two labels)."""
    return _softmax(np.asarray(scores, dtype=np.float64))[:, 1]


def _softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _progress(total: int, desc: str, show: bool | None) -> Any:
    """A bar (terminal) or minute lines (elsewhere) for more than 200 pairs; `show` forces."""
    enabled = show if show is not None else (None if total > 200 else False)
    return progress(total=total, desc=desc, unit="pairs", enabled=enabled)


# ---------------------------------------------------------------------------- scorer
@dataclass
class ScoreStats:
    """What the last `score` call did (for benchmarks and logs)."""

    prompts: int = 0
    batches: int = 0
    tokens: int = 0
    """Non-pad tokens run through the model (prefix tokens counted once per prefix cache)."""
    padded_tokens: int = 0
    prefix_tokens: int = 0
    seconds: float = 0.0


class PromptScorer:
    """Scores prompts: (n, 2) log P(label 0), log P(label 1) up to a shared constant.

    `use_prefix_cache=False` re-encodes the prefix with every prompt (the reference the
    cached path must match). With the cache, `shared_prefix_attention` (default) attends to
    the prefix once per layer for the whole batch (`prefix_attention`) where the model's
    attention allows it, instead of giving each prompt its own copy of the prefix's keys
    and values; the scores are the same up to float rounding.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        answers: AnswerTokens,
        *,
        batch_size: int = 32,
        max_length: int = 2048,
        use_prefix_cache: bool = True,
        show_progress: bool | None = None,
        shared_prefix_attention: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.answers = answers
        self.batch_size = batch_size
        self.max_length = max_length
        self.use_prefix_cache = use_prefix_cache
        self.show_progress = show_progress
        self.shared_prefix_attention = shared_prefix_attention
        self.pad_id = int(
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.stats = ScoreStats()

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def score(self, parts: Sequence[PromptParts]) -> np.ndarray:
        """Label log-scores (n, 2) of rendered prompts, grouped by shared prefix."""
        import time

        t0 = time.perf_counter()
        self.stats = ScoreStats(prompts=len(parts))
        out = np.zeros((len(parts), 2), dtype=np.float64)
        if not parts:
            return out
        prefixes, which, suffixes = tokenize_parts(self.tokenizer, parts)
        which_arr = np.asarray(which)
        bar = _progress(len(parts), "scoring", self.show_progress)
        try:
            for j, (_, prefix_ids) in enumerate(prefixes):
                idx = np.flatnonzero(which_arr == j)
                out[idx] = self.score_ids(prefix_ids, [suffixes[i] for i in idx], bar=bar)
        finally:
            bar.close()
        self.stats.seconds = time.perf_counter() - t0
        return out

    def score_ids(
        self, prefix_ids: Sequence[int], suffixes: Sequence[Sequence[int]], *, bar: Any = None
    ) -> np.ndarray:
        """Label log-scores (n, 2) of prompts `prefix_ids + suffix` (one shared prefix)."""
        import torch

        from pairlm.models.llm import prefix_attention

        prefix_ids = list(prefix_ids)
        suffixes = [self._fit_length(len(prefix_ids), list(s)) for s in suffixes]
        out = np.zeros((len(suffixes), 2), dtype=np.float64)
        order = np.argsort([-len(s) for s in suffixes], kind="stable")
        with torch.inference_mode():
            prefix_kv = None
            if self.use_prefix_cache and prefix_ids:
                prefix_kv = self._prefix_cache(prefix_ids)
                self.stats.prefix_tokens += len(prefix_ids)
                self.stats.tokens += len(prefix_ids)
            longest = max((len(s) for s in suffixes), default=0) + self.answers.max_len
            split = (
                self.shared_prefix_attention
                and prefix_kv is not None
                and prefix_attention.supported(self.model, len(prefix_ids), longest)
            )
            context = (
                prefix_attention.prefix_attention(self.model, prefix_kv)
                if split and prefix_kv is not None
                else contextlib.nullcontext()
            )
            with context:
                for batch_idx in _chunks(order, self.batch_size):
                    seqs = [suffixes[i] for i in batch_idx]
                    if prefix_kv is None and prefix_ids:
                        seqs = [prefix_ids + s for s in seqs]
                    out[batch_idx] = self._score_batch(
                        seqs,
                        None if split else prefix_kv,
                        len(prefix_ids) if prefix_kv is not None else 0,
                    )
                    if bar is not None:
                        bar.update(len(batch_idx))
        return out

    # ------------------------------------------------------------------ internals
    def _fit_length(self, prefix_len: int, s: list[int]) -> list[int]:
        room = self.max_length - prefix_len - self.answers.max_len
        if room < 8:
            raise ValueError(
                f"max_length {self.max_length} leaves no room for the query after a "
                f"{prefix_len}-token prefix; raise max_length or use fewer/shorter demonstrations"
            )
        if len(s) > room:
            log.warning("prompt of %d tokens cut to its last %d tokens", len(s), room)
            return s[-room:]
        return s

    def _prefix_cache(self, prefix_ids: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        batch = collate([prefix_ids], self.pad_id, device=self.device)
        self.model(**batch, **{cache_kwarg(self.model): cache}, use_cache=True, logits_to_keep=1)
        return [(layer.keys, layer.values) for layer in cache.layers]  # type: ignore[union-attr,misc]

    def _expand(self, kv: list[tuple[torch.Tensor, torch.Tensor]], n: int) -> Any:
        from transformers import DynamicCache

        return DynamicCache(
            ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in kv],
            config=self.model.config,
        )

    def _score_batch(self, seqs: list[list[int]], prefix_kv: Any, offset: int) -> np.ndarray:
        import torch

        n = len(seqs)
        batch = collate(
            seqs, self.pad_id, offset=offset, device=self.device, mask_prefix=prefix_kv is not None
        )
        self.stats.batches += 1
        self.stats.tokens += sum(len(s) for s in seqs)
        self.stats.padded_tokens += int(batch["input_ids"].numel())
        multi = self.answers.multi_token
        cache = None
        if prefix_kv is not None:
            cache = self._expand(prefix_kv, n)
        elif multi:
            from transformers import DynamicCache

            cache = DynamicCache(config=self.model.config)
        logits, cache = last_logits(self.model, batch, cache)
        logp = logits.float().log_softmax(-1)
        # log P of every answer sequence, then log-sum-exp per label.
        seq_logp: dict[tuple[int, ...], torch.Tensor] = {}
        for seqs_of_label in self.answers.seqs:
            for s in seqs_of_label:
                seq_logp[s] = logp[:, s[0]]
        if multi:
            snapshot = [(layer.keys, layer.values) for layer in cache.layers]
            last_pos = batch["position_ids"][:, -1:]
            for s in multi:
                seq_logp[s] = seq_logp[s] + self._continuation(batch, snapshot, last_pos, s)
        scores = torch.stack(
            [
                torch.logsumexp(torch.stack([seq_logp[s] for s in seqs_of_label], -1), -1)
                for seqs_of_label in self.answers.seqs
            ],
            -1,
        )
        return scores.double().cpu().numpy()

    def _continuation(
        self, batch: dict[str, Any], snapshot: Any, last_pos: torch.Tensor, s: tuple[int, ...]
    ) -> torch.Tensor:
        """Σ log P(s[t] | prompt, s[:t]) for t ≥ 1, reusing the batch's key/value cache."""
        import torch
        from transformers import DynamicCache

        n, k = batch["input_ids"].shape[0], len(s) - 1
        dev = batch["input_ids"].device
        cont = torch.tensor(s[:-1], dtype=torch.long, device=dev).expand(n, k)
        attn = torch.cat(
            [batch["attention_mask"], torch.ones((n, k), dtype=torch.long, device=dev)], 1
        )
        pos = last_pos + torch.arange(1, k + 1, device=dev)
        cache = DynamicCache(ddp_cache_data=snapshot, config=self.model.config)
        out = self.model(
            input_ids=cont,
            attention_mask=attn,
            position_ids=pos,
            use_cache=True,
            logits_to_keep=k,
            **{cache_kwarg(self.model): cache},
        )
        lp = out.logits.float().log_softmax(-1)
        target = torch.tensor(s[1:], dtype=torch.long, device=dev).expand(n, k)
        return lp.gather(-1, target.unsqueeze(-1)).squeeze(-1).sum(-1)


def _chunks(order: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for i in range(0, len(order), size):
        yield order[i : i + size]
