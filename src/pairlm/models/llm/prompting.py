"""Zero-shot and n-shot prompting of a causal LM: the `llm-zeroshot` and `llm-fewshot` families.

`fit` learns only the decision threshold (on validation pairs; at most `max_valid` of them,
a stratified subsample, since scoring is the slow part) and, for n-shot, picks the
demonstrations from the training pairs it is given — never from the pairs it scores.

Demonstrations (`demo_selection`):

- ``balanced``: n/2 pairs of each class drawn at random (seeded) from the training fold,
  preferring short pairs (`demo_max_chars`); fixed order rule: labels alternate, starting
  with a duplicate (for even n the last demonstration is a non-duplicate). The same
  demonstrations serve every query, so their key/value cache is computed once (shared prefix).
- ``knn``: for each query, the nearest training pairs by MiniLM embedding (pair vector =
  normalised sum of the two texts' embeddings), n/2 of each class, ordered by increasing
  similarity (the most similar last). Demonstrations differ per query, so they cannot be a
  shared prefix: only the instruction is cached, and the demonstrations are encoded with
  each query (batched, length-sorted) — several times slower than ``balanced``. The pool is
  a seeded subsample of the training fold (`knn_pool`); its texts, labels and embeddings are
  saved with the model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import (
    ConfigError,
    ModelConfig,
    PairClassifier,
    SymmetricOption,
    check_pairs,
)
from pairlm.models.llm.prompts import (
    Demo,
    PromptParts,
    PromptTemplate,
    TemplateError,
    Verbaliser,
    get_template,
    with_answer_style,
)

log = logging.getLogger(__name__)

STATE_FILE = "llm_prompting.json"
KNN_FILE = "knn_pool.safetensors"


def validate_llm_fields(cfg: Any) -> None:
    """Checks shared by every LLM family's config (prompting and LoRA): dtype, quantised
    loading, validation cap, verbaliser and template. Raises ConfigError naming the key."""
    if cfg.dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ConfigError(
            f"dtype must be 'auto', 'float32', 'bfloat16' or 'float16', got {cfg.dtype!r}"
        )
    if cfg.load_in not in (None, "8bit", "4bit"):
        raise ConfigError(f"load_in must be '8bit', '4bit' or null, got {cfg.load_in!r}")
    if cfg.max_valid is not None and cfg.max_valid < 10:
        raise ConfigError(f"max_valid must be >= 10 or null, got {cfg.max_valid}")
    if cfg.verbaliser and len(cfg.verbaliser.split("/")) != 2:
        raise ConfigError(
            f"verbaliser must be 'POSITIVE/NEGATIVE' (e.g. 'yes/no'), got {cfg.verbaliser!r}"
        )
    try:
        get_template(cfg.template)
    except TemplateError as e:
        raise ConfigError(f"template: {e}") from e


@dataclass
class LLMFields(ModelConfig):
    """The keys every LLM family shares (prompting and LoRA): the backbone and how it is
    loaded, the prompt, the validation cap and progress bars. Declared once here."""

    backbone: str = "smollm2"
    """Hugging Face model id, local directory, .gguf file, or "smollm2" (the packaged model)."""
    template: str = "harness"
    """Prompt template: a built-in name (harness, harness-quoted, instruction, chat,
    chat-harness, short) or a path to a .toml/.json/.txt template file. Default "harness": on
    SmolLM2-135M (300 QQP pairs) 4-shot ROC-AUC 0.638 vs 0.472 for "chat"; zero-shot all
    templates are near chance (harness 0.508, chat 0.543, instruction 0.371)."""
    verbaliser: str = ""
    """"POSITIVE/NEGATIVE" answer words (e.g. "yes/no"); empty: the template's own words."""
    verbaliser_variants: bool = True
    """Sum the case / leading-space variants of each answer word (" No", "no", "NO", ...)."""
    dtype: str = "auto"
    """Base weights (compute dtype for 4-bit): "auto", "float32", "bfloat16", "float16".
    "auto" is bf16 on a GPU and on a CPU with AVX512-BF16/AMX, else float32 (measured on
    SmolLM2 LoRA: 1.7x the float32 examples/s; 4-bit QLoRA compute ~6x). LoRA adapter weights
    are kept in float32. With bf16/fp16 on a CPU attention runs "eager" (torch's CPU flash
    attention backward is ~3x slower in bf16 than matmul attention)."""
    device: str = "auto"
    """torch device: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA when available, else CPU)."""
    load_in: str | None = None
    """None, "8bit" or "4bit" (bitsandbytes; "4bit" with LoRA is QLoRA: NF4)."""
    max_text_tokens: int = 96
    """Each text is cut to this many tokens before it goes into the prompt."""
    max_valid: int | None = 500
    """Validation pairs used (stratified subsample) to learn the threshold (and, for LoRA,
    for early stopping); None = all."""
    progress: bool | None = None
    """Progress bars: true, false, or None (a bar only when stderr is a terminal)."""

    def validate(self) -> None:
        super().validate()
        if self.max_text_tokens < 1:
            raise ConfigError(f"max_text_tokens must be >= 1, got {self.max_text_tokens}")
        validate_llm_fields(self)


