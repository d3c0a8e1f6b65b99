"""TensorRT: a verified plan (rswap.engines) run with cuda-python.

Memory: one device buffer per I/O tensor, sized for the profile's largest batch, and
pinned host buffers for the copies; their addresses are bound once with
set_tensor_address. A call sets the input shapes, copies in, enqueues
execute_async_v3 on our stream, copies out, and synchronises. With CUDA graphs the
copies and the enqueue are captured once per batch size and replayed as one launch
(TensorRT needs one ordinary enqueue per new shape before a capture). With torch
installed, `run_device` binds torch CUDA tensors directly: no host round trip.

Written to NVIDIA's documented TensorRT 10.x/11.x Python API (name-based tensors,
execute_async_v3); not runnable on machines without tensorrt, cuda-python and a GPU.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from rswap.engines import cuda_check, import_cudart, import_tensorrt
from rswap.errors import RswapError


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, plan: bytes, cuda_graphs: bool = True):
        trt = import_tensorrt()
        self._cudart = cudart = import_cudart()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise RswapError("TensorRT could not deserialize the engine (built for another TensorRT or GPU?)")
        self.context = self.engine.create_execution_context()
        self.stream = cuda_check(cudart.cudaStreamCreate())
        self.device = self.tensor_device = "cuda:0"  # tensor_device: where `run_device` wants its tensors
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        # Largest shapes: the profile's max for inputs, then what the context infers for outputs.
        for n in self.input_names:
            self.context.set_input_shape(n, tuple(self.engine.get_tensor_profile_shape(n, 0)[2]))
        self.max_shapes = {n: tuple(self.context.get_tensor_shape(n)) for n in names}
        self.max_batch = self.max_shapes[self.input_names[0]][0]
        self._device_ptr, self._host = {}, {}
        for n in names:
            nbytes = int(np.prod(self.max_shapes[n])) * self.dtypes[n].itemsize
            self._device_ptr[n] = cuda_check(cudart.cudaMalloc(nbytes))
            host_ptr = cuda_check(cudart.cudaMallocHost(nbytes))
            buf = (ctypes.c_byte * nbytes).from_address(int(host_ptr))
            self._host[n] = (host_ptr, np.frombuffer(buf, self.dtypes[n]).reshape(self.max_shapes[n]))
            self.context.set_tensor_address(n, int(self._device_ptr[n]))
        self.cuda_graphs = cuda_graphs
        self._graphs: dict[tuple, object] = {}  # input shapes -> instantiated graph
        self._lock = threading.Lock()  # one execution context: one call at a time (--swap-workers > 1)

    # -- host arrays in and out ------------------------------------------------------
    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            shapes = self._set_shapes({n: inputs[n].shape for n in self.input_names})
            for n in self.input_names:
                arr = np.asarray(inputs[n], self.dtypes[n])
                self._host[n][1].reshape(-1)[: arr.size] = arr.reshape(-1)
            if self.cuda_graphs:
                self._launch_graph(shapes)
            else:
                self._enqueue_with_copies(shapes)
            cuda_check(self._cudart.cudaStreamSynchronize(self.stream))
            return {n: self._host[n][1].reshape(-1)[: int(np.prod(shapes[n]))].reshape(shapes[n]).copy() for n in self.output_names}

    def _set_shapes(self, input_shapes: dict[str, tuple]) -> dict[str, tuple]:
        for n, shape in input_shapes.items():
            if shape[0] > self.max_batch:
                raise RswapError(f"batch {shape[0]} exceeds the engine's maximum {self.max_batch}")
            self.context.set_input_shape(n, tuple(shape))
        return {n: tuple(self.context.get_tensor_shape(n)) for n in self.input_names + self.output_names}

    def _nbytes(self, name: str, shape: tuple) -> int:
        return int(np.prod(shape)) * self.dtypes[name].itemsize

    def _enqueue_with_copies(self, shapes: dict[str, tuple]) -> None:
        cudart = self._cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for n in self.input_names:
            cuda_check(cudart.cudaMemcpyAsync(self._device_ptr[n], self._host[n][0], self._nbytes(n, shapes[n]), h2d, self.stream))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RswapError("TensorRT execute_async_v3 failed")
        for n in self.output_names:
            cuda_check(cudart.cudaMemcpyAsync(self._host[n][0], self._device_ptr[n], self._nbytes(n, shapes[n]), d2h, self.stream))

    def _launch_graph(self, shapes: dict[str, tuple]) -> None:
        cudart = self._cudart
        key = tuple(shapes[n] for n in self.input_names)
        if key not in self._graphs:
            self._enqueue_with_copies(shapes)  # first enqueue for this shape, outside the capture
            cuda_check(cudart.cudaStreamSynchronize(self.stream))
            mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
            cuda_check(cudart.cudaStreamBeginCapture(self.stream, mode))
            self._enqueue_with_copies(shapes)
            graph = cuda_check(cudart.cudaStreamEndCapture(self.stream))
            self._graphs[key] = cuda_check(cudart.cudaGraphInstantiate(graph, 0))
            cuda_check(cudart.cudaGraphDestroy(graph))
        cuda_check(cudart.cudaGraphLaunch(self._graphs[key], self.stream))

    # -- torch CUDA tensors in and out (no host copies) ----------------------------------
    def run_device(self, inputs: dict) -> dict:
        with self._lock:
            import torch

            torch_dtype = {np.dtype("float32"): torch.float32, np.dtype("float16"): torch.float16}
            shapes = self._set_shapes({n: tuple(inputs[n].shape) for n in self.input_names})
            bound = {n: inputs[n].to(dtype=torch_dtype[self.dtypes[n]]).contiguous() for n in self.input_names}
            for n in self.output_names:
                bound[n] = torch.empty(shapes[n], dtype=torch_dtype[self.dtypes[n]], device=bound[self.input_names[0]].device)
            try:
                for n, t in bound.items():
                    self.context.set_tensor_address(n, t.data_ptr())
                if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
                    raise RswapError("TensorRT execute_async_v3 failed")
            finally:  # rebind our own buffers so run() and its captured graphs stay valid
                for n in bound:
                    self.context.set_tensor_address(n, int(self._device_ptr[n]))
            return {n: bound[n] for n in self.output_names}

    def close(self) -> None:
        cudart = self._cudart
        for g in self._graphs.values():
            cudart.cudaGraphExecDestroy(g)
        for n in self._device_ptr:
            cudart.cudaFree(self._device_ptr[n])
            cudart.cudaFreeHost(self._host[n][0])
        cudart.cudaStreamDestroy(self.stream)
        self._graphs, self._device_ptr, self._host = {}, {}, {}
