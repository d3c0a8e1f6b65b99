"""`rswap convert` batches: folders, jobs files, naming, resume, fault isolation, Ray.

Real clips (with audio) and images made from the astronaut photo, real worker processes,
real signals. The batch outputs are compared byte for byte with the single-file path's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from cli.main import main as rswap
from convert.batch.ledger import LEDGER_NAME, Ledger
from convert.batch.options import add_batch_arguments
from convert.batch.plan import plan_jobs
from convert.batch.run import _row_parser
from rswap.errors import RswapError
from rswap.media.images import read_image, write_image

FAST = ["--preset", "ultrafast", "--no-progress"]


def _audio(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def _media(path):
    """Every stream's packets: what a player reads. Each output's signed C2PA manifest differs
    (its own instance id, time and signature), so files are compared by their media."""
    if Path(path).suffix in (".png", ".jpg"):
        return read_image(path).tobytes()
    with av.open(str(path)) as c:
        return [(p.stream.type, bytes(p)) for p in c.demux() if p.size]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name != LEDGER_NAME)


@pytest.fixture(scope="module")
def clips_folder(tmp_path_factory, clip_with_audio, astronaut) -> Path:
    """two clips (one in a subfolder), a photo, a corrupt 'video' and a file that is no media."""
    folder = tmp_path_factory.mktemp("batch") / "clips"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(clip_with_audio, folder / "a.mp4")
    shutil.copy(clip_with_audio, folder / "sub" / "b.mp4")
    write_image(folder / "face.png", np.ascontiguousarray(astronaut[:, ::-1]))
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(1).bytes(4000))
    (folder / "notes.txt").write_text("not media")
    return folder


@pytest.fixture(scope="module")
def local_batch(clips_folder, source_png, tmp_path_factory):
    """The folder converted once by the local pool (2 workers): (out folder, exit code, stderr, report)."""
    out = tmp_path_factory.mktemp("out") / "swapped"
    report = out.parent / "report.json"
    proc = subprocess.run([sys.executable, "-m", "cli", "convert", "-s", source_png, "-t", str(clips_folder), "-o", str(out),
                           "-j", "2", "--report", str(report), *FAST], capture_output=True, text=True, timeout=300)
    return out, proc.returncode, proc.stderr, json.loads(report.read_text())


def test_folder_batch_converts_every_video_and_image_and_isolates_the_corrupt_one(local_batch, clips_folder, source_png,
                                                                                  tmp_path):
    out, code, err, report = local_batch
    assert code == 2, err
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "corrupt.mp4" in failed[0] and "not a readable video" in failed[0]
    assert err.strip().splitlines()[-1] == \
        "rswap: error: 1 of 4 jobs failed (see the lines above); 3 are finished and will not be redone"
    # relative folders and extensions kept; no partial or stray files; the text file is no job
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != LEDGER_NAME) == \
        ["a.mp4", "face.png", "sub/b.mp4"]
    assert _hidden(out) == []
    assert _audio(out / "sub" / "b.mp4") == _audio(clips_folder / "sub" / "b.mp4")
    assert {j["status"] for j in report["jobs"]} == {"done", "failed"} and report["done"] == 3
    # each job's output is exactly what the single-file path writes
    single = tmp_path / "single.mp4"
    assert rswap(["convert", "-s", source_png, "-t", str(clips_folder / "a.mp4"), "-o", str(single), *FAST]) == 0
    assert _media(single) == _media(out / "a.mp4")
    # and marked like it: signed Content Credentials and the watermark, on videos and images
    from rswap.provenance.verify import verify_file

    for name in ("a.mp4", "face.png"):
        found = verify_file(out / name)
        assert found.credentials.state == "valid" and found.credentials.made_by_rswap and found.watermark.found, name


def test_ledger_key_follows_input_bytes_and_options_not_mtimes(tmp_path, source_png, clip_with_audio):
    target = tmp_path / "t.mp4"
    shutil.copy(clip_with_audio, target)
    (job,) = _plan(["-s", source_png, "-t", str(target), "-o", str(tmp_path / "o")], tmp_path).jobs
    ledger = Ledger(tmp_path / "o")
    key, inputs = ledger.key(job)
    assert sorted(inputs) == sorted(os.path.abspath(p) for p in (source_png, target))
    os.utime(target, ns=(1, 1))  # touched, same bytes: same key (re-hashed, not trusted blindly)
    assert Ledger(tmp_path / "o").key(job)[0] == key
    data = bytearray(target.read_bytes())
    data[-10] ^= 1
    target.write_bytes(bytes(data))
    assert Ledger(tmp_path / "o").key(job)[0] != key
    changed = Ledger(tmp_path / "o")
    before = changed.key(job)[0]
    job.options["reshape"] = 0.1
    assert changed.key(job)[0] != before


def _plan(argv, tmp_path):
    from convert.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return plan_jobs(parser.parse_args(argv), _row_parser, add_batch_arguments(argparse.ArgumentParser()))


def test_naming_template_and_output_clashes(tmp_path, source_png, clips_folder):
    out = tmp_path / "o"
    plan = _plan(["-s", source_png, "-t", str(clips_folder), "-o", str(out), "--name", "{stem}_swapped{ext}"], tmp_path)
    assert sorted(str(Path(j.output).relative_to(out)) for j in plan.jobs) == \
        ["a_swapped.mp4", "corrupt_swapped.mp4", "face_swapped.png", "sub/b_swapped.mp4"]
    glob_plan = _plan(["-s", source_png, "-t", f"{clips_folder}/**/*.mp4", "-o", str(out)], tmp_path)
    assert sorted(str(Path(j.output).relative_to(out)) for j in glob_plan.jobs) == ["a.mp4", "corrupt.mp4", "sub/b.mp4"]
    with pytest.raises(RswapError, match="unknown or malformed field"):
        _plan(["-s", source_png, "-t", str(clips_folder), "-o", str(out), "--name", "{title}{ext}"], tmp_path)
    (tmp_path / "x").mkdir()
    shutil.copy(clips_folder / "a.mp4", tmp_path / "x" / "a.mp4")
    with pytest.raises(RswapError, match="two jobs would write"):
        _plan(["-s", source_png, "-t", str(clips_folder / "a.mp4"), str(tmp_path / "x" / "a.mp4"), "-o", str(out)], tmp_path)
    with pytest.raises(RswapError, match="no file matches"):
        _plan(["-s", source_png, "-t", str(clips_folder / "*.avi"), "-o", str(out)], tmp_path)


def test_jobs_file_rows_are_read_by_converts_own_options(tmp_path, source_png, clips_folder):
    out = tmp_path / "o"
    csv = tmp_path / "jobs.csv"
    csv.write_text(
        "target,source,output,face_select,keep_mouth,reshape,crf\n"
        f"{clips_folder / 'a.mp4'},{source_png} {source_png},one.mp4,all,true,0.2,\n"
        f"{clips_folder / 'face.png'},,two.png,,false,,30\n")
    jobs = _plan(["-s", source_png, "--jobs", str(csv), "-o", str(out), "--crf", "23"], tmp_path).jobs
    assert [Path(j.output).name for j in jobs] == ["one.mp4", "two.png"]
    first, second = (j.options for j in jobs)
    assert first["source"] == [source_png, source_png] and first["face_select"] == "all" and first["keep_mouth"] is True
    assert first["reshape"] == 0.2 and first["crf"] == 23  # a row's value, and the command line's where the row is empty
    assert second["source"] == [source_png] and second["face_select"] == "largest" and second["keep_mouth"] is False
    assert second["crf"] == 30
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text(json.dumps({"target": str(clips_folder / "a.mp4"), "keep_eyes": True, "color": "lct"}) + "\n")
    (job,) = _plan(["-s", source_png, "--jobs", str(jsonl), "-o", str(out)], tmp_path).jobs
    assert job.options["keep_eyes"] is True and job.options["color"] == "lct" and Path(job.output).name == "a.mp4"
    for row, words in (({"target": "x.mp4", "face_select": "nobody"}, "line 1: argument --face-select: invalid choice"),
                       ({"target": "x.mp4", "shrink": 2}, "line 1: unrecognized arguments: --shrink=2"),
                       ({"target": "x.mp4", "parallel": 2}, "line 1: 'parallel' is a batch option"),
                       ({"source": source_png}, "line 1: give exactly one target")):
        jsonl.write_text(json.dumps(row) + "\n")
        with pytest.raises(RswapError, match=words):
            _plan(["-s", source_png, "--jobs", str(jsonl), "-o", str(out)], tmp_path)


def test_jobs_file_batch_end_to_end(tmp_path, source_png, clips_folder, capsys):
    """Per-job encoder options reach the workers: the same clip at crf 0 and crf 51."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(r) + "\n" for r in (
        {"target": str(clips_folder / "a.mp4"), "output": "fine.mp4", "crf": 0},
        {"target": str(clips_folder / "a.mp4"), "output": "coarse.mp4", "crf": 51},
        {"target": str(clips_folder / "face.png"), "output": "img/face.jpg"})))
    out = tmp_path / "o"
    assert rswap(["convert", "-s", source_png, "--jobs", str(jobs), "-o", str(out), "-j", "1", *FAST]) == 0
    assert (out / "fine.mp4").stat().st_size > 4 * (out / "coarse.mp4").stat().st_size
    assert (out / "img" / "face.jpg").is_file()
    assert len((out / LEDGER_NAME).read_text().splitlines()) == 3
    capsys.readouterr()
    args = ["convert", "-s", source_png, "--jobs", str(jobs), "-o", str(out), *FAST]
    assert rswap(args) == 0
    assert "nothing new to convert: all 3 jobs are done" in capsys.readouterr().err
    # one row's option changed: that job alone is converted again
    jobs.write_text(jobs.read_text().replace('"crf": 51', '"crf": 45'))
    report = tmp_path / "r.json"
    assert rswap([*args, "--report", str(report)]) == 0
    assert {j["output"].rsplit("/", 1)[-1]: j["status"] for j in json.loads(report.read_text())["jobs"]} == \
        {"fine.mp4": "skipped", "face.jpg": "skipped", "coarse.mp4": "done"}


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _workers(pid: int) -> list[int]:
    found = []
    for kid in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                found.append(kid)
        except OSError:
            pass
    return found


