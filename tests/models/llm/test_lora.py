"""`llm-lora` on tiny LLaMAs: config, heads, the QLoRA gradient guard, checkpoints, merge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pairlm.models.base import ConfigError
from pairlm.models.llm.lora import LLMLoRAClassifier, LoRAConfig
from pairlm.models.llm.train import (
    CheckpointManager,
    TrainerState,
    WarmupSchedule,
    make_scheduler,
    no_dropout_train_mode,
    repacked_4bit,
    trainable_state,
)
from pairlm.models.registry import load_model
from tests.conftest import make_toy_pairs
from tests.models.tiny_llm_lora import TINY_TRAIN, make_tiny, make_tiny_llama_4bit


def _lora_params(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if "lora_" in n and p.requires_grad}


# ---------------------------------------------------------------------------- config
def test_config_validation_names_the_key() -> None:
    assert LoRAConfig().target_modules == ["q_proj", "v_proj"]
    assert LoRAConfig(target_modules="all-linear").target_modules == "all-linear"
    for bad, key in [
        ({"r": 0}, "r"),
        ({"target_modules": "q_proj"}, "target_modules"),
        ({"schedule": "step"}, "schedule"),
        ({"load_in": "3bit"}, "load_in"),
        ({"head": "regression"}, "head"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
    ]:
        with pytest.raises(ConfigError, match=key):
            LoRAConfig.from_dict(bad)


def test_warmup_schedule_shapes() -> None:
    lin = WarmupSchedule("linear", warmup=4, total=20)
    assert lin(0) < lin(1) < lin(3) < lin(4) == 1.0
    assert lin(12) == pytest.approx(0.5) and lin(20) == 0.0
    cos = WarmupSchedule("cosine", warmup=0, total=10)
    assert cos(0) == 1.0 and cos(5) == pytest.approx(0.5) and cos(10) == pytest.approx(0.0)
    assert WarmupSchedule("constant", 2, 10)(9) == 1.0
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, "linear", 2, 10)
    assert json.dumps(sched.state_dict(), default=str)  # plain data, no lambdas


# ---------------------------------------------------------------------------- generative head
@pytest.fixture(scope="module")
def fitted_generative(tmp_path_factory: pytest.TempPathFactory) -> LLMLoRAClassifier:
    tmp = tmp_path_factory.mktemp("gen")
    return make_tiny(tmp, epochs=3).fit(make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2))


def test_generative_training_lowers_the_loss_and_changes_lora(
    fitted_generative: LLMLoRAClassifier, tmp_path: Path
) -> None:
    m = fitted_generative
    hist = m.state_.history
    valid = [h["valid_loss"] for h in hist if "valid_loss" in h]
    assert len(valid) == 3 and min(valid[1:]) < valid[0]
    lora_b = [p for n, p in _lora_params(m.model_).items() if "lora_B" in n]
    assert lora_b and all(float(p.abs().sum()) > 0 for p in lora_b)  # B starts at zero


def test_generative_scores_equal_the_training_forward(fitted_generative: LLMLoRAClassifier) -> None:
    """The fast scoring path on the adapted model gives the label scores the loss used."""
    from pairlm.models.llm.scoring import label_scores_from_logprobs

    m = fitted_generative
    test = make_toy_pairs(12, seed=7)
    fast = m.label_scores(test)
    seqs = m._encode(test)
    with torch.no_grad():
        ref = np.concatenate(
            [
                label_scores_from_logprobs(m._logits([s]).log_softmax(-1), m._rt["answers"]).numpy()
                for s in seqs
            ]
        )
    fast_p = np.exp(fast - np.logaddexp(fast[:, :1], fast[:, 1:]))
    ref_p = np.exp(ref - np.logaddexp(ref[:, :1], ref[:, 1:]))
    np.testing.assert_allclose(fast_p, ref_p, atol=1e-4)


def test_saved_adapter_reloads_onto_its_base(
    fitted_generative: LLMLoRAClassifier, tmp_path: Path
) -> None:
    m = fitted_generative
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "adapter" / "adapter_model.safetensors").is_file()
    loaded = load_model(tmp_path / "m")
    test = make_toy_pairs(20, seed=8)
    np.testing.assert_allclose(loaded.predict_proba(test), m.predict_proba(test), atol=1e-6)


def test_merge_and_save_exports_a_plain_model(
    fitted_generative: LLMLoRAClassifier, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    m = fitted_generative
    out = m.merge_and_save(tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    seqs = m._encode(make_toy_pairs(6, seed=9))
    from pairlm.models.llm.scoring import collate

    batch = collate(seqs, m._pad_id())
    with torch.no_grad():
        a = merged(**batch, logits_to_keep=1).logits[:, -1]
        b = m._logits(seqs)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


# ---------------------------------------------------------------------------- classification head
def test_classification_head_is_saved_and_restored(tmp_path: Path) -> None:
    m = make_tiny(tmp_path, head="classification", epochs=2)
    m.fit(make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2))
    test = make_toy_pairs(30, seed=6)
    p = m.predict_proba(test)
    m.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(test), p)
    # The trap: the same base + adapter with a fresh head scores differently.
    fresh = make_tiny(tmp_path, head="classification", seed=123)
    fresh.template_ = fresh._template()
    fresh._build()
    fresh._rt["model"].eval()
    assert not np.allclose(fresh.predict_proba(test), p, atol=1e-3)


def test_classification_head_load_refuses_a_lost_head(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    m = make_tiny(tmp_path, head="classification", epochs=1)
    m.fit(make_toy_pairs(40, seed=1), make_toy_pairs(20, seed=2))
    m.save(tmp_path / "m")
    f = tmp_path / "m" / "adapter" / "adapter_model.safetensors"
    save_file({k: v for k, v in load_file(str(f)).items() if "lora_" in k}, str(f))
    with pytest.raises(RuntimeError, match="classification head"):
        load_model(tmp_path / "m")


# ---------------------------------------------------------------------------- QLoRA
def _qlora(tmp_path: Path, **kw: object) -> LLMLoRAClassifier:
    folder = make_tiny_llama_4bit(tmp_path / "tiny4")
    return LLMLoRAClassifier(backbone=str(folder), **{**TINY_TRAIN, "load_in": "4bit", **kw})


def _grads_after_backward(m: LLMLoRAClassifier, seqs: list[list[int]], y: np.ndarray) -> dict:
    model = m._rt["model"]
    model.train()
    model.zero_grad(set_to_none=True)
    m._loss(seqs, y).backward()
    return {n: p.grad for n, p in _lora_params(model).items()}


def test_qlora_every_lora_param_gets_a_gradient_after_validation(tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb

    m = _qlora(tmp_path)
    m.template_ = m._template()
    m._build()
    model = m._rt["model"]
    assert any(isinstance(x, bnb.nn.Linear4bit) for x in model.modules())
    with torch.no_grad():  # B = 0 at init would make A's gradient zero
        for n, p in _lora_params(model).items():
            if "lora_B" in n:
                p.normal_(0.0, 0.1)
    pairs = make_toy_pairs(16, seed=3)
    seqs, y = m._encode(pairs), pairs.y.astype(np.int64)
    m._valid_loss(seqs, y)  # the validation pass training makes
    assert not repacked_4bit(model)
    grads = _grads_after_backward(m, seqs, y)
    assert grads and all(g is not None and float(g.abs().sum()) > 0 for g in grads.values())

    # Control: the unguarded pass (eval mode, no grad) breaks gradients where bitsandbytes
    # repacks for its CPU kernel — the bug the guard exists for.
    layer = next(x for x in model.modules() if isinstance(x, bnb.nn.Linear4bit))
    if not getattr(layer, "support_avx512bf16_for_cpu", False):
        return
    model.eval()
    with torch.no_grad():
        m._logits(seqs)
    assert repacked_4bit(model)
    grads = _grads_after_backward(m, seqs, y)
    assert any(g is None or float(g.abs().sum()) == 0 for g in grads.values())


def test_qlora_trains_loss_falls_and_weights_change(tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    from pairlm.models.torch_utils import seed_everything

    m = _qlora(tmp_path, epochs=3)
    seed_everything(m.config.seed)  # as fit does, so the initial adapter is the same
    m.template_ = m._template()
    m._build()
    init = {n: p.detach().clone() for n, p in _lora_params(m._rt["model"]).items()}
    m = _qlora(tmp_path, epochs=3).fit(make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2))
    valid = [h["valid_loss"] for h in m.state_.history if "valid_loss" in h]
    assert min(valid[1:]) < valid[0]
    now = _lora_params(m.model_)
    assert set(now) == set(init)
    assert all(not torch.equal(now[n].detach().cpu(), init[n].cpu()) for n in init)
    p = m.predict_proba(make_toy_pairs(20, seed=4))
    assert np.isfinite(p).all()


# ---------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_and_atomic_pointer(tmp_path: Path) -> None:
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(lin.parameters(), lr=0.1)
    sched = make_scheduler(opt, "cosine", 1, 10)
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched.step()
    mgr = CheckpointManager(tmp_path)
    assert mgr.latest() is None
    mgr.save(lin, opt, sched, TrainerState(step=1, history=[{"step": 1.0, "loss": 0.5}]), None)
    mgr.save(lin, opt, sched, TrainerState(step=2), trainable_state(lin))
    last = mgr.latest()
    assert last is not None and last.name == "step-00000002"
    assert [p.name for p in tmp_path.glob("step-*")] == ["step-00000002"]
    tensors, best, blob, state = CheckpointManager.load(last)
    assert state.step == 2 and best is not None
    torch.testing.assert_close(tensors["weight"], lin.weight.detach())
    assert blob["scheduler"]["last_epoch"] == 1 and "state" in blob["optimizer"]


def test_no_dropout_train_mode_restores_everything() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))
    net.eval()
    x = torch.ones(2, 4)
    with no_dropout_train_mode(net):
        assert net.training and net[1].p == 0.0
        torch.testing.assert_close(net(x), net[0](x))
    assert not net.training and net[1].p == 0.5


# ---------------------------------------------------------------------------- options
def test_all_linear_targets_every_linear_layer(tmp_path: Path) -> None:
    m = make_tiny(tmp_path, target_modules="all-linear")
    m.template_ = m._template()
    m._build()
    adapted = {n.split(".")[-1] for n, x in m._rt["model"].named_modules() if hasattr(x, "lora_A")}
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= adapted


def test_gradient_checkpointing_gives_the_same_adapter(tmp_path: Path) -> None:
    train, valid = make_toy_pairs(32, seed=1), make_toy_pairs(20, seed=2)
    kw = {"epochs": 1, "max_steps": 3}
    plain = make_tiny(tmp_path, **kw).fit(train, valid)
    ckpt = make_tiny(tmp_path, gradient_checkpointing=True, **kw).fit(train, valid)
    assert ckpt.model_.get_base_model().is_activation_checkpointing
    assert not plain.model_.get_base_model().is_activation_checkpointing
    a, b = trainable_state(plain.model_), trainable_state(ckpt.model_)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5)


def test_generative_training_takes_the_answer_head_shortcut(
    fitted_generative: LLMLoRAClassifier,
) -> None:
    """On a LLaMA-type model the shortcut reproduces the logits, so training used it."""
    from pairlm.models.llm.scoring import AnswerHead

    assert isinstance(fitted_generative._rt.get("answer_head"), AnswerHead)


def test_top_layers_adapts_only_the_upper_layers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top_layers"):
        LoRAConfig(top_layers=0)
    m = make_tiny(tmp_path, top_layers=1)
    m.template_ = m._template()
    m._build()
    n_layers = m._rt["model"].get_base_model().config.num_hidden_layers
    adapted = {
        int(n.split(".layers.")[1].split(".")[0])
        for n, x in m._rt["model"].named_modules()
        if hasattr(x, "lora_A") and ".layers." in n
    }
    assert n_layers >= 2 and adapted == {n_layers - 1}
    everything = make_tiny(tmp_path, top_layers=99)  # more than the model has: every layer
    everything.template_ = everything._template()
    everything._build()
    assert (
        len([x for x in everything._rt["model"].modules() if hasattr(x, "lora_A")]) == 2 * n_layers
    )


def test_top_layers_with_all_linear_adapts_every_linear_of_the_upper_layers(
    tmp_path: Path,
) -> None:
    """peft refuses "all-linear" with layers_to_transform; pairlm names the modules itself."""
    m = make_tiny(tmp_path, top_layers=1, target_modules="all-linear")
    m.template_ = m._template()
    m._build()
    n_layers = m._rt["model"].get_base_model().config.num_hidden_layers
    adapted = [n for n, x in m._rt["model"].named_modules() if hasattr(x, "lora_A")]
    assert {int(n.split(".layers.")[1].split(".")[0]) for n in adapted} == {n_layers - 1}
    leaves = {n.rsplit(".", 1)[-1] for n in adapted}
    assert {"q_proj", "v_proj", "o_proj", "down_proj"} <= leaves and "lm_head" not in leaves


def test_generative_scoring_agrees_with_the_prompt_scorer(
    fitted_generative: LLMLoRAClassifier,
) -> None:
    """Scoring through the answer-row shortcut gives the untuned scorer's P(match)."""
    from pairlm.models.llm.scoring import PromptScorer, p_match

    m = fitted_generative
    test = make_toy_pairs(16, seed=8)
    scorer = PromptScorer(m.model_, m._rt["tokenizer"], m._rt["answers"], batch_size=4)
    ref = p_match(scorer.score(m._parts(test)))
    np.testing.assert_allclose(m.predict_proba(test), ref, atol=1e-4)


