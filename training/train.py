"""The trainer: one process, or one per GPU under torchrun (DDP). Reads top to bottom.

    torchrun --nproc-per-node 8 -m training --faces DATA --triplets TRIP --out runs/x

Per step: the generator swaps a batch of mixed-type examples; the discriminator takes a
hinge step on real vs swapped; the generator takes a step on the routed losses
(training/losses.py); the EMA copy follows. Rank 0 alone writes logs, samples and
checkpoints; every rank holds identical weights (DDP averages gradients).
"""

from __future__ import annotations

import json
import math
from collections import deque
import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler

from rswap.artifacts import sha256_file, write_json_atomic
from rswap.errors import RswapError
from rswap.models.checkpoint import load_state, read_tensors, save_generator, save_tensors_atomic
from rswap.models.discriminator import DiscriminatorConfig, MultiScaleDiscriminator, hinge_d_loss
from rswap.models.generator import Generator, identity_vector, preset
from rswap.models.identity_encoders import build_identity_encoder, load_fixernet
from training.config import TrainConfig
from training.examples import SwapExamples
from training.losses import generator_losses

CHECKPOINT = "checkpoint.safetensors"


class SkipSampler(torch.utils.data.Sampler):
    """The epoch's DistributedSampler order minus the first `skip` indices (mid-epoch resume)."""

    def __init__(self, sampler: DistributedSampler, skip: int):
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        return iter(list(self.sampler)[self.skip :])

    def __len__(self):
        return len(self.sampler) - self.skip


def build_models(cfg: TrainConfig, device: torch.device):
    encoder = build_identity_encoder(cfg.identity_encoder, cfg.identity_weights or None).to(device)
    fixer = load_fixernet(cfg.fixer).to(device).requires_grad_(False) if cfg.fixer else None
    id_dim = encoder.dim + (fixer.dim if fixer else 0)
    gcfg = preset(cfg.generator, id_dim=id_dim, identity_encoder=encoder.name, fixer_dim=fixer.dim if fixer else 0)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    G = Generator(gcfg).to(device)
    D = MultiScaleDiscriminator(DiscriminatorConfig(scales=cfg.d_scales, width=cfg.d_width)).to(device)
    G_ema = Generator(gcfg).to(device).requires_grad_(False)
    G_ema.load_state_dict(G.state_dict())
    return G, D, G_ema, encoder, fixer, gcfg


def identity_of(images: torch.Tensor, encoder, fixer) -> torch.Tensor:
    return identity_vector(encoder(images), fixer(images) if fixer is not None else None)


# --- checkpoints: everything a bit-exact resume needs, in one safetensors file ---


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    state = opt.state_dict()
    tensors = {f"{prefix}.{i}.{k}": v for i, s in state["state"].items() for k, v in s.items()}
    return tensors, {"param_groups": state["param_groups"], "params": sorted(state["state"])}


def load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict, info: dict) -> None:
    state = {i: {k.split(".", 2)[2]: v for k, v in tensors.items() if k.startswith(f"{prefix}.{i}.")} for i in info["params"]}
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def save_checkpoint(path: Path, step: int, cfg: TrainConfig, gcfg, G, D, G_ema, opt_g, opt_d, scaler,
                    fixer=None, identity_weights_sha256: str = "") -> None:
    tensors = {f"G.{k}": v for k, v in G.state_dict().items()}
    tensors |= {f"D.{k}": v for k, v in D.state_dict().items()}
    tensors |= {f"G_ema.{k}": v for k, v in G_ema.state_dict().items()}
    tg, ig = optimizer_tensors("opt_g", opt_g)
    td, id_ = optimizer_tensors("opt_d", opt_d)
    meta = {"format": "rswap-train-v1", "step": str(step), "config": json.dumps(cfg.to_dict()),
            "generator": json.dumps(gcfg.to_dict()), "opt_g": json.dumps(ig), "opt_d": json.dumps(id_),
            "scaler": json.dumps(scaler.state_dict() if scaler is not None else {})}
    save_tensors_atomic(path, tensors | tg | td, meta)
    # the FixerNet travels with the generator: `rswap build` exports the identity function from this file
    save_generator(path.parent / "generator_ema.safetensors", G_ema, gcfg, fixer, identity_weights_sha256)


