"""An exported graph must compute what the torch module computes: onnxruntime vs torch,
at batch 1 and at a batch > 1 (so the dynamic batch axis is exercised, not just declared)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from rswap.errors import RswapError


def max_abs_error(
    onnx_path: Path,
    reference: Callable[..., torch.Tensor],
    make_inputs: Callable[[int], dict[str, torch.Tensor]],
    batches: tuple[int, ...] = (1, 3),
) -> dict[int, float]:
    """{batch: max |onnxruntime - torch|} for random inputs from make_inputs(batch).
    (The graph itself was checked by onnx.checker in export_onnx, before it was written.)"""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    errors = {}
    for b in batches:
        inputs = make_inputs(b)
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
        with torch.no_grad():
            want = reference(*inputs.values()).float().numpy()
        if got.shape != want.shape:
            raise RswapError(f"{onnx_path}: batch {b} gives shape {got.shape}, torch gives {want.shape}")
        errors[b] = float(np.abs(got.astype(np.float32) - want).max())
    return errors


def require_close(onnx_path: Path, errors: dict[int, float], tolerance: float) -> None:
    worst = max(errors.values())
    if not np.isfinite(worst) or worst > tolerance:
        detail = ", ".join(f"batch {b}: {e:.2e}" for b, e in errors.items())
        raise RswapError(f"{onnx_path} does not match torch within {tolerance:g} ({detail})")