def test_short_template_renders_fewer_tokens(tmp_path: Path) -> None:
    long, short = make_tiny(tmp_path), make_tiny(tmp_path, template="short")
    pairs = make_toy_pairs(8, seed=3)
    lens = []
    for m in (long, short):
        m.template_ = m._template()
        m._build()
        lens.append(sum(len(s) for s in m._encode(pairs)))
    assert lens[1] < lens[0]


def test_checkpoint_fingerprint_hashes_the_texts_and_finds_earlier_checkpoints(
    tmp_path: Path,
) -> None:
    """Same ids and labels with other texts is another training; a checkpoint written under
    the earlier fingerprint (no texts) is moved to the current one and resumed, not redone."""
    from pairlm.models.base import training_fingerprint

    train, valid = make_toy_pairs(32, seed=1), make_toy_pairs(16, seed=2)
    ck = tmp_path / "ck"
    first = make_tiny(tmp_path, epochs=1, checkpoint_dir=str(ck)).fit(train, valid)
    (only,) = [d for d in ck.iterdir()]
    cfg = first.config
    assert only.name == training_fingerprint(cfg, train, valid, extra="1")
    other = train.subset(np.arange(len(train)))
    other.text_a[0] = other.text_a[0] + " changed"
    assert training_fingerprint(cfg, other, valid, extra="1") != only.name
    legacy = ck / training_fingerprint(cfg, train, valid, extra="1", texts=False)
    only.rename(legacy)
    again = make_tiny(tmp_path, epochs=1, checkpoint_dir=str(ck)).fit(train, valid)
    assert [d.name for d in ck.iterdir()] == [only.name] and not legacy.exists()
    assert again.resumed_step_ == first.state_.step > 0


def test_shipped_cpu_config_is_the_measured_run() -> None:
    """configs/smollm2-lora-cpu.toml is a valid `llm-lora` config equal to the qqp-cv run
    `smollm2-lora-full-al16-sym` whose figures the README reports (less its checkpoint folder)."""
    import tomllib

    from pairlm.configfile import load_config_file

    root = Path(__file__).resolve().parents[3]
    shipped = load_config_file(root / "configs" / "smollm2-lora-cpu.toml")
    cfg = LoRAConfig.from_dict(shipped)
    assert cfg.target_modules == "all-linear" and cfg.top_layers == 15 and cfg.symmetric
    experiment = tomllib.loads((root / "experiments" / "qqp-cv.toml").read_text())
    (run,) = [r for r in experiment["runs"] if r["name"] == "smollm2-lora-full-al16-sym"]
    measured = {k: v for k, v in run["config"].items() if k != "checkpoint_dir"}
    assert shipped == measured
