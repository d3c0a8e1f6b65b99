"""What is swapped and how: the options of `rswap live`, `rswap convert` (and its jobs files)
and `rswap eval`, each with its default, choices and help text defined here once
(rswap.options turns them into flags). Cheap to import: no model, no mediapipe.

- SwapperOptions: how a swapper is built (rswap.swap.factory.make_swapper);
- FrameOptions: which swapper, which faces, and how crops are composed into frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rswap.face.select import MODES
from rswap.options import option

COLOR_METHODS = ("reinhard", "lct", "none")  # the classical swapper's colour transfer (rswap.compose.color)
# inference backends the app offers (realtime.backends.BACKENDS is keyed by these, plus auto)
BACKEND_NAMES = ("auto", "tensorrt", "onnxruntime", "torch")
PRECISIONS = ("fp32", "fp16", "bf16")
CUDA_GRAPHS = {"auto": None, "on": True, "off": False}  # flag value -> the backends' cuda_graphs
COMPOSE_ON = ("auto", "host", "device")  # rswap.swap.compositor.choose_compositor
SWAP_IN = ("auto", "thread", "process")  # where the conveyor's stages run (realtime.swap_process.choose_swap_in)


@dataclass
class SwapperOptions:
    keep_mouth: bool = option(False, "keep the target's mouth interior (teeth, tongue)")
    keep_eyes: bool = option(False, "keep the target's eyes (gaze, blinks)")
    keep_glasses: bool = option(True, "classical swapper: the frames of the target's glasses stay in front of the "
                                      "swapped face (off: swapped over, as before)")
    reshape: float = option(0.6, "classical swapper: move the target's face contour toward the source's shape",
                            metavar="0..1")
    color: str = option("reinhard", "classical swapper: colour transfer to the target's skin tone", choices=COLOR_METHODS)
    backend: str = option("auto", "learned models: inference backend (auto: the fastest available)", choices=BACKEND_NAMES)
    precision: str | None = option(None, "learned models on --backend torch: cast the generator "
                                         "(default: the precision it was built with)", choices=PRECISIONS)
    cuda_graphs: str = option("auto", "torch/tensorrt: replay each batch size's GPU work as one CUDA graph "
                                      "(auto: on when on a GPU)", choices=CUDA_GRAPHS)
    torch_compile: bool = option(False, "torch backend: torch.compile the generator (slow first frames, faster after)")
    insightface_root: str | None = option(
        None, "inswapper models: ArcFace w600k .onnx, or the insightface models folder (default ~/.insightface/models)",
        flag="--arcface", metavar="PATH")
    # Injected by the app (the core cannot import realtime.backends), not flags:
    # learned models: (manifest, backend name, **backend_options) -> runner; realtime.backends.open_backend fits
    open_backend: Callable[..., Any] | None = None
    # bring-your-own .onnx files (inswapper): (path, backend name) -> runner; realtime.backends.open_onnx fits
    open_onnx: Callable[..., Any] | None = None

    @property
    def backend_options(self) -> dict:
        """What open_backend takes besides the manifest and the backend's name."""
        return {"precision": self.precision, "compile": self.torch_compile, "cuda_graphs": CUDA_GRAPHS[self.cuda_graphs]}


@dataclass
class FrameOptions:
    model: str = option("classical", "'classical' (embedded), a built model directory, or an inswapper .onnx file",
                        metavar="SPEC")
    face_select: str = option("largest", "which target faces to swap: largest, center, all, or reference "
                                         "(match --reference photos)", choices=MODES)
    blend_levels: int = option(0, "paste back with an N-level Laplacian blend instead of a feathered mask",
                               choices=range(0, 9), metavar="0..8")
    compose_on: str = option("auto", "learned models: crop and paste faces on the host (OpenCV) or on the inference "
                                     "device, one upload and one download per frame (auto: device when the backend "
                                     "runs on a GPU)", choices=COMPOSE_ON)
    swap_workers: int | None = option(None, "threads running the swap stage side by side on successive frames, or with "
                                            "--swap-in process the child processes (default: 2 in convert; live 1 thread, "
                                            "2 processes); convert keeps every frame in order", metavar="N")
    swap_in: str = option("auto", "where the conveyor runs: 'thread': track, swap and paste in threads of this process; "
                                  "'process': all three on whole frames in child processes with their own Python lock "
                                  "(the classical swapper on host compose with mediapipe's detector only; on 2 cores "
                                  "1.1-1.25x the threads' frames a second at capacity); 'auto': process live where it "
                                  "can run, thread otherwise and in convert", choices=SWAP_IN)
    no_watermark: bool = option(False, "leave out the invisible 'synthetic by rswap' mark that every swapped frame "
                                       "otherwise carries")
