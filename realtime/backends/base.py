"""The one inference interface every backend implements.

`run({input name: array}) -> {output name: array}`: host numpy arrays in and out,
batch on axis 0, dtypes and shapes as the model manifest states. Backends that can keep
data on the GPU also offer `run_device` with torch tensors (see each backend).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    name: str  # "tensorrt", "onnxruntime", "torch"
    device: str  # what it runs on, in words ("cpu", "cuda:0", "CUDAExecutionProvider", ...)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...
