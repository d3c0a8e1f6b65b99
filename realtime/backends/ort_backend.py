"""onnxruntime: CPU everywhere; TensorRT / CUDA execution providers where installed."""

from __future__ import annotations

from rswap.onnx_runner import OnnxRunner as OnnxRuntimeBackend

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def available_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


__all__ = ["OnnxRuntimeBackend", "GPU_PROVIDERS", "available_providers"]
