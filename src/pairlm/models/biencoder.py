"""Sentence-embedding bi-encoder (family `biencoder`), all-MiniLM-L6-v2 by default.

Each text is embedded on its own; a pair is scored from its two embeddings u, v:

- `mode="cosine"`: no training; P = (cos(u, v) + 1) / 2, the threshold learned on validation;
- `mode="head"` (default): frozen embeddings, a small head on [u, v, |u−v|, u⊙v, cos] — a
  one-hidden-layer MLP with early stopping on validation loss (`head="mlp"`, default) or a
  logistic regression (`head="logreg"`), trained on both orientations of every pair and
  scored as the mean of both. On one QQP split (6,000 training pairs, 2,000 test pairs):
  cosine F1 0.722, logreg head 0.698, MLP head 0.754;
- `mode="finetune"`: the encoder is first fine-tuned on the training fold — multiple-negatives
  ranking loss on its duplicate pairs (`loss="mnrl"`) or a contrastive loss on all its
  pairs (`loss="contrastive"`) — then scored by cosine (`finetune_scoring="cosine"`) or a
  head as above (`"head"`). Fine-tuning runs the shared loop of `pairlm.models.training`;
  with `checkpoint_dir`, it checkpoints there and a killed run resumes.

Each distinct text is encoded once: embeddings live in a cache keyed by text, so `fit`'s
validation pass and later `predict_proba` calls reuse them. With a frozen encoder the cache
is shared by every instance using the same encoder weights in this process (a k-fold run
encodes each question once, not once per fold); a fine-tuned encoder has its own.

Caveat: all-MiniLM-L6-v2 saw ~100k Quora duplicate triplets in pre-training
(`MINILM_QQP_CAVEAT`); its QQP figures are optimistic.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import (
    ConfigError,
    ModelConfig,
    PairClassifier,
    TrainableConfig,
    check_pairs,
    renamed,
    soft_target_rows,
    training_fingerprint,
)
from pairlm.models.encoders import (
    MINILM_QQP_CAVEAT,
    encode_unique,
    encoder_version,
    load_sentence_encoder,
    resolve_encoder,
)
from pairlm.models.torch_utils import (
    EarlyStopping,
    progress,
    resolve_device,
    seed_everything,
    sigmoid,
    torch_threads,
)
from pairlm.models.training import (
    CappedWarmupDecay,
    EpochDraws,
    LoopSettings,
    StepCallback,
    Task,
    lambda_scheduler,
)
from pairlm.models.training import train as train_loop

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

HEAD_FILE = "biencoder_head.safetensors"
STATE_FILE = "biencoder.json"
ENCODER_DIR = "encoder"

# Frozen-encoder embedding caches shared across instances: encoder version → {text: vector}.
_SHARED_CACHES: dict[str, dict[str, np.ndarray]] = {}
_SHARED_CACHE_MAX_TEXTS = 2_000_000


def clear_shared_cache() -> None:
    """Forget every shared embedding cache (frees memory; the next call re-encodes)."""
    _SHARED_CACHES.clear()


@dataclass
class BiEncoderConfig(TrainableConfig):
    encoder: str | None = None
    """Sentence-transformers model (id or local folder); None: the packaged all-MiniLM-L6-v2."""
    mode: Literal["cosine", "head", "finetune"] = "head"
    """How a pair is scored: "cosine" (no training), "head" (a head on frozen embeddings)
    or "finetune" (the encoder fine-tuned on the training pairs first)."""
    head: Literal["logreg", "mlp"] = "mlp"
    """The head of `mode` "head" (and of `finetune_scoring` "head"): "mlp" (one hidden layer,
    early stopping on validation loss) or "logreg" (logistic regression, `C`)."""
    C: float = 1.0
    """Inverse L2 strength of the logistic-regression head."""
    mlp_hidden: int = 256
    """Hidden units of the MLP head."""
    mlp_epochs: int = 30
    """Most epochs of the MLP head; early stopping may end sooner."""
    mlp_lr: float = 1e-3
    """Adam learning rate of the MLP head."""
    mlp_dropout: float = 0.2
    """Dropout on the MLP head's hidden layer."""
    patience: int = 3
    """MLP head: stop after this many epochs without a lower validation loss."""
    # fine-tuning
    loss: Literal["mnrl", "contrastive"] = "mnrl"
    """Fine-tuning loss: "mnrl" (multiple-negatives ranking on the duplicate pairs) or
    "contrastive" (every pair, `margin`)."""
    finetune_scoring: Literal["cosine", "head"] = "cosine"
    """After fine-tuning, score by "cosine" or by a "head" as in `mode` "head"."""
    finetune_epochs: int = 1
    """Epochs of encoder fine-tuning."""
    lr: float = dataclasses.field(default=2e-5, metadata=renamed("finetune_lr"))
    """AdamW learning rate of encoder fine-tuning (weight decay 0.01)."""
    finetune_batch_size: int = 32
    """Pairs per fine-tuning batch (with mnrl, the in-batch negatives: at least 2)."""
    max_train_pairs: int | None = 4000
    """Pairs of each training set used to fine-tune the encoder (None: all); the head uses all."""
    margin: float = 0.5
    """Contrastive-loss margin on the cosine distance."""
    max_length: int = dataclasses.field(default=128, metadata=renamed("max_seq_length"))
    """Token cap of each text when it is encoded."""
    batch_size: int = 64
    """Encoding batch size."""
    share_cache: bool = True
    """Share frozen-encoder embeddings across instances in this process."""
    device: str = "cpu"
    """torch device: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA when available, else CPU)."""
    num_threads: int | None = None
    """torch intra-op threads during fit/predict (None: leave torch's setting)."""
    progress: bool | None = None
    """Progress bars: true, false, or None (a bar only when stderr is a terminal)."""
    checkpoint_dir: str | None = dataclasses.field(default=None, metadata={"omit_default": True})
    """`mode` "finetune": keep fine-tuning checkpoints here (a sub-directory per fingerprint:
    config less runtime keys, training and validation pairs); a killed run resumes from its
    last one, a finished one is not fine-tuned again. None: no checkpoints."""
    checkpoint_steps: int = dataclasses.field(default=100, metadata={"omit_default": True})
    """With `checkpoint_dir`: checkpoint every this many fine-tuning steps (and at each
    epoch's end)."""

    runtime_keys: ClassVar[tuple[str, ...]] = (
        "batch_size",
        "share_cache",
        "device",
        "num_threads",
        "progress",
        "checkpoint_dir",
        "checkpoint_steps",
    )

    def validate(self) -> None:
        super().validate()
        for key in (
            "mlp_hidden",
            "mlp_epochs",
            "finetune_epochs",
            "finetune_batch_size",
            "max_length",
            "batch_size",
            "checkpoint_steps",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.finetune_batch_size < 2 and self.loss == "mnrl":
            raise ConfigError(
                "finetune_batch_size must be >= 2 for loss='mnrl' (in-batch negatives)"
            )
        for key in ("C", "mlp_lr", "lr", "margin"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be > 0, got {getattr(self, key)}")
        if not 0.0 <= self.mlp_dropout < 1.0:
            raise ConfigError(f"mlp_dropout must be in [0, 1), got {self.mlp_dropout}")
        if self.max_train_pairs is not None and self.max_train_pairs < 2:
            raise ConfigError(f"max_train_pairs must be >= 2 or None, got {self.max_train_pairs}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """[u, v, |u−v|, u⊙v, cos(u, v)] for rows of (normalised) embeddings, float32."""
    cos = np.sum(u * v, axis=1, keepdims=True)
    return np.concatenate([u, v, np.abs(u - v), u * v, cos], axis=1).astype(np.float32)


class BiEncoderClassifier(PairClassifier):
    """Bi-encoder on sentence embeddings (family `biencoder`). See the module docstring."""

    family: ClassVar[str] = "biencoder"
    config_cls: ClassVar[type[ModelConfig]] = BiEncoderConfig
    soft_targets: ClassVar[bool] = True
    """Soft targets: the MLP head's BCE and the contrastive loss take them; the logistic
    head as weighted rows; "mnrl" weights each duplicate (label 1) pair by its target."""
    caveats: ClassVar[tuple[str, ...]] = (MINILM_QQP_CAVEAT,)
    """Printed by the report; applies when the default all-MiniLM-L6-v2 is used."""
    config: BiEncoderConfig

    step_callback: StepCallback | None = None
    """Called with the trainer state after every fine-tuning step (and its checkpoint, if
    any); for progress reporting and tests (e.g. killing the process mid-training)."""

    head_: dict[str, np.ndarray] | None
    """Head weights (None for cosine scoring)."""
    encodings_requested_: int
    encodings_computed_: int

    def __init__(self, config: ModelConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._encoder: SentenceTransformer | None = None
        self._finetuned = False
        self._cache: dict[str, np.ndarray] = {}
        self.encodings_requested_ = 0
        self.encodings_computed_ = 0

    @property
    def model_caveats(self) -> tuple[str, ...]:
        """Caveats of this instance: the MiniLM one only when the default encoder is used."""
        enc = self.config.encoder
        if enc is None or "minilm-l6" in enc.lower():
            return self.caveats
        return ()

    # ------------------------------------------------------------------ encoding
    @property
    def _scoring(self) -> str:
        c = self.config
        if c.mode == "cosine" or (c.mode == "finetune" and c.finetune_scoring == "cosine"):
            return "cosine"
        return "head"

    def _get_encoder(self) -> SentenceTransformer:
        if self._encoder is None:
            enc = load_sentence_encoder(
                self.config.encoder, str(resolve_device(self.config.device))
            )
            enc.max_seq_length = self.config.max_length
            self._encoder = enc
            if self.config.share_cache:
                self._cache = _SHARED_CACHES.setdefault(self._cache_key(), self._cache)
        return self._encoder

    def _cache_key(self) -> str:
        """Identifies the frozen encoder's weights: resolved path, weight file size and mtime."""
        path = Path(resolve_encoder(self.config.encoder))
        stamp = ""
        for f in ("model.safetensors", "pytorch_model.bin"):
            w = path / f
            if w.is_file():
                st = w.stat()
                stamp = f"{st.st_size}:{st.st_mtime_ns}"
                break
        return f"{path.resolve() if path.exists() else path}|{stamp}|{self.config.max_length}"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings of `texts` (float32 rows), encoding only texts not cached."""
        encoder = self._get_encoder()
        cache = self._cache
        self.encodings_requested_ += len(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            with torch_threads(self.config.num_threads):
                emb = encode_unique(
                    encoder,
                    todo,
                    batch_size=self.config.batch_size,
                    show_progress=self.config.progress,
                )
            self.encodings_computed_ += len(todo)
            if not self._finetuned and len(cache) + len(todo) > _SHARED_CACHE_MAX_TEXTS:
                cache.clear()
            cache.update(zip(todo, emb))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    def _pair_embeddings(self, pairs: PairDataset) -> tuple[np.ndarray, np.ndarray]:
        texts, ia, ib = pairs.texts()
        emb = self.embed(texts)
        # Count the encodings a naive per-pair encoder would have done.
        self.encodings_requested_ += 2 * len(pairs) - len(texts)
        return emb[ia], emb[ib]

    # ------------------------------------------------------------------ fit
    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        c = self.config
        seed_everything(c.seed)
        self.head_ = None
        if c.mode == "finetune":
            ckpt_root = None
            if c.checkpoint_dir is not None:
                ckpt_root = Path(c.checkpoint_dir) / training_fingerprint(c, train, valid)
            self._finetune(train, ckpt_root)
        if self._scoring == "head":
            u, v = self._pair_embeddings(train)
            vu, vv = self._pair_embeddings(valid)
            if c.head == "logreg":
                self.head_ = self._fit_logreg(u, v, train.y, train.target)
            else:
                self.head_ = self._fit_mlp(u, v, train.soft_labels, vu, vv, valid.y)

    def _fit_logreg(
        self, u: np.ndarray, v: np.ndarray, y: np.ndarray, target: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        from sklearn.linear_model import LogisticRegression

        x = np.concatenate([pair_features(u, v), pair_features(v, u)])
        yy = np.concatenate([y, y])
        mean = x.mean(axis=0)
        scale = x.std(axis=0) + 1e-6
        lr = LogisticRegression(C=self.config.C, max_iter=2000)
        if target is None:
            lr.fit((x - mean) / scale, yy)
        else:  # soft labels as weighted rows (`soft_target_rows`)
            rows, yr, w = soft_target_rows(np.concatenate([target, target]))
            lr.fit((x[rows] - mean) / scale, yr, sample_weight=w)
        return {
            "mean": mean.astype(np.float32),
            "scale": scale.astype(np.float32),
            "coef": lr.coef_.ravel().astype(np.float32),
            "intercept": lr.intercept_.astype(np.float32),
        }

    def _mlp(self, dim: int) -> Any:
        from torch import nn

        c = self.config
        return nn.Sequential(
            nn.Linear(dim, c.mlp_hidden),
            nn.ReLU(),
            nn.Dropout(c.mlp_dropout),
            nn.Linear(c.mlp_hidden, 1),
        )

    def _fit_mlp(
        self,
        u: np.ndarray,
        v: np.ndarray,
        y: np.ndarray,
        vu: np.ndarray,
        vv: np.ndarray,
        vy: np.ndarray,
    ) -> dict[str, np.ndarray]:
        import torch

        c = self.config
        x = np.concatenate([pair_features(u, v), pair_features(v, u)])
        yy = torch.from_numpy(np.concatenate([y, y]).astype(np.float32))
        mean = x.mean(axis=0)
        scale = x.std(axis=0) + 1e-6
        xt = torch.from_numpy((x - mean) / scale)
        xv = [
            torch.from_numpy((pair_features(a, b) - mean) / scale) for a, b in ((vu, vv), (vv, vu))
        ]
        net = self._mlp(x.shape[1])
        opt = torch.optim.Adam(net.parameters(), lr=c.mlp_lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        stopper = EarlyStopping(patience=c.patience, mode="min")
        gen = torch.Generator().manual_seed(c.seed)
        vyt = torch.from_numpy(vy.astype(np.float32))
        with torch_threads(c.num_threads):
            for _epoch in progress(range(c.mlp_epochs), desc="head", enabled=c.progress):
                net.train()
                perm = torch.randperm(len(xt), generator=gen)
                for i in range(0, len(xt), 256):
                    idx = perm[i : i + 256]
                    opt.zero_grad(set_to_none=True)
                    loss_fn(net(xt[idx]).squeeze(1), yy[idx]).backward()
                    opt.step()
                net.eval()
                with torch.inference_mode():
                    p = (
                        torch.sigmoid(net(xv[0]).squeeze(1)) + torch.sigmoid(net(xv[1]).squeeze(1))
                    ) / 2
                    p = p.clamp(1e-7, 1 - 1e-7)
                    val = float(-(vyt * p.log() + (1 - vyt) * (1 - p).log()).mean())
                if stopper.step(val, net):
                    break
        stopper.restore(net)
        out = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        out.update(mean=mean.astype(np.float32), scale=scale.astype(np.float32))
        return out

    def _finetune(self, train: PairDataset, ckpt_root: Path | None = None) -> None:
        """Fine-tune a private copy of the encoder on the training pairs (the shared loop,
        `models.training.train`: AdamW with weight decay 0.01, warm-up over a tenth of the
        steps then linear decay, clipping at 1.0); with `ckpt_root`, checkpoints there that a
        killed run resumes from."""
        import torch
        from sentence_transformers import SentenceTransformer

        c = self.config
        t_start = time.perf_counter()
        device = resolve_device(c.device)
        enc = SentenceTransformer(
            resolve_encoder(c.encoder), device=str(device), trust_remote_code=False
        )
        enc.max_seq_length = c.max_length
        self._encoder = enc
        self._finetuned = True
        self._cache = {}
        rng = np.random.default_rng(c.seed)
        idx = np.flatnonzero(train.label == 1) if c.loss == "mnrl" else np.arange(len(train))
        if c.max_train_pairs is not None and len(idx) > c.max_train_pairs:
            idx = np.sort(rng.choice(idx, size=c.max_train_pairs, replace=False))
        if len(idx) < 2:
            raise ValueError(
                "fine-tuning needs at least 2 training pairs (duplicates for loss='mnrl')"
            )
        a = train.text_a[idx]
        b = train.text_b[idx]
        y = torch.from_numpy(train.soft_labels[idx].astype(np.float32))
        soft = train.target is not None  # mnrl: each duplicate pair weighted by its target
        params = [p for p in enc.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=0.01)
        steps = c.finetune_epochs * int(np.ceil(len(idx) / c.finetune_batch_size))
        sched = lambda_scheduler(opt, CappedWarmupDecay(max(1, steps // 10), steps))
        perms = EpochDraws(c.seed, lambda g: g.permutation(len(idx)), start=rng)

        def batches(epoch: int) -> list[np.ndarray]:
            perm = perms.draw(epoch)
            bs = c.finetune_batch_size
            out = [perm[i : i + bs] for i in range(0, len(perm), bs)]
            return [bt for bt in out if len(bt) >= 2] if c.loss == "mnrl" else out

        def batch_loss(bt: np.ndarray) -> torch.Tensor:
            ea = self._forward(enc, list(a[bt]), device)
            eb = self._forward(enc, list(b[bt]), device)
            return self._finetune_loss(ea, eb, y[bt].to(device), soft)

        settings = LoopSettings(
            epochs=c.finetune_epochs,
            max_grad_norm=1.0,
            checkpoint_steps=c.checkpoint_steps,
            desc="fine-tune",
            progress=c.progress,
        )
        with torch_threads(c.num_threads):
            task = Task(batches, batch_loss)
            run = train_loop(enc, params, opt, sched, task, settings, ckpt_root, self.step_callback)
        enc.eval()
        self.resumed_step_ = run.resumed_step
        self.train_seconds_before_ = run.seconds_before  # by earlier processes, when resumed
        self.finetune_pairs_ = len(idx)
        self.finetune_seconds_ = time.perf_counter() - t_start

    def _finetune_loss(self, ea: Any, eb: Any, yt: Any, soft: bool) -> Any:
        """The fine-tuning loss of a batch's normalised embeddings `ea`, `eb` (targets `yt`):
        multiple-negatives ranking (each pair weighted by its soft target) or contrastive."""
        import torch

        c = self.config
        ce = torch.nn.functional.cross_entropy
        if c.loss == "mnrl":
            scores = 20.0 * ea @ eb.T
            target = torch.arange(len(ea), device=ea.device)
            if soft:
                per = (
                    ce(scores, target, reduction="none") + ce(scores.T, target, reduction="none")
                ) / 2
                return (per * yt).sum() / yt.sum().clamp_min(1e-6)
            return (ce(scores, target) + ce(scores.T, target)) / 2
        dist = 1.0 - (ea * eb).sum(dim=1)
        return (yt * dist.pow(2) + (1 - yt) * torch.relu(c.margin - dist).pow(2)).mean() / 2

    @staticmethod
    def _forward(enc: SentenceTransformer, texts: list[str], device: Any) -> Any:
        import torch

        feats = enc.tokenize(texts)
        feats = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in feats.items()}
        emb = enc(feats)["sentence_embedding"]
        return torch.nn.functional.normalize(emb, dim=1)

    # ------------------------------------------------------------------ scoring
    def _head_logits(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        h = self.head_
        assert h is not None
        x = (pair_features(u, v) - h["mean"]) / h["scale"]
        if "coef" in h:
            return x.astype(np.float64) @ h["coef"].astype(np.float64) + float(h["intercept"][0])
        import torch

        net = self._mlp(x.shape[1])
        net.load_state_dict(
            {k: torch.from_numpy(np.asarray(v)) for k, v in h.items() if k not in ("mean", "scale")}
        )
        net.eval()
        with torch.inference_mode():
            return net(torch.from_numpy(x)).squeeze(1).double().numpy()

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        check_pairs(pairs)
        if not hasattr(self, "head_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        u, v = self._pair_embeddings(pairs)
        if self._scoring == "cosine":
            cos = np.sum(u.astype(np.float64) * v, axis=1)
            return np.clip((cos + 1.0) / 2.0, 0.0, 1.0)
        p = (sigmoid(self._head_logits(u, v)) + sigmoid(self._head_logits(v, u))) / 2.0
        return np.clip(p, 0.0, 1.0)

    @property
    def encodings_saved_(self) -> int:
        """Encodings avoided by encoding each distinct text once and caching it."""
        return self.encodings_requested_ - self.encodings_computed_

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        from safetensors.numpy import save_file

        if self.head_ is not None:
            save_file(
                {k: np.ascontiguousarray(v) for k, v in self.head_.items()}, str(path / HEAD_FILE)
            )
        if self._finetuned:
            assert self._encoder is not None
            self._encoder.save(str(path / ENCODER_DIR), create_model_card=False)
        meta = {
            "head": self.head_ is not None,
            "finetuned": self._finetuned,
            "encoder_version": None if self._finetuned else encoder_version(self.config.encoder),
        }
        (path / STATE_FILE).write_text(json.dumps(meta, indent=2))

    def _load_state(self, path: Path) -> None:
        from safetensors.numpy import load_file

        state_file = path / STATE_FILE
        if not state_file.is_file():
            raise FileNotFoundError(f"{path} is not a saved bi-encoder: {STATE_FILE} is missing")
        meta = json.loads(state_file.read_text())
        self.head_ = None
        if meta["head"]:
            if not (path / HEAD_FILE).is_file():
                raise FileNotFoundError(f"{path} is missing {HEAD_FILE}")
            self.head_ = dict(load_file(str(path / HEAD_FILE)))
        if meta["finetuned"]:
            from sentence_transformers import SentenceTransformer

            enc_dir = path / ENCODER_DIR
            if not enc_dir.is_dir():
                raise FileNotFoundError(
                    f"{path} is missing its fine-tuned encoder folder {ENCODER_DIR}/"
                )
            enc = SentenceTransformer(
                str(enc_dir),
                device=str(resolve_device(self.config.device)),
                trust_remote_code=False,
            )
            enc.max_seq_length = self.config.max_length
            enc.eval()
            self._encoder = enc
            self._finetuned = True
            self._cache = {}
        elif meta.get("encoder_version") and meta["encoder_version"] != encoder_version(
            self.config.encoder
        ):
            log.warning(
                "bi-encoder %s was fitted with encoder %s, now loading %s",
                path,
                meta["encoder_version"],
                encoder_version(self.config.encoder),
            )
