"""Which ONNX operators the exported graphs may contain: those TensorRT's ONNX parser
supports (onnx-tensorrt docs/operators.md, TensorRT 10.x and 11.x) that our networks need.

An allowlist, not a denylist: a new op in the graph fails the export until someone has
checked it against the parser's list and added it here. GridSample and AffineGrid are
deliberately absent: the alignment warp stays outside the network (rswap.face.align on
the host, or the realtime GPU path), so the engine is a plain conv net.
"""

from __future__ import annotations

import onnx

from rswap.errors import RswapError

# Supported by the TensorRT 10/11 ONNX parser in the default ("ai.onnx") domain.
TENSORRT_OPS = frozenset(
    """
    Abs Add AveragePool BatchNormalization Cast Ceil Clip Concat Constant ConstantOfShape Conv
    ConvTranspose Cos DepthToSpace Div Einsum Elu Equal Erf Exp Expand Flatten Floor Gather Gemm
    GlobalAveragePool GlobalMaxPool Greater HardSigmoid Identity InstanceNormalization LayerNormalization
    LeakyRelu Less Log MatMul Max MaxPool Mean Min Mul Neg Not Pad Pow PRelu Range Reciprocal
    ReduceL2 ReduceMax ReduceMean ReduceMin ReduceSum Relu Reshape Resize Shape Sigmoid Sign Sin Slice
    Softmax Softplus SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile Transpose Unsqueeze Where
    """.split()
)

# Opsets: the dynamo exporter emits >= 18; TensorRT 10.0's parser reads up to 20, 11.x up to 25.
MIN_OPSET, MAX_OPSET = 17, 20


def graph_ops(model: onnx.ModelProto) -> set[tuple[str, str]]:
    """(domain, op_type) of every node, including nodes inside local functions."""
    ops = {(n.domain or "", n.op_type) for n in model.graph.node}
    for fn in model.functions:
        ops |= {(n.domain or "", n.op_type) for n in fn.node}
    return ops


def check_tensorrt_ops(model: onnx.ModelProto, where: str = "model") -> None:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise RswapError(f"{where}: opset {opset} is outside what TensorRT 10/11 parse here ({MIN_OPSET}..{MAX_OPSET})")
    local = {(f.domain, f.name) for f in model.functions}
    bad = sorted(
        f"{d + '::' if d else ''}{op}"
        for d, op in graph_ops(model)
        if (d, op) not in local and (d not in ("", "ai.onnx") or op not in TENSORRT_OPS)
    )
    if bad:
        raise RswapError(f"{where} has operators TensorRT cannot run (or not yet checked): {', '.join(bad)}")
