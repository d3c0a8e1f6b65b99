"""onnxruntime: CPU everywhere; TensorRT / CUDA execution providers where installed.

The backend is the core's OnnxRunner plus `run_device`: torch tensors in and out through
onnxruntime's I/O binding (inputs read in place, outputs written into tensors we
allocate), so on-device compose (rswap.swap.device_compositor) works on onnxruntime-gpu as well
as on torch and TensorRT. No torch import: only tensor methods are used.
"""

from __future__ import annotations

import numpy as np

from rswap.errors import RswapError
from rswap.onnx_runner import OnnxRunner

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def available_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


class OnnxRuntimeBackend(OnnxRunner):
    @property
    def tensor_device(self) -> str:
        """Where `run_device` wants its tensors: the GPU when a GPU provider runs the graph."""
        return "cuda:0" if self.device in GPU_PROVIDERS else "cpu"

    def run_device(self, inputs: dict) -> dict:
        """float32 torch tensors (on `tensor_device`) in, float32 tensors on the same device out."""
        first = inputs[self.input_names[0]]
        batch = first.shape[0]
        if first.device.type == "cuda":
            import torch  # already loaded by whoever made the tensors

            torch.cuda.current_stream(first.device).synchronize()  # onnxruntime runs on its own stream
        binding = self.session.io_binding()
        kept = []  # contiguous copies must outlive the run
        for name in self.input_names:
            t = inputs[name].float().contiguous()
            kept.append(t)
            binding.bind_input(name, t.device.type, t.device.index or 0, np.float32, tuple(t.shape), t.data_ptr())
        outputs = {}
        for o in self.session.get_outputs():
            if o.type != "tensor(float)":
                raise RswapError(f"onnxruntime run_device: output {o.name} is {o.type}, only float32 is supported")
            symbolic = [d for d in o.shape if not isinstance(d, int)]
            if len(symbolic) > 1:
                raise RswapError(f"onnxruntime run_device: output {o.name} {o.shape} has dynamic axes besides batch")
            shape = tuple(batch if not isinstance(d, int) else d for d in o.shape)
            out = first.new_empty(shape, dtype=kept[0].dtype)
            binding.bind_output(o.name, out.device.type, out.device.index or 0, np.float32, shape, out.data_ptr())
            outputs[o.name] = out
        self.session.run_with_iobinding(binding)  # synchronises the providers before returning
        return outputs


__all__ = ["GPU_PROVIDERS", "OnnxRuntimeBackend", "available_providers"]
