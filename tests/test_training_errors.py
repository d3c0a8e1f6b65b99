"""Bad input to prepare / triplets / train ends in one clear line, never a traceback."""

import json

import numpy as np
import pytest

from cli.main import main
from rswap.errors import RswapError
from training.config import TrainConfig
from training.shards import ShardSet, write_index, write_shard


def _one_line_error(capsys, argv, pattern):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("rswap: error:"), err
    assert pattern in err, err


def _faces_dataset(path, identities, rows=4, size=32):
    rng = np.random.default_rng(0)
    meta = {
        "identity": np.array(identities, np.int32),
        "landmarks": rng.uniform(0, size, (len(identities), 478, 2)).astype(np.float32),
        "embeddings": rng.normal(size=(len(identities), 128)).astype(np.float32),
        "source": np.array([f"f{i}.jpg" for i in range(len(identities))]),
    }
    shard = write_shard(path, "faces_00000", rng.integers(0, 255, (len(identities), size, size, 3), dtype=np.uint8), meta)
    names = [f"p{k}" for k in sorted(set(identities))]
    write_index(path, {"format": "rswap-faces-v1", "size": size, "template": "ffhq256", "identities": names,
                       "count": len(identities), "shards": [shard]})
    return path


def test_prepare_empty_and_non_image_folders(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(capsys, ["prepare", "-i", str(empty), "-o", str(tmp_path / "o1"), "-j", "1"], "no images or videos")
    notes = tmp_path / "notes"
    (notes / "alice").mkdir(parents=True)
    (notes / "alice" / "readme.txt").write_text("hello")
    _one_line_error(capsys, ["prepare", "-i", str(notes), "-o", str(tmp_path / "o2"), "-j", "1"], "no images or videos")
    _one_line_error(capsys, ["prepare", "-i", str(tmp_path / "missing"), "-o", str(tmp_path / "o3" / "deeper")],
                    "input folder not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes"]  # no empty output folders left


def test_prepare_corrupt_images_only(tmp_path, capsys):
    bad = tmp_path / "bad" / "bob"
    bad.mkdir(parents=True)
    for i in range(2):
        (bad / f"{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    _one_line_error(capsys, ["prepare", "-i", str(tmp_path / "bad"), "-o", str(tmp_path / "o"), "-j", "1", "--quiet"],
                    "no usable faces")
    assert not (tmp_path / "o" / "index.json").exists()


def test_one_identity_is_refused_by_triplets_and_train(tmp_path, capsys):
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 0, 0])
    _one_line_error(capsys, ["triplets", "-d", str(faces), "-o", str(tmp_path / "t"), "-j", "1", "--quiet"], "one identity only")
    _one_line_error(capsys, ["train", "--faces", str(faces), "--out", str(tmp_path / "run"), "--generator", "tiny",
                             "--rate-cycle", "0", "--device", "cpu", "--workers", "0"], "one identity only")


def test_train_needs_triplets_for_triplet_types(tmp_path, capsys):
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    _one_line_error(capsys, ["train", "--faces", str(faces), "--out", str(tmp_path / "run"), "--generator", "tiny",
                             "--device", "cpu", "--workers", "0"], "need --triplets")


def test_not_a_dataset_and_corrupt_shards(tmp_path):
    with pytest.raises(RswapError, match="not an rswap faces dataset"):
        ShardSet(tmp_path, "faces")
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    images = faces / "faces_00000.images.npy"
    data = images.read_bytes()
    images.write_bytes(data[:-100])  # truncated
    with pytest.raises(RswapError, match="corrupt"):
        ShardSet(faces, "faces").images(0)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF  # same size, different content: only the digest notices
    images.write_bytes(bytes(flipped))
    ShardSet(faces, "faces").images(0)  # cheap open: size matches
    with pytest.raises(RswapError, match="corrupt"):
        ShardSet(faces, "faces", verify=True).verify_all()
    (faces / "index.json").write_text("{not json")
    with pytest.raises(RswapError, match="corrupt"):
        ShardSet(faces, "faces")


