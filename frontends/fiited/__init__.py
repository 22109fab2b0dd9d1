"""FIITED: in-training embedding dimension optimisation on the native VHPI runtime.

`FiitedEmbeddingBag` / `FiitedEmbeddingBagCollection` are drop-ins for `nn.EmbeddingBag` (and a list
of them) whose rows each have their own dimension; `DimensionAdjuster` changes those dimensions every
K steps by row importance under a memory budget or a threshold.
"""
from .adjust import DimensionAdjuster
from .embedding import FiitedEmbeddingBag, FiitedEmbeddingBagCollection

__all__ = ["FiitedEmbeddingBag", "FiitedEmbeddingBagCollection", "DimensionAdjuster"]
