"""Behavioural checks of pair models: a suite of minimum-functionality, invariance and
directional tests generated from templates and word lists that ship with pairlm (no
download), run against any fitted model (`pairlm check MODEL_DIR`)."""

from pairlm.evaluation.behaviour.suite import (
    TESTS,
    BehaviourReport,
    BehaviourResult,
    BehaviourTest,
    Case,
    generate,
    names,
    run_suite,
)

__all__ = [
    "TESTS",
    "BehaviourReport",
    "BehaviourResult",
    "BehaviourTest",
    "Case",
    "generate",
    "names",
    "run_suite",
]