def _wait_for(condition, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture()
def three_clips(tmp_path, clip_with_audio) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(clip_with_audio, folder / f"{name}.mp4")
    return folder


def _start(source_png, folder, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "cli", "convert", "-s", source_png, "-t", str(folder), "-o", str(out),
                             "-j", "1", *FAST, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _partial(out: Path) -> list[Path]:
    return [p for p in out.glob(".*.part*")] if out.exists() else []


@pytest.mark.timeout(240)
def test_ctrl_c_keeps_finished_outputs_only_and_the_rerun_does_the_rest(tmp_path, source_png, three_clips):
    shutil.copy(three_clips / "a.mp4", three_clips / "d.mp4")  # jobs still to come when Ctrl-C lands
    out = tmp_path / "o"
    proc = _start(source_png, three_clips, out)
    # Ctrl-C when a.mp4 is finished and b.mp4 half written; on a fast machine b may still finish
    # before the batch stops (a job finishing as Ctrl-C comes is kept and recorded)
    _wait_for(lambda: (out / "a.mp4").exists() and _partial(out))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    kept = sorted(p.name for p in out.iterdir() if p.name != LEDGER_NAME)
    assert kept in (["a.mp4"], ["a.mp4", "b.mp4"]), kept  # no partial files
    assert f"stopped: {len(kept)} jobs finished and kept, {4 - len(kept)} not finished" in err
    assert len((out / LEDGER_NAME).read_text().splitlines()) == len(kept)
    assert _workers(proc.pid) == []
    report = tmp_path / "r.json"
    rerun = _start(source_png, three_clips, out, "--report", str(report))
    _, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    assert f"{len(kept)} of 4 jobs already done" in err
    jobs = {Path(j["target"]).name: j for j in json.loads(report.read_text())["jobs"]}
    assert {k: j["status"] for k, j in jobs.items()} == {k: "skipped" if k in kept else "done" for k in "a.mp4 b.mp4 c.mp4 d.mp4".split()}
    redone = [jobs[k]["swapper"] for k in sorted(jobs) if k not in kept]
    assert redone == ["built"] + ["reused"] * (len(redone) - 1)  # one worker, one swapper
    assert _media(out / "d.mp4") == _media(out / "a.mp4")  # same clip in, same result out


@pytest.mark.timeout(240)
def test_a_killed_worker_fails_only_its_job_which_is_retried(tmp_path, source_png, three_clips):
    out = tmp_path / "o"
    report = tmp_path / "r.json"
    proc = _start(source_png, three_clips, out, "--report", str(report))
    _wait_for(lambda: any(p.name.startswith(".a.") for p in _partial(out)))  # the one worker is writing a.mp4
    (worker,) = _workers(proc.pid)
    os.kill(worker, signal.SIGKILL)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "retry  " in err and "worker killed by SIGKILL" in err
    jobs = {Path(j["target"]).name: j for j in json.loads(report.read_text())["jobs"]}
    assert {k: (j["status"], j["attempts"]) for k, j in jobs.items()} == \
        {"a.mp4": ("done", 2), "b.mp4": ("done", 1), "c.mp4": ("done", 1)}
    assert jobs["a.mp4"]["pid"] != worker
    assert sorted(p.name for p in out.iterdir()) == [LEDGER_NAME, "a.mp4", "b.mp4", "c.mp4"]
    assert _media(out / "a.mp4") == _media(out / "c.mp4")


@pytest.mark.timeout(180)
def test_ray_runs_the_same_batch_to_the_same_outputs(local_batch, clips_folder, source_png, tmp_path, monkeypatch):
    if not os.environ.get("CI"):  # CI installs the extra (make setup): there a missing Ray must fail, not skip
        pytest.importorskip("ray", reason="Ray is the optional extra .[cluster]; `make setup` installs it")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a Ray runtime started by the batch itself
    local_out, *_ = local_batch
    out = tmp_path / "ray"
    report = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "cli", "convert", "-s", source_png, "-t", str(clips_folder), "-o", str(out),
                           "--cluster", "ray", "--report", str(report), *FAST], capture_output=True, text=True, timeout=170)
    assert proc.returncode == 2, proc.stderr
    jobs = json.loads(report.read_text())["jobs"]
    assert {Path(j["target"]).name: j["status"] for j in jobs} == \
        {"a.mp4": "done", "b.mp4": "done", "face.png": "done", "corrupt.mp4": "failed"}
    assert all(len(j["node"]) == 56 for j in jobs if j["status"] == "done")  # Ray node ids
    # the actors (one per CPU: 2) keep their swappers: three jobs, at most two builds
    assert sorted(j["swapper"] for j in jobs if j["status"] == "done") in (["built", "built", "reused"],
                                                                          ["built", "reused", "reused"])
    for name in ("a.mp4", "sub/b.mp4", "face.png"):
        assert _media(out / name) == _media(local_out / name), name
    assert _hidden(out) == []


