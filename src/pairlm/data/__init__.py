"""pairlm.data: pair datasets, readers with validation reports, the dataset registry."""

from pairlm.data.datasets import (
    DATASETS,
    DatasetNotFound,
    DatasetSpec,
    load_dataset,
    resolve_dataset,
)
from pairlm.data.pairs import MISSING_LABEL, PairDataset, normalize_text, stable_text_id
from pairlm.data.readers import KNOWN_FORMATS, detect_format, read_glue_dir, read_pairs
from pairlm.data.validation import DataError, ValidationReport

__all__ = [
    "DATASETS",
    "KNOWN_FORMATS",
    "MISSING_LABEL",
    "DataError",
    "DatasetNotFound",
    "DatasetSpec",
    "PairDataset",
    "ValidationReport",
    "detect_format",
    "load_dataset",
    "normalize_text",
    "read_glue_dir",
    "read_pairs",
    "resolve_dataset",
    "stable_text_id",
]
