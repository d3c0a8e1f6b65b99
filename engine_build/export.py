"""torch -> ONNX with the dynamo exporter: dynamic batch, fixed everything else.

fp16 is made in torch, before export, not by rewriting the ONNX graph afterwards
(onnxconverter-common's convert_float_to_float16). Why: the generator's own code says
where fp32 is needed (rswap.models.generator.instance_norm computes its statistics in
float32 whatever the activation dtype, the same rule training under autocast relies
on). Exporting the half-precision module keeps exactly those Casts. An ONNX-level
converter only sees op types: the normalisation is decomposed into ReduceMean/Pow/Sqrt,
which a block list cannot tell apart from the rest of the graph. The wrapper below casts
inputs to fp16 and the output back to fp32, so the graph's I/O stays fp32 (what
TensorRT 11's strongly typed build and every caller expect).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from engine_build.tensorrt_ops import check_tensorrt_ops
from rswap.atomic import atomic_path
from rswap.errors import RswapError
from rswap.interrupts import raise_if_interrupted

OPSET = 18  # the dynamo exporter's floor; TensorRT 10.0+ parses it


class HalfInside(nn.Module):
    """fp32 in, fp16 network, fp32 out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = copy.deepcopy(model).half()  # the caller's fp32 model stays the reference

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(*(x.half() for x in inputs)).float()


def export_onnx(
    model: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    path: str | os.PathLike,
    max_batch: int = 64,
    tensorrt: bool = True,
) -> onnx.ModelProto:
    """Export `model` with axis 0 of every input dynamic (1..max_batch); write `path` atomically.

    `tensorrt`: the graph must parse in TensorRT (op allowlist and opset checked). Only a
    graph that is never built into an engine may say False."""
    model = model.eval()
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    noise = io.StringIO()
    try:
        # The exporter prints progress lines on stdout; the build CLI reports its own.
        # It also logs a warning per torchvision op it cannot register; we use none of them.
        logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
        with contextlib.redirect_stdout(noise), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", (UserWarning, FutureWarning))
            program = torch.onnx.export(
                model,
                example_inputs,
                dynamo=True,
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=_dynamic_batch(model, len(input_names), batch),
                opset_version=OPSET,
                optimize=True,
                verify=False,
            )
    except Exception as e:  # the exporter raises many types; the user needs the first line
        raise_if_interrupted()  # it wraps a Ctrl-C/SIGTERM into its own error ...
        raise RswapError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    raise_if_interrupted()  # ... or retries with its next capture strategy and succeeds
    proto = program.model_proto
    if tensorrt:
        check_tensorrt_ops(proto, "exported graph")
    onnx.checker.check_model(proto, full_check=True)
    _save_atomic(proto, Path(path))
    return proto


def _dynamic_batch(model: nn.Module, n_inputs: int, batch) -> tuple:
    """Axis 0 of every input is `batch`. The spec mirrors forward()'s signature: one entry
    per parameter, or one tuple for a `*inputs` parameter (HalfInside)."""
    import inspect

    per_input = tuple({0: batch} for _ in range(n_inputs))
    params = list(inspect.signature(model.forward).parameters.values())
    if len(params) == 1 and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return (per_input,)
    return per_input


def _save_atomic(proto: onnx.ModelProto, path: Path) -> None:
    with atomic_path(path, make_parents=True) as tmp:
        onnx.save_model(proto, str(tmp))


def io_dtypes(proto: onnx.ModelProto) -> dict[str, str]:
    """name -> numpy dtype name of every graph input and output."""
    out = {}
    for v in list(proto.graph.input) + list(proto.graph.output):
        out[v.name] = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
    return out
