"""torch: the reference implementation, and the GPU path wherever TensorRT is not installed.

fp16/bf16 cast the module's weights (the generator keeps its normalisation statistics in
fp32 by itself), channels_last helps tensor-core convolutions, CUDA graphs replay one
captured launch per batch size (static input/output tensors), torch.compile is optional.
This module is imported only when the torch backend is chosen.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from rswap.errors import RswapError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    name = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        input_names: list[str],
        output_names: list[str],
        device: str = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        cuda_graphs: bool = False,
        compile: bool = False,
    ):
        if precision not in DTYPES:
            raise RswapError(f"torch backend: unknown precision {precision!r} (fp32, fp16, bf16)")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RswapError("torch backend: CUDA was requested but torch sees no GPU")
        if cuda_graphs and not device.startswith("cuda"):
            raise RswapError("torch backend: CUDA graphs need a CUDA device")
        self.device = device
        self.dtype = DTYPES[precision]
        self.input_names, self.output_names = list(input_names), list(output_names)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.memory_format = memory_format
        self.module = module.eval().to(device=device, dtype=self.dtype, memory_format=memory_format)
        self.forward = torch.compile(self.module, mode="max-autotune-no-cudagraphs") if compile else self.module
        self.cuda_graphs = cuda_graphs
        self._graphs: dict[tuple, tuple] = {}  # input shapes -> (graph, static inputs, static output)
        self._graph_lock = threading.Lock()  # static buffers: one replay at a time (--swap-workers > 1)

    @property
    def tensor_device(self) -> str:
        """Where `run_device` wants its tensors."""
        return self.device

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        x = x.to(self.dtype) if x.is_floating_point() else x
        return x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x

    @torch.inference_mode()
    def run_device(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Tensors in, float32 tensors out, on self.device; no host copies."""
        args = [self._prepare(inputs[n]) for n in self.input_names]
        if self.cuda_graphs:
            out = self._replay(args)
        else:
            out = self.forward(*args)
        return {self.output_names[0]: out.float()}

    def _replay(self, args: list[torch.Tensor]) -> torch.Tensor:
        key = tuple(tuple(a.shape) for a in args)
        with self._graph_lock:
            if key not in self._graphs:
                self._graphs[key] = self._capture(args)
            graph, static, out = self._graphs[key]
            for s, a in zip(static, args):
                s.copy_(a)
            graph.replay()
            return out.clone()

    def _capture(self, args: list[torch.Tensor]) -> tuple:
        """One CUDA graph for these input shapes: (graph, its static inputs, its static output)."""
        static = [a.clone() for a in args]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm up outside the capture (allocator, cuDNN autotune)
                self.forward(*static)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self.forward(*static)
        return graph, static, out

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.run_device({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in inputs.items()})
        return {k: v.cpu().numpy() for k, v in out.items()}
