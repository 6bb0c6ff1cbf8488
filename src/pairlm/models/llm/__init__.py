"""Causal LLMs for pair classification: backbones, prompts, fast yes/no scoring, prompting.

- `backbone`: load any HF causal LM or the packaged SmolLM2 (GGUF converted once, cached).
- `prompts`: templates (built-in and from files), delimiting, demonstrations, the verbaliser.
- `scoring`: one forward pass per batch at the last position, shared-prefix KV cache,
  multi-token answers, contextual calibration; training helpers (`collate`, `answer_loss`).
- `prompting`: the `llm-zeroshot` and `llm-fewshot` families.

Importing this package does not import torch; the submodules do.
"""