@dataclass
class LLMZeroShotConfig(LLMFields, SymmetricOption):
    """Config of `llm-zeroshot` (and the base of `llm-fewshot`): the shared LLM keys
    (`LLMFields`) and how prompts are scored."""

    batch_size: int = 32
    """Prompts per forward pass when scoring (length-sorted batches)."""
    max_length: int = 2048
    """Longest prompt in tokens (prefix + query + answer); longer queries lose their start."""
    calibration: bool = False
    """Contextual calibration from content-free inputs ("N/A", "", "[MASK]")."""
    use_prefix_cache: bool = True
    """Compute the key/value cache of the prompt's shared prefix once and reuse
    it for every query (False re-encodes it with each prompt; same scores, slower)."""

    runtime_keys: ClassVar[tuple[str, ...]] = (
        "device",
        "batch_size",
        "use_prefix_cache",
        "progress",
    )

    def validate(self) -> None:
        super().validate()
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_length < 32:
            raise ConfigError(f"max_length must be >= 32, got {self.max_length}")


@dataclass
class LLMFewShotConfig(LLMZeroShotConfig):
    """Config of `llm-fewshot`: the zero-shot config plus the demonstrations."""

    n_shots: int = 4
    """Demonstrations in each prompt, half of each class."""
    demo_selection: Literal["balanced", "knn"] = "balanced"
    """"balanced": the same random (seeded) demonstrations for every query; "knn": each
    query's nearest training pairs by MiniLM embedding (slower: no shared prefix)."""
    demo_max_chars: int = 240
    """Balanced demos are drawn from pairs whose two texts total at most this many characters
    (all pairs when too few are that short)."""
    knn_pool: int = 2000
    """kNN: training pairs embedded as the demonstration pool (seeded subsample)."""
    encoder: str | None = None
    """kNN: sentence encoder (None: the packaged all-MiniLM-L6-v2)."""

    def validate(self) -> None:
        super().validate()
        if self.n_shots < 1:
            raise ConfigError(f"n_shots must be >= 1 (use llm-zeroshot for 0), got {self.n_shots}")
        if self.demo_max_chars < 10:
            raise ConfigError(f"demo_max_chars must be >= 10, got {self.demo_max_chars}")
        if self.knn_pool < 2:
            raise ConfigError(f"knn_pool must be >= 2, got {self.knn_pool}")


