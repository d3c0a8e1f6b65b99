"""Faces: analysis (detection + mesh), alignment, identity embeddings, selection."""

from rswap.face.types import Face

__all__ = ["Face"]
