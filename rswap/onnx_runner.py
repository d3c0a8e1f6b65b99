"""A model file run by onnxruntime: the one backend the core library uses by itself
(bring-your-own insightface models, and learned models when no app supplies a backend).
The realtime app exposes the same class as its onnxruntime backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rswap.errors import RswapError


class OnnxRunner:
    name = "onnxruntime"
    tensor_device: str | None = None  # host arrays only; the app's onnxruntime backend adds run_device

    def __init__(self, onnx_path: str | Path, providers: list[str] | None = None, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise RswapError("onnxruntime is not installed (pip install onnxruntime)") from None
        wanted = providers or ["CPUExecutionProvider"]
        missing = [p for p in wanted if p not in ort.get_available_providers()]
        if missing:
            raise RswapError(f"onnxruntime here has no {', '.join(missing)} (available: {', '.join(ort.get_available_providers())})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # 0: onnxruntime's default (physical cores)
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(onnx_path), opts, providers=wanted)
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise RswapError(f"onnxruntime cannot load {onnx_path}: {str(e).splitlines()[0]}") from None
        self.device = self.session.get_providers()[0]
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {k: np.ascontiguousarray(v) for k, v in inputs.items()})
        return dict(zip(self.output_names, outputs))