def test_a_missing_or_faceless_target_fails_only_its_job_with_one_line(tmp_path, source_png, clips_folder):
    """The worker's side, in this process: each job ends in a result, never an exception."""
    from convert.batch.worker import run_job

    noface = tmp_path / "noface.png"
    write_image(noface, np.full((120, 160, 3), 90, np.uint8))
    out = tmp_path / "o"
    plan = _plan(["-s", source_png, "-t", str(tmp_path / "missing.mp4"), str(noface), str(clips_folder / "face.png"),
                  "-o", str(out)], tmp_path)
    missing, faceless, good = (run_job(j.options) for j in plan.jobs)
    assert not missing["ok"] and missing["error"] == f"target file not found: {tmp_path / 'missing.mp4'}"
    assert not faceless["ok"] and faceless["error"] == f"no face found in target image {noface}"
    assert good["ok"] and good["swapper"] == "reused" and (out / "face.png").is_file()  # built for the face-less job
    assert sorted(p.name for p in out.iterdir()) == ["face.png"]


def test_a_jobs_leftover_temporary_files_are_matched_exactly(tmp_path):
    from convert.batch.partial import partial_files

    names = [".a.abcdefgh.part.mp4", ".a.mp4.123.abcdefgh.part.mp4", ".a.mp4.x1y2z3w4.part",  # a.mp4's writers
             ".a.5.abcdefgh.part.mp4", ".a.5.mp4.77.abcdefgh.part.mp4", "a.mp4", ".a.mp4.123.abcdefgh.building"]
    for n in names:
        (tmp_path / n).touch()
    assert sorted(p.name for p in partial_files(tmp_path / "a.mp4")) == sorted(names[:3])
