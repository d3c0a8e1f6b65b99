#!/usr/bin/env bash
# What to run when a GPU is lent (benchmarks/RESULTS.md): the CUDA tests, then the generator
# and live-pipeline benchmark on torch-CUDA. One script, so one call of the device tool does it.
#
#   bash benchmarks/gpu.sh [OUT]      (OUT: where logs and gpu.json go; default $OUT or /tmp/gpu-out)
#
# It runs under the machine's own python3 (torch with CUDA, onnx, onnxscript, OpenCV,
# scikit-image, numba). What that image lacks travels in .gpu/, made here by
# benchmarks/gpu_pack.sh (mediapipe, dlib-bin, dlib's two model files, protobuf 6; 52 MB of
# the tool's 64 MiB) and named in the tool's carry. PyAV does not fit beside them, so the one
# test that writes a video is left out. Each step has its own time limit and the next runs
# whatever the last one did, so one failure still leaves the other figures.
set -u
out=${1:-${OUT:-/tmp/gpu-out}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
if [ -f .gpu/site.tar.xz ]; then
    mkdir -p /tmp/site && tar xJf .gpu/site.tar.xz -C /tmp/site && export PYTHONPATH="/tmp/site:$PWD"
    for w in .gpu/*.whl; do [ -f "$w" ] && python3 -m zipfile -e "$w" /tmp/site; done
fi

{
    date -u; nvidia-smi -L; nproc
    python3 -c "import torch, numpy, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__, 'cv2', cv2.__version__)"
} 2>&1 | tee "$out/env.txt"

# onnxruntime here is the CPU build: its rows would time the host's cores, not the GPU
timeout 300 python3 -m cli bench backends --backends torch --preset live --batches 1 4 --iters 200 \
    --pipeline-seconds 15 --sizes 720p 1080p --source-fps 240 --json "$out/gpu.json" 2>&1 | tee "$out/bench.txt"
echo "bench exit: ${PIPESTATUS[0]}" | tee -a "$out/bench.txt"

timeout 170 python3 -m pytest -q -rs -p no:cacheprovider \
    tests/test_device_swap.py tests/test_tensor_warp.py tests/test_backends_select.py \
    'tests/test_training_pipeline.py::test_train_30_steps_losses_finite_and_reconstruction_falls[cuda-bf16]' \
    --deselect tests/test_device_swap.py::test_convert_cli_on_the_device_path 2>&1 | tee "$out/tests.txt"
echo "tests exit: ${PIPESTATUS[0]}" | tee -a "$out/tests.txt"

