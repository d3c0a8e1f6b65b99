"""Offline conversion of one file: every frame, in order, original timestamps, audio copied."""

from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

from rswap.errors import NoFaceError
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.media.images import read_image, write_image
from rswap.media.video import VideoReader, VideoWriter
from rswap.swap.frame import FrameSwapper


@dataclass
class ConvertStats:
    frames: int
    swapped: int
    audio_copied: bool


def convert_image(swapper: FrameSwapper, target, output) -> None:
    image = read_image(target, "target")
    with MediapipeFaceAnalyser(max_faces=8, video=False) as analyser:
        faces = analyser.analyse(image)
    if not faces:
        raise NoFaceError(f"no face found in target image {target}")
    write_image(output, swapper.process(image, faces))


def convert_video(swapper: FrameSwapper, target, output, crf: int = 18, preset: str = "medium", progress: bool = True) -> ConvertStats:
    swapped = 0
    with VideoReader(target, "target") as reader, MediapipeFaceAnalyser(max_faces=8, video=True) as analyser:
        info = reader.info
        with VideoWriter(
            output, info.fps, (info.width, info.height), info.time_base, crf=crf, preset=preset,
            audio_from=target if info.has_audio else None,
        ) as writer:
            bar = tqdm(total=info.frames or None, unit="frame", disable=not progress, desc="convert")
            for frame in reader:
                faces = analyser.analyse(frame.image)
                jobs = swapper.swap(swapper.plan(frame.image, faces))
                swapped += bool(jobs)
                writer.write(swapper.paste(frame.image, jobs), frame.pts)
                bar.update()
            bar.close()
        return ConvertStats(writer.frames_written, swapped, info.has_audio)