class LLMZeroShotClassifier(PairClassifier):
    """Zero-shot prompting: P(match) = softmax over the verbaliser's answer probabilities."""

    family: ClassVar[str] = "llm-zeroshot"
    config_cls: ClassVar[type[ModelConfig]] = LLMZeroShotConfig
    config: LLMZeroShotConfig

    demos_: list[Demo]
    template_: PromptTemplate

    # ------------------------------------------------------------------ runtime
    def _runtime(self) -> dict[str, Any]:
        """Backbone, template, verbaliser and scorer, built on first use (not in __init__)."""
        rt: dict[str, Any] | None = getattr(self, "_rt", None)
        if rt is not None:
            return rt
        from pairlm.models.llm.backbone import load_backbone
        from pairlm.models.llm.scoring import PromptScorer

        cfg = self.config
        template = getattr(self, "template_", None) or self._resolve_template()
        bb = load_backbone(cfg.backbone, dtype=cfg.dtype, device=cfg.device, load_in=cfg.load_in)
        verbaliser = Verbaliser.from_words(
            template.no,
            template.yes,
            variants=cfg.verbaliser_variants,
            answer_prefix=template.answer_prefix,
        )
        answers = verbaliser.tokenize(bb.tokenizer, template.answer_context(bb.tokenizer))
        scorer = PromptScorer(
            bb.model,
            bb.tokenizer,
            answers,
            batch_size=cfg.batch_size,
            max_length=cfg.max_length,
            use_prefix_cache=cfg.use_prefix_cache,
            show_progress=cfg.progress,
        )
        self._rt = {
            "backbone": bb,
            "template": template,
            "verbaliser": verbaliser,
            "answers": answers,
            "scorer": scorer,
        }
        return self._rt

    def _resolve_template(self) -> PromptTemplate:
        return with_answer_style(get_template(self.config.template), self.config.verbaliser)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_rt", None)
        return state

    # ------------------------------------------------------------------ contract
    def fit(self, train: PairDataset, valid: PairDataset | None = None) -> Self:
        """Pick demonstrations (n-shot) from `train`; learn the threshold on `valid` (at most
        `max_valid` pairs, stratified) or on an inner split of `train`."""
        if valid is not None and self.config.max_valid is not None:
            check_pairs(valid, require_labels=True, what="valid")
            valid = stratified_cap(valid, self.config.max_valid, self.config.seed)
        elif valid is None and self.config.max_valid is not None:
            from pairlm.models.base import inner_split

            check_pairs(train, require_labels=True, what="train")
            train, valid = inner_split(train, self.config.valid_fraction, self.config.seed)
            valid = stratified_cap(valid, self.config.max_valid, self.config.seed)
        return super().fit(train, valid)

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        self.template_ = self._resolve_template()
        self.demos_ = []

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        """P(match) for every pair."""
        check_pairs(pairs)
        if not hasattr(self, "template_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        from pairlm.models.llm.scoring import p_match

        return p_match(self.label_scores(pairs))

    def label_scores(self, pairs: PairDataset) -> np.ndarray:
        """(n, 2) log-scores of labels 0 and 1 (calibrated when configured)."""
        rt = self._runtime()
        a, b = self._truncated_texts(pairs)
        parts = self._render(a, b, pairs)
        scores = rt["scorer"].score(parts)
        if self.config.calibration:
            scores = self._calibrate(scores, parts)
        return scores

    # ------------------------------------------------------------------ prompts
    def _render(self, a: list[str], b: list[str], pairs: PairDataset) -> list[PromptParts]:
        rt = self._runtime()
        t, tok, vb = rt["template"], rt["backbone"].tokenizer, rt["verbaliser"]
        return [t.render(x, y, self.demos_, tokenizer=tok, verbaliser=vb) for x, y in zip(a, b)]

    def _calibrate(self, scores: np.ndarray, parts: list[PromptParts]) -> np.ndarray:
        """Contextual calibration with content-free inputs under each prompt's own prefix."""
        from pairlm.models.llm.scoring import CONTENT_FREE, calibrate

        rt = self._runtime()
        t, tok, vb = rt["template"], rt["backbone"].tokenizer, rt["verbaliser"]
        out = np.empty_like(scores)
        by_prefix: dict[str, list[int]] = {}
        for i, p in enumerate(parts):
            by_prefix.setdefault(p.prefix, []).append(i)
        demos = self.demos_ if self._demos_shared() else []
        cf_parts = [t.render(x, y, demos, tokenizer=tok, verbaliser=vb) for x, y in CONTENT_FREE]
        cf = rt["scorer"].score(cf_parts)
        for idx in by_prefix.values():
            out[idx] = calibrate(scores[idx], cf)
        return out

    def _demos_shared(self) -> bool:
        return True

    def _truncated_texts(self, pairs: PairDataset) -> tuple[list[str], list[str]]:
        texts, ia, ib = pairs.texts()
        cut = self._truncate(texts)
        return [cut[i] for i in ia], [cut[i] for i in ib]

    def _truncate(self, texts: list[str]) -> list[str]:
        tok = self._runtime()["backbone"].tokenizer
        k = self.config.max_text_tokens
        if not texts:
            return []
        ids = tok(texts, add_special_tokens=False)["input_ids"]
        return [t if len(i) <= k else tok.decode(i[:k]) for t, i in zip(texts, ids)]

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, Any]:
        return {
            "template": self.template_.to_dict(),
            "demos": [d.to_dict() for d in self.demos_],
        }

    def _save_state(self, path: Path) -> None:
        (path / STATE_FILE).write_text(json.dumps(self._state(), indent=2, ensure_ascii=False))

    def _load_state(self, path: Path) -> None:
        f = path / STATE_FILE
        if not f.is_file():
            raise FileNotFoundError(f"{path} has no {STATE_FILE}")
        state = json.loads(f.read_text())
        self.template_ = PromptTemplate.from_dict(state["template"], source=str(f))
        self.demos_ = [Demo.from_dict(d) for d in state["demos"]]


