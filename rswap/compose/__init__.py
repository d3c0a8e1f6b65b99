"""Composition operators: mesh-region masks, multi-band blending, colour transfer, landmark warps, paste-back."""
