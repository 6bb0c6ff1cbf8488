"""Supervised LoRA / QLoRA fine-tuning of a causal LLM for pair classification (`llm-lora`).

The paper's winning recipe (4-bit LLaMA + LoRA adapters trained on QQP pairs), on any causal
backbone: the packaged SmolLM2 on a CPU, real LLaMA models on GPUs.

Heads (`head`):

- ``generative`` (the paper's way): the prompt template and verbaliser of the prompting
  family; the loss is the cross-entropy at the last position of the prompt. By default
  (`loss_over = "labels"`) it is taken over the two labels' scores — each label's answer
  variants (" yes", " Yes", "yes", ...) summed, exactly the quantity scoring turns into
  P(match) — so training optimises what is scored and no probability mass is spent on the
  rest of the vocabulary; `loss_over = "vocab"` is the plain LM loss of the canonical answer
  token over the whole vocabulary. Scoring is the zero-shot fast path (`PromptScorer`: one
  pass with `logits_to_keep=1`, length-sorted batches, prefix cache) on the adapted model.
- ``classification``: a 2-way sequence-classification head on the last token
  (`AutoModelForSequenceClassification`); the head is trained in full and saved with the
  adapter through peft's `modules_to_save`. Loading checks that the saved head really came
  back (a model that silently kept a fresh random head scores near chance).

QLoRA (`load_in = "4bit"`): base weights in 4-bit NF4 through bitsandbytes (CUDA or CPU).
Validation passes during training keep every module in train mode with dropout disabled
(`train.no_dropout_train_mode`), which avoids bitsandbytes' CPU repacking bug; training
also checks after each validation that no 4-bit layer was repacked.

Training (the loop is `pairlm.models.llm.train.train_adapter`): AdamW on the adapter
parameters, warm-up + linear/cosine/constant schedule, gradient accumulation, length-sorted
shuffled batches with dynamic (left) padding, optional bf16 autocast and gradient
checkpointing, early stopping on the validation loss (the best adapter is restored),
checkpoints that a killed run resumes from (`checkpoint_dir`), and data-parallel training
under ``torchrun`` (see `pairlm.models.llm.distributed`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import (
    ModelConfig,
    PairClassifier,
    check_pairs,
    inner_split,
    training_fingerprint,
)
from pairlm.models.llm.lora_config import LoRAConfig
from pairlm.models.llm.prompting import stratified_cap
from pairlm.models.llm.prompts import (
    PromptTemplate,
    Verbaliser,
    get_template,
    with_answer_style,
)
from pairlm.models.llm.train import (
    StepCallback,
    TrainerState,
    all_reduce_sum,
    barrier,
    dist_info,
    no_dropout_train_mode,
    repacked_4bit,
    train_adapter,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"
STATE_FILE = "llm_lora.json"


class LLMLoRAClassifier(PairClassifier):
    """LoRA / QLoRA fine-tuned causal LM (generative or classification head)."""

    family: ClassVar[str] = "llm-lora"
    config_cls: ClassVar[type[ModelConfig]] = LoRAConfig
    config: LoRAConfig

    step_callback: StepCallback | None = None
    """Called with the trainer state after every optimizer step (and its checkpoint, if
    any); for progress reporting and tests (e.g. killing the process mid-training)."""

    template_: PromptTemplate
    state_: TrainerState

    # ------------------------------------------------------------------ building
    def _template(self) -> PromptTemplate:
        return with_answer_style(get_template(self.config.template), self.config.verbaliser)

    def _build(self, adapter_dir: Path | None = None) -> None:
        """Load the base model (+ tokenizer), then add a new adapter (training) or load
        `adapter_dir` onto it (a saved model)."""
        import torch
        from peft import LoraConfig, PeftModel, get_peft_model

        from pairlm.models.llm.adapters import target_module_names, top_layer_indices
        from pairlm.models.llm.backbone import (
            load_backbone,
            load_tokenizer,
            quant_config,
            resolve_backbone,
            resolve_dtype,
        )
        from pairlm.models.torch_utils import autocast_on, resolve_device

        cfg = self.config
        template = getattr(self, "template_", None) or self._template()
        dtype = cfg.dtype
        if cfg.head == "generative":
            bb = load_backbone(
                cfg.backbone, dtype=dtype, device=cfg.device, load_in=cfg.load_in, shared=False
            )
            model, tok, dev = bb.model, bb.tokenizer, bb.device
        else:
            from transformers import AutoModelForSequenceClassification

            dev = resolve_device(cfg.device)
            dt = resolve_dtype(dtype, dev)
            path = resolve_backbone(cfg.backbone)
            tok = load_tokenizer(path)
            kwargs: dict[str, Any] = {"dtype": dt, "trust_remote_code": False, "num_labels": 2}
            quant = quant_config(cfg.load_in, dt)
            if quant is not None:
                kwargs["quantization_config"] = quant
                kwargs["device_map"] = {"": str(dev)}
            model = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
            if quant is None:
                model = model.to(dev)
            model.config.pad_token_id = tok.pad_token_id
        compute = resolve_dtype(dtype, dev)
        if dev.type == "cpu" and compute in (torch.bfloat16, torch.float16):
            model.set_attn_implementation("eager")
        if cfg.load_in is not None and adapter_dir is None:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model,
                use_gradient_checkpointing=cfg.gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False},
            )
        elif cfg.gradient_checkpointing and adapter_dir is None:
            enable = getattr(model, "activation_checkpointing_enable", None)  # transformers>=5.x
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False}
                )
        if adapter_dir is None:
            lcfg = LoraConfig(
                r=cfg.r,
                lora_alpha=cfg.lora_alpha,
                lora_dropout=cfg.lora_dropout,
                target_modules=target_module_names(model, cfg.target_modules, cfg.top_layers),
                layers_to_transform=top_layer_indices(model, cfg.top_layers),
                bias="none",
                task_type="CAUSAL_LM" if cfg.head == "generative" else "SEQ_CLS",
                modules_to_save=None if cfg.head == "generative" else ["score"],
            )
        with warnings.catch_warnings():  # peft 0.21 asks transformers 5 a deprecated question
            warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
            if adapter_dir is None:
                peft_model: Any = get_peft_model(model, lcfg)
            else:
                peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
        from pairlm.models.llm.fused import fuse_lora

        fuse_lora(peft_model, low_precision=cfg.bf16_adapters)
        self._rt: dict[str, Any] = {
            "model": peft_model,
            "tokenizer": tok,
            "device": dev,
            "template": template,
            "autocast_dtype": torch.bfloat16 if autocast_on(cfg.autocast, dev) else None,
        }
        if cfg.head == "generative":
            verbaliser = Verbaliser.from_words(
                template.no,
                template.yes,
                variants=cfg.verbaliser_variants,
                answer_prefix=template.answer_prefix,
            )
            self._rt["answers"] = verbaliser.tokenize(tok, template.answer_context(tok))
            self._rt["verbaliser"] = verbaliser

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_rt", None)
        return state

    @property
    def model_(self) -> Any:
        """The peft model (base + adapter)."""
        self._check_built()
        return self._rt["model"]

    def _check_built(self) -> None:
        if getattr(self, "_rt", None) is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    # ------------------------------------------------------------------ inputs
    def _truncate(self, texts: list[str]) -> list[str]:
        tok = self._rt["tokenizer"]
        k = self.config.max_text_tokens
        if not texts:
            return []
        ids = tok(texts, add_special_tokens=False)["input_ids"]
        return [t if len(i) <= k else tok.decode(i[:k]) for t, i in zip(texts, ids)]

    def _parts(self, pairs: PairDataset) -> list[Any]:
        texts, ia, ib = pairs.texts()
        cut = self._truncate(list(texts))
        t, tok = self._rt["template"], self._rt["tokenizer"]
        vb = self._rt.get("verbaliser")
        return [t.render(cut[i], cut[j], tokenizer=tok, verbaliser=vb) for i, j in zip(ia, ib)]

    def _encode(self, pairs: PairDataset) -> list[list[int]]:
        """Token ids of every pair's full prompt (BOS + prefix + query), cut to `max_length`
        from the left so that the position where the answer is read stays."""
        from pairlm.models.llm.scoring import tokenize_parts

        prefixes, which, suffixes = tokenize_parts(self._rt["tokenizer"], self._parts(pairs))
        room = self.config.max_length - 1
        out = []
        for w, s in zip(which, suffixes):
            seq = prefixes[w][1] + s
            out.append(seq[-room:] if len(seq) > room else seq)
        return out

    def _pad_id(self) -> int:
        tok = self._rt["tokenizer"]
        return int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)

    # ------------------------------------------------------------------ forward / loss
    def _autocast(self) -> Any:
        import torch

        dt = self._rt["autocast_dtype"]
        if dt is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self._rt["device"].type, dtype=dt)

    def _logits(self, seqs: list[list[int]]) -> torch.Tensor:
        """(B, V) last-position vocabulary logits (generative) or (B, 2) head logits."""
        from pairlm.models.llm.scoring import collate, last_logits

        model = self._rt["model"]
        batch = collate(seqs, self._pad_id(), device=self._rt["device"])
        with self._autocast():
            if self.config.head == "generative":
                logits, _ = last_logits(model, batch)
            else:
                logits = model(**batch).logits
        return logits.float()

    def _loss(self, seqs: list[list[int]], labels: np.ndarray) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        from pairlm.models.llm.scoring import answer_loss

        y = torch.as_tensor(labels, dtype=torch.long, device=self._rt["device"])
        if self.config.head == "generative":
            head = self._answer_head(seqs)
            if head is not None:
                from pairlm.models.llm.scoring import collate

                batch = collate(seqs, self._pad_id(), device=self._rt["device"])
                with self._autocast():
                    if self.config.loss_over == "labels":
                        return F.cross_entropy(head.label_scores(batch), y)
                    logits = head.logits(batch).float()
            else:
                logits = self._logits(seqs)
            return answer_loss(logits, y, self._rt["answers"], over=self.config.loss_over)
        return F.cross_entropy(self._logits(seqs), y)

    def _answer_head(self, seqs: list[list[int]]) -> Any:
        """The `AnswerHead` shortcut for the generative loss, checked once against the model's
        own logits on (the start of) the first batch; None where it does not apply."""
        from pairlm.models.llm.scoring import AnswerHead, collate

        head = self._rt.get("answer_head")
        if head is None:
            model = self._rt["model"]
            head = AnswerHead(model, self._rt["answers"])
            batch = collate(seqs[:2], self._pad_id(), device=self._rt["device"])
            with no_dropout_train_mode(model), self._autocast():
                ok = head.usable() and head.agrees(model, batch)
            if not ok:
                log.info("answer-head shortcut does not match this model's logits; plain path")
            head = self._rt["answer_head"] = head if ok else False
        return head or None

    def _valid_loss(self, seqs: list[list[int]], labels: np.ndarray) -> float:
        """Mean validation loss (this rank's share summed over ranks), with the modules kept
        in train mode and dropout off (the QLoRA guard)."""
        import torch

        from pairlm.models.torch_utils import length_sorted_batches

        rank, world = dist_info()
        model = self._rt["model"]
        idx_all = np.arange(len(seqs))[rank::world]
        total, count = 0.0, 0.0
        with torch.no_grad(), no_dropout_train_mode(model):
            lens = [len(seqs[i]) for i in idx_all]
            for b in length_sorted_batches(lens, self.config.eval_batch_size):
                idx = idx_all[b]
                loss = self._loss([seqs[i] for i in idx], labels[idx])
                total += float(loss) * len(idx)
                count += len(idx)
        total, count = all_reduce_sum([total, float(count)], self._rt["device"])
        bad = repacked_4bit(model)
        if bad:  # the guard above failed: training would silently stop learning
            raise RuntimeError(
                f"bitsandbytes repacked 4-bit weights during validation ({bad[:2]}...); "
                f"LoRA layers would get no gradient"
            )
        return total / max(count, 1.0)

    # ------------------------------------------------------------------ contract
    def fit(self, train: PairDataset, valid: PairDataset | None = None) -> Self:
        """Fine-tune on `train`; early-stop on and learn the threshold on `valid` (at most
        `max_valid` pairs, stratified) or on an inner split of `train`."""
        check_pairs(train, require_labels=True, what="train")
        if valid is None:
            train, valid = inner_split(train, self.config.valid_fraction, self.config.seed)
        check_pairs(valid, require_labels=True, what="valid")
        if self.config.max_valid is not None:
            valid = stratified_cap(valid, self.config.max_valid, self.config.seed)
        return super().fit(train, valid)

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        from pairlm.models.torch_utils import seed_everything

        cfg = self.config
        seed_everything(cfg.seed)
        self.template_ = self._template()
        self._build()
        if cfg.checkpoint_dir is not None:
            self._train(train, valid, self._checkpoint_root(train, valid))
        else:
            with tempfile.TemporaryDirectory(prefix="pairlm-lora-") as tmp:
                self._train(train, valid, Path(tmp))
        self._rt["model"].eval()

    def _checkpoint_root(self, train: PairDataset, valid: PairDataset) -> Path:
        """`checkpoint_dir/<fingerprint>` (config minus runtime keys, data, world size). A
        checkpoint written under the earlier fingerprint, which did not hash the texts, is
        moved to the current one once (it was written for the same ids and labels)."""
        assert self.config.checkpoint_dir is not None
        base, (rank, world) = Path(self.config.checkpoint_dir), dist_info()
        root = base / training_fingerprint(self.config, train, valid, extra=str(world))
        legacy = base / training_fingerprint(
            self.config, train, valid, extra=str(world), texts=False
        )
        if not root.exists() and legacy.is_dir() and rank == 0:
            log.warning("%s: checkpoint of an earlier pairlm, now kept as %s", legacy, root.name)
            legacy.rename(root)
        barrier()
        return root

    def _train(self, train: PairDataset, valid: PairDataset, ckpt_root: Path) -> None:
        """Train the adapter (`train.train_adapter`: the loop, its checkpoints in `ckpt_root`
        and early stopping on the validation loss)."""
        x_train, y_train = self._encode(train), train.y.astype(np.int64)
        x_valid, y_valid = self._encode(valid), valid.y.astype(np.int64)
        run = train_adapter(
            self._rt["model"],
            self.config,
            x_train,
            y_train,
            self._loss,
            lambda: self._valid_loss(x_valid, y_valid),
            ckpt_root,
            self.step_callback,
        )
        self.resumed_step_ = run.resumed_step
        self.train_seconds_before_ = run.seconds_before  # by earlier processes, when resumed
        self.state_ = run.state

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        """P(match) for every pair (the zero-shot fast path on the adapted model, or the head)."""
        check_pairs(pairs)
        self._check_built()
        return _softmax1(self.label_scores(pairs))

    def label_scores(self, pairs: PairDataset) -> np.ndarray:
        """(n, 2) label log-scores (generative) or head logits (classification)."""
        import torch

        from pairlm.models.torch_utils import length_sorted_batches

        model = self._rt["model"]
        seqs = self._encode(pairs)
        if self.config.head == "generative" and seqs and self._answer_head(seqs) is None:
            from pairlm.models.llm.scoring import PromptScorer

            scorer = PromptScorer(
                model,
                self._rt["tokenizer"],
                self._rt["answers"],
                batch_size=self.config.eval_batch_size,
                max_length=max(self.config.max_length, 64),
                show_progress=self.config.progress,
            )
            with self._autocast():
                return scorer.score(self._parts(pairs))
        # Generative: the training loss's own quantity, through the answer-row shortcut (the
        # decoder body, then only the answer tokens' rows of the LM head), as fast as the
        # untuned scorer; classification: the head's logits.
        out = np.zeros((len(seqs), 2))
        with torch.inference_mode():
            for b in length_sorted_batches([len(s) for s in seqs], self.config.eval_batch_size):
                chunk = [seqs[i] for i in b]
                if self.config.head == "generative":
                    out[b] = self._label_scores(chunk).double().cpu().numpy()
                else:
                    out[b] = self._logits(chunk).double().cpu().numpy()
        return out

    def _label_scores(self, seqs: list[list[int]]) -> torch.Tensor:
        """(B, 2) generative label scores through the `AnswerHead` shortcut."""
        from pairlm.models.llm.scoring import collate

        batch = collate(seqs, self._pad_id(), device=self._rt["device"])
        with self._autocast():
            return self._rt["answer_head"].label_scores(batch).float()

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        self._check_built()
        self._rt["model"].save_pretrained(str(path / ADAPTER_DIR), safe_serialization=True)
        state = {
            "template": self.template_.to_dict(),
            "history": getattr(self, "state_", TrainerState()).history,
        }
        (path / STATE_FILE).write_text(json.dumps(state, indent=1, ensure_ascii=False))

    def _load_state(self, path: Path) -> None:
        f = path / STATE_FILE
        adapter = path / ADAPTER_DIR
        if not f.is_file() or not (adapter / "adapter_config.json").is_file():
            raise FileNotFoundError(
                f"{path} has no {STATE_FILE} or {ADAPTER_DIR}/adapter_config.json"
            )
        state = json.loads(f.read_text())
        self.template_ = PromptTemplate.from_dict(state["template"], source=str(f))
        self.state_ = TrainerState(history=state.get("history", []))
        if self.config.head == "classification":
            _saved_head(adapter)  # before peft tries (and fails obscurely) to load it
        self._build(adapter_dir=adapter)
        self._rt["model"].eval()
        if self.config.head == "classification":
            _check_head_restored(self._rt["model"], adapter)

    def merge_and_save(self, path: str | Path, dtype: str = "float32") -> Path:
        """Export base + adapter merged into one plain model directory (safetensors and
        tokenizer), loadable with `AutoModelForCausalLM` / `AutoModelForSequenceClassification`
        without peft. The base is reloaded unquantized (in `dtype`) for the merge."""
        self._check_built()
        out = Path(path)
        with tempfile.TemporaryDirectory(prefix="pairlm-merge-") as tmp:
            self._rt["model"].save_pretrained(tmp, safe_serialization=True)
            full = type(self)(self.config.replace(load_in=None, dtype=dtype, device="cpu"))
            full.template_ = self.template_
            full._build(adapter_dir=Path(tmp))
        merged = full._rt["model"].merge_and_unload()
        merged.save_pretrained(str(out), safe_serialization=True)
        full._rt["tokenizer"].save_pretrained(str(out))
        return out


# ---------------------------------------------------------------------------- helpers
def _check_head_restored(model: Any, adapter_dir: Path) -> None:
    """Every saved `modules_to_save` tensor (the classification head) must be in the loaded
    model with the saved values — the trap where a reload keeps a fresh random head."""
    import torch

    head = _saved_head(adapter_dir)
    params = dict(model.named_parameters())
    for key, value in head.items():
        suffix = key.removeprefix("base_model.model.")
        cands = [
            p
            for n, p in params.items()
            if n.endswith(suffix.replace(".weight", ".modules_to_save.default.weight"))
            or n.endswith(suffix.replace(".bias", ".modules_to_save.default.bias"))
        ]
        if not cands or not any(
            torch.equal(c.detach().cpu().to(value.dtype), value) for c in cands
        ):
            raise RuntimeError(
                f"{adapter_dir}: the classification head {key} was not restored on load"
            )


def _saved_head(adapter_dir: Path) -> dict[str, torch.Tensor]:
    """The non-LoRA tensors (the classification head) of a saved adapter; raises if none."""
    from safetensors.torch import load_file

    saved = load_file(str(adapter_dir / "adapter_model.safetensors"))
    head = {k: v for k, v in saved.items() if "lora_" not in k}
    if not head:
        raise RuntimeError(
            f"{adapter_dir}: the saved adapter holds no classification head (modules_to_save); "
            f"a model loaded from it would score with a random head"
        )
    return head


def _softmax1(scores: np.ndarray) -> np.ndarray:
    x = np.asarray(scores, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(x[:, 0] - x[:, 1]))
