"""Distillation (issue 42): a fast student trained on gold pairs plus silver pairs that a
slow, accurate teacher labelled (Augmented SBERT, Thakur et al., NAACL 2021).

- `sampling`: silver pairs of the training texts (nearest neighbours, BM25, random);
- `teacher`: the teacher's fingerprint, its scores cached by pair, batched scoring (local
  or Ray);
- `family`: the `distill` model family (`DistillClassifier`, registered in
  `pairlm.models.registry`), used by `pairlm distill`, experiment files and the CV protocol.

The package sits beside `search` (whose kNN code the neighbours sampler reuses) above the
models: it may import data, models (and their Ray scoring) and search, never evaluation, experiments,
report, serve or the CLI (import contract in pyproject.toml).
"""