class LLMFewShotClassifier(LLMZeroShotClassifier):
    """n-shot prompting: n labelled training pairs as demonstrations before each query."""

    family: ClassVar[str] = "llm-fewshot"
    config_cls: ClassVar[type[ModelConfig]] = LLMFewShotConfig
    config: LLMFewShotConfig

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        self.template_ = self._resolve_template()
        cfg = self.config
        if cfg.demo_selection == "balanced":
            self.demos_ = select_balanced(train, cfg.n_shots, cfg.seed, cfg.demo_max_chars)
            self.knn_pool_ = None
        else:
            self.demos_ = []
            rng = np.random.default_rng(cfg.seed)
            idx = np.sort(rng.permutation(len(train))[: cfg.knn_pool])
            pool = train.subset(idx)
            self.knn_pool_ = KnnPool(
                [str(t) for t in pool.text_a],
                [str(t) for t in pool.text_b],
                pool.y.astype(np.int64),
                _pair_vectors(pool, cfg.encoder),
            )

    def _demos_shared(self) -> bool:
        return self.config.demo_selection == "balanced"

    def _render(self, a: list[str], b: list[str], pairs: PairDataset) -> list[PromptParts]:
        if self._demos_shared():
            return super()._render(a, b, pairs)
        rt = self._runtime()
        t, tok, vb = rt["template"], rt["backbone"].tokenizer, rt["verbaliser"]
        assert self.knn_pool_ is not None
        demos = self.knn_pool_.nearest(
            _pair_vectors(pairs, self.config.encoder), self.config.n_shots
        )
        # Truncate the demonstrations' texts like the queries'.
        out = []
        for x, y, ds in zip(a, b, demos):
            cut = [self._truncate([d.text_a, d.text_b]) for d in ds]
            ds_cut = [Demo(c[0], c[1], d.label) for c, d in zip(cut, ds)]
            out.append(t.render(x, y, ds_cut, tokenizer=tok, verbaliser=vb, share_demos=False))
        return out

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        if self.knn_pool_ is not None:
            state["knn_pool"] = {
                "text_a": self.knn_pool_.text_a,
                "text_b": self.knn_pool_.text_b,
                "label": self.knn_pool_.label.tolist(),
                "embeddings": KNN_FILE,
            }
        return state

    def _save_state(self, path: Path) -> None:
        super()._save_state(path)
        if self.knn_pool_ is not None:
            from safetensors.numpy import save_file

            save_file({"pair_vectors": self.knn_pool_.vectors}, str(path / KNN_FILE))

    def _load_state(self, path: Path) -> None:
        super()._load_state(path)
        state = json.loads((path / STATE_FILE).read_text())
        self.knn_pool_ = None
        if "knn_pool" in state:
            from safetensors.numpy import load_file

            kp = state["knn_pool"]
            vec = load_file(str(path / KNN_FILE))["pair_vectors"]
            self.knn_pool_ = KnnPool(kp["text_a"], kp["text_b"], np.asarray(kp["label"]), vec)


