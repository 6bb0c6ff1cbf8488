"""Fast scoring on a tiny LLaMA: prefix cache exactness, padding invariance, multi-token answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pairlm.models.llm.backbone import load_backbone
from pairlm.models.llm.prompts import TEMPLATES, Demo, Verbaliser
from pairlm.models.llm.scoring import (
    AnswerHead,
    PromptScorer,
    answer_loss,
    calibrate,
    collate,
    last_logits,
    p_match,
)
from tests.models.tiny_llm_zeroshot import make_tiny_llama

PAIRS = [
    ("how do i learn python fast?", "what is the best way to learn python?"),
    ("why?", "how?"),
    ("how can i lose weight quickly on a diet?", "tips to lose weight?"),
    ("how do i cook rice perfectly in a pot?", "best way to cook rice?"),
    ("what is the best way to invest money in the stock market?", "how do i invest?"),
]
DEMOS = [
    Demo("how do i train my dog to sit?", "tips to train a puppy to sit?", 1),
    Demo("how do i grow tomatoes?", "best cheap laptop?", 0),
    Demo("how can i play guitar chords?", "guitar chords for a beginner?", 1),
    Demo("how to write a novel?", "how to travel japan on a budget?", 0),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    folder = make_tiny_llama(tmp_path_factory.mktemp("tiny") / "m")
    return load_backbone(str(folder), dtype="float32", device="cpu", shared=False)


def _answers(tok, verbaliser: Verbaliser | None = None):
    t = TEMPLATES["harness"]
    v = verbaliser or Verbaliser.from_words("no", "yes")
    return t, v, v.tokenize(tok, t.answer_context(tok))


def _full_logprob(model, ids: list[int], answer: tuple[int, ...]) -> float:
    """log P(answer | ids) by one plain forward pass over the unpadded sequence."""
    x = torch.tensor([ids + list(answer[:-1])])
    with torch.no_grad():
        lp = model(input_ids=x).logits[0].float().log_softmax(-1)
    n = len(ids)
    return float(sum(lp[n - 1 + j, t] for j, t in enumerate(answer)))


def test_backbone_tokenizer_fixes(tiny) -> None:
    assert tiny.tokenizer.padding_side == "left"
    assert tiny.tokenizer.pad_token is not None
    assert tiny.dtype == torch.float32 and tiny.model.training is False


def test_prefix_cached_equals_uncached(tiny) -> None:
    t, v, ans = _answers(tiny.tokenizer)
    parts = [t.render(a, b, DEMOS, verbaliser=v) for a, b in PAIRS]
    assert len({p.prefix for p in parts}) == 1 and parts[0].prefix
    cached = PromptScorer(tiny.model, tiny.tokenizer, ans, batch_size=3).score(parts)
    uncached = PromptScorer(
        tiny.model, tiny.tokenizer, ans, batch_size=3, use_prefix_cache=False
    ).score(parts)
    np.testing.assert_allclose(cached, uncached, atol=1e-4)
    np.testing.assert_allclose(p_match(cached), p_match(uncached), atol=1e-4)
    # The scores depend on the query (the test could not pass with a constant scorer).
    assert np.ptp(p_match(cached)) > 1e-3


def test_padding_and_batching_do_not_change_scores(tiny) -> None:
    t, v, ans = _answers(tiny.tokenizer)
    parts = [t.render(a, b, DEMOS[:2], verbaliser=v) for a, b in PAIRS]
    one = PromptScorer(tiny.model, tiny.tokenizer, ans, batch_size=1).score(parts)
    many = PromptScorer(tiny.model, tiny.tokenizer, ans, batch_size=8).score(parts)
    np.testing.assert_allclose(one, many, atol=1e-4)
    # And equal to a plain unpadded forward pass of the whole prompt.
    tok = tiny.tokenizer
    for k, p in enumerate(parts):
        ids = tok(p.prefix, add_special_tokens=False)["input_ids"]
        ids += tok(p.suffix, add_special_tokens=False)["input_ids"]
        for label in (0, 1):
            (seq,) = ans.seqs[label]
            assert one[k, label] == pytest.approx(_full_logprob(tiny.model, ids, seq), abs=1e-4)


def test_multi_token_answers_are_summed_exactly(tiny) -> None:
    tok = tiny.tokenizer
    verb = Verbaliser(((" no", " no way"), (" yes", " yes please")))
    t, v, ans = _answers(tok, verb)
    assert ans.multi_token  # " yes please" is two tokens
    parts = [t.render(a, b, DEMOS[:2], verbaliser=v) for a, b in PAIRS[:3]]
    for cache in (True, False):
        got = PromptScorer(tok_model := tiny.model, tok, ans, batch_size=2, use_prefix_cache=cache)
        scores = got.score(parts)
        for k, p in enumerate(parts):
            ids = tok(p.prefix, add_special_tokens=False)["input_ids"]
            ids += tok(p.suffix, add_special_tokens=False)["input_ids"]
            for label in (0, 1):
                want = np.logaddexp.reduce(
                    [_full_logprob(tok_model, ids, s) for s in ans.seqs[label]]
                )
                assert scores[k, label] == pytest.approx(want, abs=1e-4)


def test_calibration_divides_out_the_content_free_prior() -> None:
    scores = np.log(np.array([[0.8, 0.2], [0.6, 0.4]]))
    cf = np.log(np.array([[0.8, 0.2]]))
    out = np.exp(calibrate(scores, cf))
    np.testing.assert_allclose(out[0], [0.5, 0.5])
    assert out[1, 1] > 0.5  # less "no" than the prior → leans "yes"
    np.testing.assert_allclose(out.sum(1), 1.0)


def test_training_helpers_give_gradients(tiny) -> None:
    """The pieces a LoRA loop reuses: collate → last_logits → answer_loss, differentiable."""
    t, _, ans = _answers(tiny.tokenizer)
    tok = tiny.tokenizer
    seqs = [tok(t.render(a, b).text, add_special_tokens=False)["input_ids"] for a, b in PAIRS[:3]]
    batch = collate(seqs, tok.pad_token_id)
    logits, _ = last_logits(tiny.model, batch)
    assert logits.shape == (3, tiny.model.config.vocab_size)
    labels = torch.tensor([1, 0, 1])
    for over in ("labels", "vocab"):
        tiny.model.zero_grad()
        loss = answer_loss(
            logits if over == "labels" else last_logits(tiny.model, batch)[0],
            labels,
            ans,
            over=over,
        )
        assert torch.isfinite(loss)
        loss.backward()
        grad = tiny.model.model.layers[0].self_attn.q_proj.weight.grad
        assert grad is not None and grad.abs().sum() > 0
    with pytest.raises(ValueError):
        answer_loss(logits.detach(), labels, ans, over="nope")


def test_answer_head_gives_the_loss_and_gradients_of_the_full_logits(tiny) -> None:
    """The training shortcut (decoder body + answer rows of the head as a 2-D product) gives
    the same loss and the same parameter gradients as the model's own last-position logits."""
    t, _, ans = _answers(tiny.tokenizer)
    tok = tiny.tokenizer
    seqs = [tok(t.render(a, b).text, add_special_tokens=False)["input_ids"] for a, b in PAIRS]
    batch = collate(seqs, tok.pad_token_id)  # unequal lengths: left padding is exercised
    labels = torch.tensor([1, 0, 1, 1, 0])
    head = AnswerHead(tiny.model, ans)
    assert head.usable() and head.agrees(tiny.model, batch)
    q = tiny.model.model.layers[0].self_attn.q_proj.weight
    results = []
    for loss_fn in (
        lambda: answer_loss(last_logits(tiny.model, batch)[0], labels, ans),
        lambda: torch.nn.functional.cross_entropy(head.label_scores(batch), labels),
        lambda: answer_loss(head.logits(batch), labels, ans, over="vocab"),
        lambda: answer_loss(last_logits(tiny.model, batch)[0], labels, ans, over="vocab"),
    ):
        tiny.model.zero_grad()
        loss = loss_fn()
        loss.backward()
        results.append((float(loss), q.grad.clone()))
    for (la, ga), (lb, gb) in (results[0:2], results[2:4]):
        assert la == pytest.approx(lb, rel=1e-5)
        torch.testing.assert_close(ga, gb, rtol=1e-4, atol=1e-7)
    tiny.model.zero_grad()


def test_answer_head_refuses_a_model_whose_logits_it_cannot_reproduce(tiny) -> None:
    """A model that post-processes its logits (here: scaled) fails the check."""
    t, _, ans = _answers(tiny.tokenizer)
    tok = tiny.tokenizer
    seqs = [tok(t.render(a, b).text, add_special_tokens=False)["input_ids"] for a, b in PAIRS[:2]]
    batch = collate(seqs, tok.pad_token_id)

    class Scaled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def get_base_model(self) -> torch.nn.Module:
            return self.inner

        def forward(self, **kw):
            out = self.inner(**kw)
            out.logits = out.logits * 3.0 + 1.0
            return out

    wrapped = Scaled(tiny.model)
    assert not AnswerHead(wrapped, ans).agrees(wrapped, batch)
