"""The two kinds of link between stages, one per mode.

- `LatestSlot` (live): holds at most one frame. A put while a frame is waiting
  replaces it and counts a drop, so a slow consumer always gets the newest frame
  and nothing piles up: latency cannot grow with time. A producer may wait until its
  frame has been taken (`wait_taken`) before it starts on the next: the live conveyor's
  stages do, so that a frame is dropped before work is spent on it, not after.
- `OrderedQueue` (convert): a bounded FIFO. A put on a full queue waits (back
  pressure reaches the source), so every frame comes out, in order.

Both are closed with `close()`: the consumer then gets what is left followed by
`END`. Waits poll a stop event so that a shutdown never hangs on a full queue.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from realtime.packet import END

_POLL_S = 0.05


class _Link:
    def __init__(self, name: str):
        self.name = name
        self.dropped = 0  # stays 0 for ordered links: kept so both kinds read the same
        self._closed = False
        self._cond = threading.Condition()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class LatestSlot(_Link):
    def __init__(self, name: str = ""):
        super().__init__(name)
        self._item = None
        self.taken_at = 0.0  # perf_counter time of the last get that took a frame

    def put(self, item, stop: threading.Event | None = None) -> bool:
        with self._cond:
            if self._closed:
                return False
            if self._item is not None:
                self.dropped += 1  # the waiting frame is stale: the consumer will never see it
            self._item = item
            self._cond.notify_all()  # the consumer, and not a worker waiting for the slot to empty alone
            return True

    def wait_taken(self, stop: threading.Event) -> None:
        """Until the waiting frame (if any) has been taken, the slot closed or `stop` set."""
        with self._cond:
            while self._item is not None and not self._closed and not stop.is_set():
                self._cond.wait(_POLL_S)

    def get(self, timeout: float | None = None):
        """The newest item, END once closed and empty, or None on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._item is not None or self._closed, timeout):
                return None
            if self._item is not None:
                item, self._item = self._item, None
                self.taken_at = time.perf_counter()
                self._cond.notify_all()  # a producer may be waiting for the slot to empty (wait_taken)
                return item
            return END


class OrderedQueue(_Link):
    def __init__(self, name: str = "", maxsize: int = 4):
        super().__init__(name)
        self._items: deque = deque()
        self._maxsize = maxsize

    def put(self, item, stop: threading.Event | None = None) -> bool:
        """Wait for room; False if the queue was closed or `stop` was set meanwhile."""
        with self._cond:
            while len(self._items) >= self._maxsize and not self._closed:
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(_POLL_S)
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None):
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return END


def make_link(live: bool, name: str, maxsize: int = 4):
    return LatestSlot(name) if live else OrderedQueue(name, maxsize)
