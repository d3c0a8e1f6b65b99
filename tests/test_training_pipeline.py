"""prepare -> triplets -> train on made-up identities; resume exactness; DDP; per-type routing."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from training.config import CYCLE_ST, CYCLE_TS, NAIVE_ST, NAIVE_TS, SELF, VANILLA, TrainConfig

sys.path.insert(0, str(Path(__file__).parent))
from _training_data import write_identity_folders  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    from training.prepare import PrepareOptions, prepare
    from training.triplets import TripletOptions, make_triplets

    root = tmp_path_factory.mktemp("training")
    raw = write_identity_folders(root / "raw", identities=3, photos=4, size=320)
    faces = root / "faces"
    opts = PrepareOptions(min_face=40, shard_size=5)  # several shards: rows cross shard borders
    index = prepare([raw], faces, opts, workers=2, progress=False)
    triplets = root / "triplets"
    tindex = make_triplets(faces, triplets, TripletOptions(count=12, chunk=4, seed=1), workers=2, progress=False)
    return root, faces, triplets, index, tindex


def test_prepare_groups_faces_by_folder_identity(datasets):
    _, faces, _, index, _ = datasets
    assert index["identities"] == ["person_0", "person_1", "person_2"]
    assert index["count"] == 12 and len(index["shards"]) == 3
    from training.shards import ShardSet

    data = ShardSet(faces, "faces", verify=True)
    assert data.images(7).shape == (256, 256, 3)
    emb = data.meta("embeddings")
    ident = data.meta("identity")
    sims = emb @ emb.T
    same = sims[(ident[:, None] == ident[None]) & ~np.eye(len(ident), dtype=bool)]
    assert same.min() > sims[ident[:, None] != ident[None]].mean()  # embeddings tell the people apart
    assert data.meta("landmarks").shape[1:] == (478, 2)


def test_every_shard_row_is_the_face_its_file_gave(datasets):
    """pack reads each shard's rows back from the per-file results (memory: one shard); every
    row must be the crop, landmarks and embedding of the file it names, grouped by identity."""
    from training.prepare import PrepareOptions, list_jobs
    from training.shards import ShardSet

    root, faces, _, _, _ = datasets
    data = ShardSet(faces, "faces")
    ident, sources = data.meta("identity"), data.meta("source")
    assert list(ident) == sorted(ident)  # identities in order, across shard borders
    [work] = list((faces / "work").iterdir())
    results = {job.path: job.out for job in list_jobs(root / "raw", work)}
    assert PrepareOptions().max_faces_per_image == 1  # so each photo gives at most one row
    for row, source in enumerate(sources):
        with np.load(results[str(source)]) as z:
            np.testing.assert_array_equal(data.images(row), z["crops"][0])
            np.testing.assert_array_equal(data.meta("landmarks")[row], z["landmarks"][0])
            np.testing.assert_array_equal(data.meta("embeddings")[row], z["embeddings"][0])


def test_prepare_resumes_without_redoing_work(datasets):
    from training.prepare import PrepareOptions, prepare

    root, faces, _, index, _ = datasets
    work_files = sorted(faces.glob("work/*/*.npz"))
    stamps = [p.stat().st_mtime_ns for p in work_files]
    again = prepare([root / "raw"], faces, PrepareOptions(min_face=40, shard_size=5), workers=1, progress=False)
    assert again["count"] == index["count"] and again["stats"] == {}  # nothing re-processed
    assert [p.stat().st_mtime_ns for p in work_files] == stamps


def test_triplets_pass_the_identity_check(datasets):
    _, faces, triplets, _, tindex = datasets
    from training.shards import ShardSet

    assert 0 < tindex["count"] <= 12
    t = ShardSet(triplets, "triplets", verify=True)
    ids = t.meta("identities")
    assert (ids[:, 0] != ids[:, 1]).all()
    a, b, c_ab, c_ba = t.images(0).astype(np.float32)
    # C_ab keeps b's frame outside the face and changes the face: closer to b than to a overall
    assert np.abs(c_ab - b).mean() < np.abs(c_ab - a).mean()
    assert np.abs(c_ab - b).mean() > 1.0
    from rswap.provenance.watermark import detect

    real_a, real_b, syn_ab, syn_ba = t.images(0)  # the synthetic crops carry rswap's mark, the real ones do not
    assert detect([syn_ab]).found and detect([syn_ba]).found
    assert not detect([real_a]).found and not detect([real_b]).found


def _cfg(datasets, out, **kw):
    _, faces, triplets, _, _ = datasets
    base = dict(faces=str(faces), triplets=str(triplets), out=str(out), generator="tiny", batch_size=4,
                workers=0, precision="fp32", log_every=5, sample_every=10, ckpt_every=1000, d_width=16,
                lr_g=1e-3, lr_d=1e-3, rate_self=0.5, rate_cycle=0.3, rate_naive=0.1, device="cpu")
    return TrainConfig(**(base | kw))


@pytest.mark.parametrize("device, precision", [
    ("cpu", "fp32"),
    # the GPU path as users run it: bf16 autocast, pinned-memory batches
    pytest.param("cuda", "bf16", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")),
])
def test_train_30_steps_losses_finite_and_reconstruction_falls(datasets, tmp_path, device, precision):
    from training.train import train

    torch.set_num_threads(2)
    result = train(_cfg(datasets, tmp_path / "run", steps=30, device=device, precision=precision))
    history = result["history"]
    assert result["step"] == 30 and len(history) == 30
    assert all(np.isfinite(v) for h in history for v in h.values())
    rec = [h["rec"] for h in history if h["rec"] > 0]
    print("reconstruction L1, first and last 5 steps:", np.round(rec[:5], 3), np.round(rec[-5:], 3))
    assert np.mean(rec[-5:]) < 0.7 * np.mean(rec[:5]), rec
    assert (tmp_path / "run" / "checkpoint.safetensors").is_file()
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))
    from rswap.models.checkpoint import load_generator

    model, config = load_generator(tmp_path / "run" / "generator_ema.safetensors")
    assert config.name == "tiny" and config.id_dim == 128 and config.identity_encoder == "dlib_resnet128"
    # a GPU run's weights load anywhere
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in model.parameters())


def test_resume_gives_bit_identical_next_step(datasets, tmp_path):
    from training.train import train

    straight = train(_cfg(datasets, tmp_path / "straight", steps=4))  # 3 steps per epoch: crosses an epoch
    interrupted = _cfg(datasets, tmp_path / "resumed", steps=4)
    train(interrupted, stop_after=2)
    resumed = train(interrupted)
    assert resumed["history"][0] == straight["history"][2]
    assert resumed["history"][1] == straight["history"][3]


def test_resume_refuses_checkpoint_of_another_config(datasets, tmp_path):
    from rswap.errors import RswapError
    from training.train import train

    train(_cfg(datasets, tmp_path / "run", steps=1))
    with pytest.raises(RswapError, match="another generator config"):
        train(_cfg(datasets, tmp_path / "run", steps=2, generator="live"))


def test_ddp_two_gloo_processes_keep_replicas_identical(datasets, tmp_path):
    _, faces, triplets, _, _ = datasets
    env = os.environ | {"OMP_NUM_THREADS": "1", "GLOG_minloglevel": "2"}
    # --standalone: torchrun finds its own free rendezvous port (no probe-then-bind race)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "training", "--faces", str(faces), "--triplets", str(triplets), "--out", str(tmp_path / "ddp"),
           "--generator", "tiny", "--batch-size", "2", "--steps", "3", "--workers", "0", "--precision", "fp32",
           "--d-width", "16", "--device", "cpu", "--rate-cycle", "0.4"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ddp: 2 replicas identical" in proc.stdout
    assert (tmp_path / "ddp" / "checkpoint.safetensors").is_file()
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["batch_size"] == 2


def test_each_type_routes_the_right_tensors(datasets):
    from training.examples import SwapExamples
    from training.losses import generator_losses
    from training.shards import ShardSet

    _, faces, triplets, _, _ = datasets
    cfg = _cfg(datasets, "unused", rate_self=0.3, rate_cycle=0.4, rate_naive=0.2)
    data = SwapExamples(cfg, 64)
    trip = ShardSet(triplets, "triplets")
    seen = {}
    for i in range(len(data)):
        for epoch in range(8):
            data.set_epoch(epoch)
            ex = data[i]
            seen.setdefault(int(ex["type"]), ex)
    assert set(seen) == {VANILLA, SELF, NAIVE_ST, NAIVE_TS, CYCLE_ST, CYCLE_TS}

    def rows_of(ex):  # which triplet row and which of (a, b, C_ab, C_ba) each tensor is
        found = {}
        for r in range(len(trip)):
            imgs = [data._tensor(x) for x in trip.images(r)]
            for key in ("source", "target", "gamma"):
                for j, name in enumerate(("a", "b", "C_ab", "C_ba")):
                    if torch.equal(ex[key], imgs[j]):
                        found[key] = name
            if len(found) == 3:
                return found
        raise AssertionError("example tensors are not from one triplet row")

    assert rows_of(seen[NAIVE_ST]) == {"source": "a", "target": "b", "gamma": "C_ab"}
    assert rows_of(seen[NAIVE_TS]) == {"source": "b", "target": "a", "gamma": "C_ba"}
    assert rows_of(seen[CYCLE_ST]) == {"source": "C_ab", "target": "C_ba", "gamma": "a"}
    assert rows_of(seen[CYCLE_TS]) == {"source": "C_ba", "target": "C_ab", "gamma": "b"}
    for t in (CYCLE_ST, CYCLE_TS):  # identity and realism are judged against the real Γ
        assert torch.equal(seen[t]["id_image"], seen[t]["gamma"]) and torch.equal(seen[t]["real"], seen[t]["gamma"])
        assert seen[t]["weight"].max() > 1.5 and seen[t]["weight"].min() == 1  # face region weighted, not cut
    for t in (NAIVE_ST, NAIVE_TS):
        assert torch.equal(seen[t]["id_image"], seen[t]["source"]) and torch.equal(seen[t]["real"], seen[t]["target"])
    assert torch.equal(seen[SELF]["source"], seen[SELF]["target"]) and torch.equal(seen[SELF]["gamma"], seen[SELF]["target"])
    assert not seen[VANILLA]["weight"].any() and not torch.equal(seen[VANILLA]["source"], seen[VANILLA]["target"])

    # losses: an output equal to Γ zeroes exactly the pixel terms of its own type
    order = [VANILLA, SELF, NAIVE_ST, NAIVE_TS, CYCLE_ST, CYCLE_TS]
    batch = {k: torch.stack([seen[t][k] for t in order]) for k in seen[SELF]}
    ident = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    feats = [[torch.zeros(6, 2, 4, 4), torch.zeros(6, 1, 4, 4)]]

    def terms(out, pick=None):
        return generator_losses(cfg, batch, out, ident, ident, [out], [batch["target"]], feats, feats)

    for t, term in ((SELF, "rec"), (NAIVE_ST, "naive"), (CYCLE_ST, "cycle")):
        wrong = batch["gamma"] + 0.5
        only = wrong.clone()
        only[order.index(t)] = batch["gamma"][order.index(t)]
        partner = {SELF: None, NAIVE_ST: NAIVE_TS, CYCLE_ST: CYCLE_TS}[t]
        if partner is not None:
            only[order.index(partner)] = batch["gamma"][order.index(partner)]
        assert terms(wrong)[term] > 0.4
        assert terms(only)[term] == 0, term  # only the routed types count
        others = {SELF: ("naive", "cycle"), NAIVE_ST: ("rec", "cycle"), CYCLE_ST: ("rec", "naive")}[t]
        for o in others:
            assert terms(only)[o] > 0.4
    # cycle identity looks at types 4/5 only; the vanilla identity at all
    bad = ident.clone()
    bad[order.index(VANILLA)] = -bad[order.index(VANILLA)]
    out = generator_losses(cfg, batch, batch["gamma"], bad, ident, [batch["gamma"]], [batch["target"]], feats, feats)
    assert abs(out["cycle_id"]) < 1e-6 and out["id"] > 0.3


def test_fixernet_trains_and_extends_the_identity_vector(datasets, tmp_path):
    from rswap.models.checkpoint import load_generator
    from training.fixer import train_fixer
    from training.train import train

    _, faces, _, _, _ = datasets
    losses = train_fixer(str(faces), str(tmp_path / "fixer.safetensors"), steps=12, batch_size=6, dim=32, device="cpu")
    assert np.isfinite(losses).all() and np.mean(losses[-3:]) < np.mean(losses[:3])
    result = train(_cfg(datasets, tmp_path / "run", steps=2, fixer=str(tmp_path / "fixer.safetensors")))
    assert "fixer" in result and np.isfinite(result["fixer"])
    _, config = load_generator(tmp_path / "run" / "generator_ema.safetensors")
    assert (config.id_dim, config.fixer_dim) == (128 + 32, 32)
    # the FixerNet travels in the generator file, so `rswap build` exports the identity training used
    from rswap.models.checkpoint import load_identity_parts
    from rswap.models.identity_encoders import load_fixernet

    stored, digest = load_identity_parts(tmp_path / "run" / "generator_ema.safetensors")
    trained = load_fixernet(tmp_path / "fixer.safetensors")
    assert digest == "" and stored.state_dict().keys() == trained.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(stored.state_dict().values(), trained.state_dict().values()))


def test_prepare_video_dedups_frames_and_clusters_people(tmp_path):
    """A video at the input root: repeated frames are dropped, its two people become two identities."""
    import cv2

    from _training_data import augment, identity_image
    from rswap.media.video import VideoWriter
    from training.prepare import PrepareOptions, prepare

    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    raw.mkdir()
    shots = [identity_image(0), identity_image(4)]
    with VideoWriter(raw / "interview.mp4", fps=10, size=(320, 320)) as writer:
        for person in (0, 1):
            for still in range(3):  # three still shots per person, each held for 3 frames
                frame = cv2.resize(augment(shots[person], rng), (320, 320), interpolation=cv2.INTER_AREA)
                for _ in range(3):
                    writer.write(frame)
    # made-up people are closer to each other under dlib (cosine ~0.95) than real ones: stricter clustering
    opts = PrepareOptions(min_face=40, video_stride=1, dedup=3.0, min_per_identity=2, cluster_threshold=0.98)
    index = prepare([raw], tmp_path / "faces", opts, workers=1, progress=False)
    assert index["stats"]["duplicate"] >= 10  # 18 frames, 6 distinct shots
    assert index["identities"] == ["interview#0", "interview#1"]
    assert index["count"] <= 8


def test_sigterm_during_training_keeps_the_last_checkpoint_whole(datasets, tmp_path):
    """`rswap train` stopped by SIGTERM (what a scheduler sends): exit 143, one line saying the
    checkpoints are kept, no temporary file in the run folder, the checkpoint whole (resuming
    from one is test_resume_gives_bit_identical_next_step)."""
    import signal

    from rswap.models.checkpoint import read_tensors

    _, faces, triplets, _, _ = datasets
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "cli", "train", "--faces", str(faces), "--triplets", str(triplets), "--out", str(run),
           "--generator", "tiny", "--batch-size", "4", "--steps", "100000", "--ckpt-every", "1", "--workers", "0",
           "--precision", "fp32", "--d-width", "16", "--device", "cpu"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (run / "checkpoint.safetensors").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:] if proc.poll() else "timeout"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1].strip().splitlines()
    assert proc.returncode == 143, err
    assert err[-1].startswith("rswap: interrupted by SIGTERM") and "checkpoints saved so far are kept" in err[-1], err
    assert not [p for p in run.rglob("*") if ".part" in p.name]
    assert int(read_tensors(run / "checkpoint.safetensors")[1]["step"]) >= 1  # whole: what --resume reads
