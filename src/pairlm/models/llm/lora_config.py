"""The config of `llm-lora`, in groups as peft and the HF Trainer split theirs: the adapter
(`LoRAAdapterFields`, peft's `LoraConfig`), the training (`LoRATrainingFields`: optimiser,
schedule, precision, evaluation and checkpoints, the Trainer's `TrainingArguments`), the keys
shared with the prompting families (`LLMFields`: backbone, loading, prompt, runtime) and the
family's own (head, loss, sequence length). Each group validates its own keys.

The groups are dataclass bases, not nested tables: every key stays flat (`r = 16`,
`lr = 1e-4`) in TOML files, `--set`, experiment files, stored runs and saved models, so their
identities and fingerprints are those of the flat config they always were."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pairlm.models.base import ConfigError, ModelConfig, SymmetricOption, TrainableConfig, renamed
from pairlm.models.llm.prompting import LLMFields
from pairlm.models.llm.train import SCHEDULES


def _at_least(cfg: object, minimum: int, *keys: str, optional: bool = False) -> None:
    """ConfigError naming the first of `keys` below `minimum` (None allowed if `optional`)."""
    for key in keys:
        value = getattr(cfg, key)
        if optional and value is None:
            continue
        if value < minimum:
            tail = " or null" if optional else ""
            raise ConfigError(f"{key} must be >= {minimum}{tail}, got {value}")


@dataclass
class LoRAAdapterFields(ModelConfig):
    """The LoRA adapter (peft's `LoraConfig`): rank, scaling, dropout, where it goes."""

    r: int = 8
    """LoRA rank."""
    lora_alpha: int = 16
    """LoRA scaling numerator (the update is scaled by lora_alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA adapters' input."""
    bf16_adapters: bool = field(default=False, metadata={"omit_default": True})
    """Run the adapter branch and its gradients in bf16 instead of float32 (weights stay
    float32) through the fused LoRA projection (`models/llm/fused.py`): faster on a bf16
    base, an approximation (as bf16 autocast); no effect on a float32 base."""
    target_modules: list[str] | str = field(default_factory=lambda: ["q_proj", "v_proj"])
    """Module names to adapt, or "all-linear"."""
    top_layers: int | None = None
    """Adapt only the top N decoder layers (None: all); the backward pass stops at the lowest."""

    def validate(self) -> None:
        super().validate()
        _at_least(self, 1, "r")
        if self.lora_alpha <= 0:
            raise ConfigError(f"lora_alpha must be > 0, got {self.lora_alpha}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if isinstance(self.target_modules, str):
            if self.target_modules != "all-linear":
                raise ConfigError(
                    f"target_modules must be a list of module names or 'all-linear', "
                    f"got {self.target_modules!r}"
                )
        elif not self.target_modules:
            raise ConfigError("target_modules must not be empty")
        _at_least(self, 1, "top_layers", optional=True)


@dataclass
class LoRATrainingFields(ModelConfig):
    """How the adapter is trained (the HF Trainer's `TrainingArguments`): optimiser and
    schedule, batches, precision and memory, evaluation and early stopping, checkpoints."""

    # --- optimisation
    lr: float = 1e-3
    """Peak AdamW learning rate of the adapter parameters."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    schedule: str = "linear"
    """"linear", "cosine" or "constant" after the warm-up."""
    warmup_ratio: float = 0.05
    """Share of the optimizer steps with a linear learning-rate warm-up."""
    epochs: int = 1
    """Passes over the training pairs (unless `max_steps` or early stopping ends sooner)."""
    batch_size: int = 8
    """Training pairs per micro-batch."""
    grad_accum: int = 1
    """Micro-batches per optimizer step (effective batch: batch_size × grad_accum)."""
    max_grad_norm: float | None = 1.0
    """Clip the gradient norm of the adapter parameters (None: no clipping)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (None: `epochs` full passes)."""
    # --- precision / memory
    autocast: Literal["off", "auto", "bf16"] = field(
        default="off", metadata=renamed(values=(("off", False), ("bf16", True)))
    )
    """bf16 autocast of the forward pass (useful with float32 base weights on a GPU): "auto"
    on a GPU or a CPU with native bf16 (AVX512-BF16/AMX), "bf16" always, "off" never (as the
    cross-encoder's; the earlier true/false are still read as "bf16"/"off")."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, slower steps."""
    # --- validation, early stopping, checkpoints
    eval_steps: int | None = None
    """Validate every this many optimizer steps (None: at the end of each epoch)."""
    patience: int = 2
    """Stop after this many validations without a lower validation loss."""
    eval_batch_size: int = 32
    """Pairs per batch when scoring (validation and `predict_proba`)."""
    checkpoint_dir: str | None = None
    """Where checkpoints go (a sub-directory per run fingerprint); a killed run with the same
    config and data resumes from its last checkpoint. None: a temporary directory."""
    checkpoint_steps: int = 100
    """Checkpoint every this many optimizer steps (and at each epoch's end)."""

    def validate(self) -> None:
        super().validate()
        _at_least(self, 1, "epochs", "batch_size", "grad_accum")
        _at_least(self, 1, "eval_batch_size", "checkpoint_steps")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ConfigError(f"max_grad_norm must be > 0 or null, got {self.max_grad_norm}")
        _at_least(self, 1, "max_steps", "eval_steps", optional=True)
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")


@dataclass
class LoRAConfig(
    LoRAAdapterFields, LoRATrainingFields, LLMFields, TrainableConfig, SymmetricOption
):
    """Config of `llm-lora` (LoRA / QLoRA fine-tuning of a causal LM): the head and its
    loss, the sequence length, and the groups it is made of (adapter, training, the keys
    shared with the prompting families)."""

    runtime_keys: ClassVar[tuple[str, ...]] = (
        "progress",
        "checkpoint_dir",
        "checkpoint_steps",
        "device",
        "eval_batch_size",
    )

    head: Literal["generative", "classification"] = "generative"
    """"generative": the answer word at the last position; "classification": a 2-way head."""
    loss_over: Literal["labels", "vocab"] = "labels"
    """Generative head: cross-entropy over the two labels' (variant-summed) scores, or the LM
    loss of the canonical answer token over the whole vocabulary."""
    max_length: int = 256
    """Longest training/scoring sequence in tokens (the end, where the answer goes, is kept)."""

    def validate(self) -> None:
        super().validate()
        if self.max_length < 16:
            raise ConfigError(f"max_length must be >= 16, got {self.max_length}")
