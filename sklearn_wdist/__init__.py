"""Learned distributional embeddings of sequences, compared with Wasserstein distances."""

__version__ = "0.1.0.dev0"