def load_checkpoint(path: Path, gcfg, G, D, G_ema, opt_g, opt_d, scaler) -> int:
    tensors, meta = read_tensors(path, "training checkpoint")
    if meta.get("format") != "rswap-train-v1":
        raise RswapError(f"{path} is not an rswap training checkpoint")
    if json.loads(meta["generator"]) != gcfg.to_dict():
        raise RswapError(f"{path} was written by a run with another generator config; use another --out or --no-resume")

    def part(prefix):
        return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}

    for prefix, module in (("G", G), ("D", D), ("G_ema", G_ema)):
        load_state(module, part(prefix), path)
    try:
        load_optimizer("opt_g", opt_g, tensors, json.loads(meta["opt_g"]))
        load_optimizer("opt_d", opt_d, tensors, json.loads(meta["opt_d"]))
    except (ValueError, KeyError) as e:
        raise RswapError(f"{path}: optimizer state does not fit this run ({e})") from None
    if scaler is not None and json.loads(meta["scaler"]):
        scaler.load_state_dict(json.loads(meta["scaler"]))
    return int(meta["step"])


# --- the loop ---


def train(cfg: TrainConfig, stop_after: int | None = None) -> dict:
    """Train until cfg.steps (or `stop_after` more steps); returns the last step's losses."""
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if distributed:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    main = rank == 0
    out = Path(cfg.out)

    G, D, G_ema, encoder, fixer, gcfg = build_models(cfg, device)
    weights_digest = sha256_file(cfg.identity_weights) if cfg.identity_weights else ""
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None
    step = 0
    if cfg.resume and (out / CHECKPOINT).is_file():
        step = load_checkpoint(out / CHECKPOINT, gcfg, G, D, G_ema, opt_g, opt_d, scaler)
    if distributed:
        G, D = DDP(G), DDP(D)
    G_plain = G.module if distributed else G  # the modules themselves, for calls outside DDP's forward
    D_plain = D.module if distributed else D  # (the generator step must not sync D's gradients)

    data = SwapExamples(cfg, gcfg.size)
    sampler = DistributedSampler(data, world, rank, shuffle=True, seed=cfg.seed, drop_last=True)
    per_epoch = len(sampler) // cfg.batch_size
    if per_epoch == 0:
        raise RswapError(f"the dataset has {len(data)} faces: fewer than batch size {cfg.batch_size} x {world} processes")

    writer = None
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "config.json", cfg.to_dict())
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else nullcontext
    end = cfg.steps if stop_after is None else min(cfg.steps, step + stop_after)
    losses: dict = {}
    history: deque[dict] = deque(maxlen=1000)  # recent steps' losses, returned to callers and tests
    t0, logged = time.perf_counter(), step  # the speed covers the steps since the last log line

    try:
        while step < end:
            epoch, skip = divmod(step, per_epoch)
            sampler.set_epoch(epoch)
            data.set_epoch(epoch)
            loader = DataLoader(data, cfg.batch_size, sampler=SkipSampler(sampler, skip * cfg.batch_size),
                                num_workers=cfg.workers, drop_last=True, pin_memory=device.type == "cuda",
                                persistent_workers=False)
            for batch in loader:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with torch.no_grad():  # identity vectors of the sources, and of the images the output must match
                    id_in = identity_of(batch["source"], encoder, fixer)
                    id_ref = encoder(batch["id_image"])
                    fixer_ref = fixer(batch["id_image"]) if fixer is not None else None

                # the swap, once: the D step uses it detached, the G step with its graph
                with autocast():
                    fake = G(batch["target"], id_in)

                # discriminator step (hinge)
                with autocast():
                    d_loss = hinge_d_loss(D(batch["real"]), D(fake.detach()))
                opt_d.zero_grad(set_to_none=True)
                _backward_step(d_loss, D, opt_d, scaler, cfg.grad_clip)

                # generator step
                D_plain.requires_grad_(False)
                with autocast():
                    d_fake = D_plain(fake)
                    with torch.no_grad():
                        d_real = D_plain(batch["gamma"])
                        attrs_target = G_plain.attributes(batch["target"])
                    terms = generator_losses(
                        cfg, batch, fake, encoder(fake), id_ref, G_plain.attributes(fake), attrs_target,
                        d_fake, d_real, fixer(fake) if fixer is not None else None, fixer_ref,
                    )
                D_plain.requires_grad_(True)
                opt_g.zero_grad(set_to_none=True)
                _backward_step(terms["total"], G, opt_g, scaler, cfg.grad_clip)
                if scaler is not None:
                    scaler.update()
                # EMA of the generator's weights (it has no buffers). The decay warms up, so a
                # short run's EMA follows training instead of staying near the random init
                # (0.999 ** 400 = 0.67 of the init would remain after 400 steps).
                decay = min(cfg.ema, (1 + step) / (10 + step))
                with torch.no_grad():
                    for p_ema, p in zip(G_ema.parameters(), G_plain.parameters()):
                        p_ema.lerp_(p, 1 - decay)
                step += 1

                losses = {k: float(v.detach()) for k, v in terms.items()} | {"d": float(d_loss.detach())}
                history.append(losses)
                if not all(math.isfinite(v) for v in losses.values()):
                    raise RswapError(f"step {step}: a loss is not finite ({losses}); lower the learning rate or use bf16/fp32")
                if main and (step % cfg.log_every == 0 or step == end):
                    for k, v in losses.items():
                        writer.add_scalar(f"loss/{k}", v, step)
                    writer.add_scalar("identity/cosine_to_source", 1 - losses["id"], step)
                    speed = (step - logged) / max(time.perf_counter() - t0, 1e-9)
                    writer.add_scalar("speed/steps_per_s", speed, step)
                    print(f"step {step}/{end}  loss {losses['total']:.3f}  d {losses['d']:.3f}  "
                          f"id cos {1 - losses['id']:.3f}  {speed:.2f} steps/s", flush=True)
                    t0, logged = time.perf_counter(), step
                if main and (step % cfg.sample_every == 0 or step == end):
                    grid = torch.cat([batch["source"], batch["target"], fake.detach().float(), batch["gamma"]], dim=3)
                    writer.add_images("samples/source|target|swap|pixel_target", (grid[:8].clamp(-1, 1) + 1) / 2, step)
                if main and (step % cfg.ckpt_every == 0 or step == end):
                    save_checkpoint(out / CHECKPOINT, step, cfg, gcfg, G_plain, D_plain,
                                    G_ema, opt_g, opt_d, scaler, fixer, weights_digest)
                if step >= end:
                    break
    finally:  # also when a loss goes non-finite: flush what was logged
        if writer is not None:
            writer.close()
    if distributed:
        check_replicas((G_plain, D_plain), device)
        # Leave together, and drop the DDP wrappers first: their reducers hold the gloo group, and a group
        # torn down at interpreter exit instead of here aborted a rank once in a CI run (SIGABRT,
        # "terminate called without an active exception"; pytorch/pytorch#179291 describes the cause).
        dist.barrier()
        del G, D
        dist.destroy_process_group()
    return losses | {"step": step, "history": list(history)}


def check_replicas(modules, device) -> None:
    """Every rank must hold the same weights; a silent divergence would waste the run."""
    flat = torch.cat([p.detach().float().reshape(-1) for m in modules for p in m.parameters()])
    digest = torch.stack([flat.sum(), (flat * (torch.arange(len(flat), device=flat.device) % 9973)).sum()]).double()
    lo, hi = digest.clone(), digest.clone()
    dist.all_reduce(lo, dist.ReduceOp.MIN)
    dist.all_reduce(hi, dist.ReduceOp.MAX)
    if not torch.equal(lo, hi):
        raise RuntimeError(f"DDP replicas diverged: weight digests differ across ranks ({lo.tolist()} vs {hi.tolist()})")
    if dist.get_rank() == 0:
        print(f"ddp: {dist.get_world_size()} replicas identical (weight digest {hi.tolist()})", flush=True)


def _backward_step(loss, module, opt, scaler, clip) -> None:
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        scaler.step(opt)
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        opt.step()
