"""Engine cache: a plan is reused only for the same ONNX, TensorRT version, GPU, precision and
profiles, and only when its bytes match the record we wrote; anything else is rebuilt."""

import json

import pytest

from rswap import engines
from rswap.engines import EngineKey, batch_profiles, load_or_build, plan_paths

KEY = EngineKey("a" * 64, "10.8.0", "8.9", "fp16", batch_profiles(4))


class Builder:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"plan #{self.calls}".encode()


def test_profiles():
    assert batch_profiles(4) == ((1, 1, 4),)
    assert batch_profiles(8, opt_batch=2) == ((1, 2, 8),)
    with pytest.raises(Exception):
        batch_profiles(0)


@pytest.mark.parametrize(
    "changed",
    [
        dict(onnx_sha256="b" * 64),
        dict(tensorrt_version="11.0.0"),
        dict(compute_capability="9.0"),
        dict(precision="fp32"),
        dict(profiles=batch_profiles(8)),
    ],
)
def test_any_key_field_change_rebuilds(tmp_path, changed):
    build = Builder()
    first, built = load_or_build(tmp_path, "generator", KEY, build, {})
    assert built and build.calls == 1
    again, built = load_or_build(tmp_path, "generator", KEY, build, {})
    assert not built and again == first and build.calls == 1  # same key: cached
    other = EngineKey(**{**KEY.__dict__, **changed})
    assert other.digest() != KEY.digest()
    data, built = load_or_build(tmp_path, "generator", other, build, {})
    assert built and build.calls == 2 and data == b"plan #2"
    # both plans live side by side; the first is still valid for its own key
    assert load_or_build(tmp_path, "generator", KEY, build, {}) == (first, False)


def test_corrupt_truncated_or_unrecorded_plans_are_rebuilt(tmp_path):
    build = Builder()
    load_or_build(tmp_path, "generator", KEY, build, {})
    plan, record = plan_paths(tmp_path, "generator", KEY)

    plan.write_bytes(plan.read_bytes()[:-1])  # truncated
    assert load_or_build(tmp_path, "generator", KEY, build, {})[1] and build.calls == 2

    rec = json.loads(record.read_text())
    rec["key"] = "0" * 64  # a record for another key
    record.write_text(json.dumps(rec))
    assert load_or_build(tmp_path, "generator", KEY, build, {})[1] and build.calls == 3

    record.write_text("{half")  # unreadable record
    assert load_or_build(tmp_path, "generator", KEY, build, {})[1] and build.calls == 4

    record.unlink()  # a plan without a record (crash between the two writes)
    assert load_or_build(tmp_path, "generator", KEY, build, {})[1] and build.calls == 5
    assert engines.read_valid_plan(tmp_path, "generator", KEY) == b"plan #5"


def test_record_describes_the_plan(tmp_path):
    load_or_build(tmp_path, "generator", KEY, Builder(), {"opt_level": 3})
    _, record = plan_paths(tmp_path, "generator", KEY)
    rec = json.loads(record.read_text())
    assert rec["tensorrt_version"] == "10.8.0" and rec["compute_capability"] == "8.9"
    assert rec["precision"] == "fp16" and rec["profiles"] == [[1, 1, 4]] and rec["build"] == {"opt_level": 3}
