"""Identity embeddings per face track: computed once per track, in the background.

Matching faces to sources by identity needs an embedding (~100 ms with dlib on a
CPU core): far too slow per frame, and too slow even once on the swap thread
(a 100 ms hitch each time someone new appears). So each new track is queued to one
background thread; until its vector is ready the face carries a zero vector, which
matches no reference, so it is simply not swapped for a few frames.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

from rswap.face.types import Face


class TrackIdentityCache:
    def __init__(self, embed: Callable[[np.ndarray, Face], np.ndarray], dim: int = 128):
        self._embed = embed
        self._pending_vector = np.zeros(dim, np.float32)
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        # One worker: the embedder is used from this thread only.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rswap-identity")
        self.computed = 0

    def annotate(self, image: np.ndarray, faces: list[Face]) -> None:
        """Set face.embedding for every tracked face (zeros while still computing)."""
        with self._lock:  # several swap workers may call at once
            # Track ids are never reused, so a track absent from this frame has ended (even if
            # the frame that ended it was dropped on the way here): forget its vector.
            current = {f.track_id for f in faces}
            for tid in [t for t in self._futures if t not in current]:
                del self._futures[tid]
            for face in faces:
                if face.track_id is None:
                    continue
                fut = self._futures.get(face.track_id)
                if fut is None:
                    fut = self._pool.submit(self._run, image.copy(), face)
                    self._futures[face.track_id] = fut
                face.embedding = fut.result() if fut.done() else self._pending_vector

    def _run(self, image: np.ndarray, face: Face) -> np.ndarray:
        vec = np.asarray(self._embed(image, face), np.float32)
        self.computed += 1
        return vec

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
