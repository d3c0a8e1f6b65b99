"""Writing small ONNX graphs built in tests (opset 13, IR 8, checked) to files."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper


def save_graph(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
