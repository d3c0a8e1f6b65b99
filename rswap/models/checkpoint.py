"""Generator files: safetensors weights with the GeneratorConfig embedded in the header metadata.

One file carries everything needed to rebuild the network, so a generator cannot be
loaded with the wrong architecture. A generator trained with a FixerNet also carries that
FixerNet's weights (tensors prefixed "fixer."): its identity input is made partly by that
exact network, so `rswap build` must export the same one, and a separate file could be
swapped or lost. Third-party encoder weights (ArcFace backbones: large, and under their
own licence) are not copied; their sha256 is recorded so a build can check it was given
the same file. Writes go to a temporary file in the same
directory and are renamed into place, so a crash never leaves a half-written file.
Nothing here unpickles: safetensors holds plain tensors only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from safetensors import safe_open

from rswap.atomic import atomic_path
from rswap.errors import RswapError
from rswap.models.generator import Generator, GeneratorConfig

FORMAT = "rswap-generator-v1"
FIXER_PREFIX = "fixer."


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP (`.module`) and torch.compile (`._orig_mod`) wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def save_tensors_atomic(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """save_file to a temp file beside `path`, then os.replace: all or nothing."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path, make_parents=True) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_tensors(path: str | os.PathLike, what: str = "checkpoint") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; RswapError when it is missing or not safetensors."""
    path = Path(path)
    if not path.is_file():
        raise RswapError(f"{what} not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RswapError(f"{what} {path} is not a readable safetensors file ({str(e).splitlines()[0]})") from None
    return tensors, metadata


def save_generator(
    path: str | os.PathLike,
    model: torch.nn.Module,
    config: GeneratorConfig,
    fixer: torch.nn.Module | None = None,
    identity_weights_sha256: str = "",
) -> None:
    """`fixer`: the FixerNet the identity vectors were made with (config.fixer_dim > 0);
    `identity_weights_sha256`: of the encoder weights file training loaded, if any."""
    state = dict(unwrap(model).state_dict())
    if fixer is not None:
        fixer = unwrap(fixer)
        if fixer.dim != config.fixer_dim:
            raise RswapError(f"FixerNet of {fixer.dim} dims for a generator with fixer_dim {config.fixer_dim}")
        state |= {FIXER_PREFIX + k: v for k, v in fixer.net.state_dict().items()}
    metadata = {"format": FORMAT, "config": json.dumps(config.to_dict(), sort_keys=True)}
    if identity_weights_sha256:
        metadata["identity_weights_sha256"] = identity_weights_sha256
    save_tensors_atomic(path, state, metadata)


def config_from_metadata(metadata: dict[str, str], path: str | os.PathLike) -> GeneratorConfig:
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise RswapError(f"{path} is not an rswap generator file (no {FORMAT} config in its header)")
    try:
        return GeneratorConfig.from_dict(json.loads(metadata["config"]))
    except (json.JSONDecodeError, TypeError) as e:
        raise RswapError(f"{path}: the generator config in its header is corrupt ({e})") from None


def load_generator(
    path: str | os.PathLike, expected: GeneratorConfig | None = None, device: str | torch.device = "cpu"
) -> tuple[Generator, GeneratorConfig]:
    """Rebuild the generator a file describes and load its weights (eval mode).

    `expected`: when given, the file's config must equal it (a clear error otherwise).
    """
    tensors, metadata = read_tensors(path, "generator file")
    config = config_from_metadata(metadata, path)
    if expected is not None and expected.to_dict() != config.to_dict():
        diff = {k: (v, expected.to_dict()[k]) for k, v in config.to_dict().items() if expected.to_dict()[k] != v}
        detail = ", ".join(f"{k}: file {a!r} vs expected {b!r}" for k, (a, b) in diff.items())
        raise RswapError(f"{path} was trained with another generator config ({detail})")
    model = Generator(config)
    load_state(model, {k: v for k, v in tensors.items() if not k.startswith(FIXER_PREFIX)}, path)
    return model.to(device).eval(), config


def load_identity_parts(path: str | os.PathLike) -> tuple[torch.nn.Module | None, str]:
    """(the FixerNet stored with the generator, or None; sha256 of the encoder weights training used, or "")."""
    from rswap.models.identity_encoders import FixerNet

    tensors, metadata = read_tensors(path, "generator file")
    config = config_from_metadata(metadata, path)
    fixer_state = {k[len(FIXER_PREFIX) :]: v for k, v in tensors.items() if k.startswith(FIXER_PREFIX)}
    fixer = None
    if fixer_state:
        fixer = FixerNet(config.fixer_dim)
        load_state(fixer.net, fixer_state, path)
        fixer = fixer.eval().requires_grad_(False)
    return fixer, metadata.get("identity_weights_sha256", "")


def load_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """load_state_dict(strict) that reports missing/unexpected/misshapen weights in one line."""
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    misshapen = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or misshapen:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise RswapError(f"{path} does not fit the model: " + "; ".join(parts))
    model.load_state_dict(tensors, strict=True)


__all__ = ["load_generator", "load_identity_parts", "load_state", "read_tensors", "save_generator", "save_tensors_atomic", "unwrap"]