def test_config_file_and_flags(tmp_path, capsys):
    from training.config import add_arguments, from_args
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"batch_size": 16, "w_id": 3.0, "faces": "x"}))
    cfg = from_args(parser.parse_args(["--config", str(cfg_file), "--w-id", "7", "--no-resume"]))
    assert (cfg.batch_size, cfg.w_id, cfg.resume, cfg.faces) == (16, 7.0, False, "x")
    cfg_file.write_text(json.dumps({"bach_size": 16}))
    with pytest.raises(RswapError, match="unknown training config keys: bach_size"):
        from_args(parser.parse_args(["--config", str(cfg_file)]))
    with pytest.raises(RswapError, match="precision"):
        TrainConfig(precision="int8")


def test_bad_triplet_options_fail_before_the_pool(tmp_path, capsys):
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    base = ["triplets", "-d", str(faces), "-o", str(tmp_path / "t"), "-j", "2", "--quiet"]
    with pytest.raises(SystemExit):  # --color takes its choices from the core's table: argparse refuses it
        main(base + ["--color", "bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    from training.triplets import TripletOptions, make_triplets

    with pytest.raises(RswapError, match="unknown colour transfer 'bogus'"):  # and the API refuses it before the pool
        make_triplets(faces, tmp_path / "t", TripletOptions(color="bogus"), workers=2, progress=False)
    _one_line_error(capsys, base + ["--reshape", "2"], "reshape strength must be between 0 and 1")
    _one_line_error(capsys, base + ["--chunk", "0"], "chunk must be at least 1")


def test_triplet_chunks_are_keyed_by_the_faces_dataset(tmp_path):
    from training.triplets import TripletOptions, work_dir

    opts = TripletOptions(count=4)
    a = _faces_dataset(tmp_path / "a", [0, 0, 1, 1])
    b = _faces_dataset(tmp_path / "b", [0, 1, 1, 1])
    out = tmp_path / "t"
    assert work_dir(out, a, opts) == work_dir(out, a, opts)  # a re-run resumes
    assert work_dir(out, a, opts) != work_dir(out, b, opts)  # another dataset does not reuse chunks
    before = work_dir(out, a, opts)
    _faces_dataset(tmp_path / "a", [1, 1, 0, 0])  # the same folder rewritten with other rows
    assert work_dir(out, a, opts) != before


@pytest.mark.parametrize("flag, value, pattern", [
    ("--batch-size", "0", "batch_size must be at least 1"),
    ("--steps", "0", "steps must be at least 1"),
    ("--log-every", "0", "log_every must be at least 1"),
    ("--ema", "1.5", "ema must be in [0, 1)"),
    ("--lr-g", "0", "lr_g must be > 0"),
    ("--w-id", "-1", "w_id must be >= 0"),
])
def test_train_rejects_impossible_numbers(tmp_path, capsys, flag, value, pattern):
    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    _one_line_error(capsys, ["train", "--faces", str(faces), "--out", str(tmp_path / "run"), "--generator", "tiny",
                             "--rate-cycle", "0", "--device", "cpu", "--workers", "0", flag, value], pattern)
    assert not (tmp_path / "run").exists()


def test_fixer_zero_steps_is_one_line(tmp_path, capsys):
    from training.fixer import main as fixer_main

    faces = _faces_dataset(tmp_path / "faces", [0, 0, 1, 1])
    for flag in ("--steps", "--batch-size"):
        assert fixer_main(["--faces", str(faces), "--out", str(tmp_path / "f.safetensors"), flag, "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "must be at least 1" in err, err
    assert not (tmp_path / "f.safetensors").exists()


def test_prepare_work_files_differ_across_input_roots(tmp_path):
    from training.prepare import list_jobs

    for root in ("A", "B"):
        (tmp_path / root / "alice").mkdir(parents=True)
        (tmp_path / root / "alice" / "1.jpg").write_bytes(b"x")
    work = tmp_path / "work"
    a, b = list_jobs(tmp_path / "A", work), list_jobs(tmp_path / "B", work)
    assert a[0].identity == b[0].identity == "alice"
    assert a[0].out != b[0].out
    assert [j.out for j in list_jobs(tmp_path / "A", work)] == [j.out for j in a]  # stable: resume still finds them
