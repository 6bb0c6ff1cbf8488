"""pairlm: decide whether two texts mean the same thing, and measure how well each method does it."""

from pairlm.data.pairs import PairDataset

__version__ = "0.1.0"

__all__ = ["PairDataset", "__version__"]
