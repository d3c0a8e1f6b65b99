"""The one inference interface every backend implements.

`run({input name: array}) -> {output name: array}`: host numpy arrays in and out,
batch on axis 0, dtypes and shapes as the model manifest states. All three backends also
offer `run_device`: torch tensors in and out on the device they compute on (`tensor_device`),
which on-device compose (rswap.swap.device_compositor) uses.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    name: str  # "tensorrt", "onnxruntime", "torch"
    device: str  # what it runs on, in words ("cpu", "cuda:0", "CUDAExecutionProvider", ...)
    tensor_device: str  # the torch device of run_device's tensors: "cuda:0", "cpu"

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def run_device(self, inputs: dict) -> dict: ...
