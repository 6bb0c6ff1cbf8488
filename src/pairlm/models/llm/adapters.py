"""Where LoRA adapters go on a decoder: the top N layers' indices, and the module names peft
takes for them ("all-linear" spelled out when only some layers are adapted)."""

from __future__ import annotations

import re
from typing import Any

import torch

from pairlm.models.base import ConfigError


def top_layer_indices(model: Any, top: int | None) -> list[int] | None:
    """Indices of the top `top` decoder layers of `model` (None: every layer)."""
    if top is None:
        return None
    n = getattr(model.config, "num_hidden_layers", None)
    if not n:
        raise ConfigError("top_layers: the backbone's config has no num_hidden_layers")
    if top >= n:
        return None
    return list(range(n - top, n))


def target_module_names(model: Any, target: list[str] | str, top: int | None) -> list[str] | str:
    """`target` as peft takes it. peft refuses "all-linear" together with
    `layers_to_transform`, so with `top_layers` it becomes the names of the linear layers
    inside the decoder layers (the LM head and a classification head are not among them)."""
    if not isinstance(target, str) or top_layer_indices(model, top) is None:
        return target
    names = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and re.search(r"\.layers\.\d+\.", name)
        }
    )
    if not names:
        raise ConfigError("target_modules: no linear layers found inside the decoder layers")
    return names