# ---------------------------------------------------------------------------- demonstrations
def select_balanced(train: PairDataset, n: int, seed: int, max_chars: int = 240) -> list[Demo]:
    """n class-balanced random demonstrations from `train` (seeded), labels alternating,
    starting with a duplicate. Short pairs (texts totalling ≤ `max_chars`) are preferred."""
    y = train.y
    rng = np.random.default_rng(seed)
    lengths = np.array([len(a) + len(b) for a, b in zip(train.text_a, train.text_b)])
    n_pos = (n + 1) // 2
    want = {1: n_pos, 0: n - n_pos}
    chosen: dict[int, list[int]] = {}
    for label, k in want.items():
        cand = np.flatnonzero((y == label) & (lengths <= max_chars))
        if len(cand) < k:
            cand = np.flatnonzero(y == label)
        if len(cand) < k:
            raise ValueError(
                f"n_shots={n} needs {k} training pairs with label {label}, the fold has {len(cand)}"
            )
        chosen[label] = [int(i) for i in rng.choice(cand, size=k, replace=False)]
    order: list[int] = []
    for i in range(max(want.values())):
        for label in (1, 0):
            if i < len(chosen[label]):
                order.append(chosen[label][i])
    return [Demo(str(train.text_a[i]), str(train.text_b[i]), int(y[i])) for i in order]


def _pair_vectors(pairs: PairDataset, encoder: str | None) -> np.ndarray:
    """Pair embedding: the normalised sum of the two texts' (normalised) MiniLM embeddings."""
    from pairlm.models.encoders import encode_unique, load_sentence_encoder

    enc = load_sentence_encoder(encoder)
    texts, ia, ib = pairs.texts()
    emb = encode_unique(enc, texts)
    v = emb[ia] + emb[ib]
    return (v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


@dataclass
class KnnPool:
    """Training pairs (texts, labels, pair vectors) to draw nearest-neighbour demonstrations from."""

    text_a: list[str]
    text_b: list[str]
    label: np.ndarray
    vectors: np.ndarray

    def nearest(self, queries: np.ndarray, n: int) -> list[list[Demo]]:
        """For each query vector: n/2 nearest pairs of each class (duplicates get the extra
        one when n is odd), ordered by increasing similarity (most similar last)."""
        sims = queries @ self.vectors.T
        n_pos = (n + 1) // 2
        want = {1: n_pos, 0: n - n_pos}
        out = []
        for row in sims:
            picked: list[tuple[float, int]] = []
            for label, k in want.items():
                idx = np.flatnonzero(self.label == label)
                if k == 0 or not len(idx):
                    continue
                top = idx[np.argsort(-row[idx], kind="stable")[:k]]
                picked += [(float(row[i]), int(i)) for i in top]
            picked.sort(key=lambda t: (t[0], t[1]))
            out.append(
                [Demo(self.text_a[i], self.text_b[i], int(self.label[i])) for _, i in picked]
            )
        return out


def stratified_cap(ds: PairDataset, k: int, seed: int) -> PairDataset:
    """At most `k` pairs of `ds`, label ratio kept (the validation cap of the LLM families)."""
    if len(ds) <= k:
        return ds
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(ds))
    keep, _ = train_test_split(idx, train_size=k, random_state=seed, stratify=ds.label)
    return ds.subset(np.sort(keep))
