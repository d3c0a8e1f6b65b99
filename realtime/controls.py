"""What the preview's hotkeys change, read by the swap and paste stages on every frame: state
of the live run of its own, so a pipeline stage does not import the sinks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Controls:
    """What the preview's hotkeys change; read by the stages on every frame."""

    swap: bool = True
    source_index: int = 0
    show_stats: bool = True
    mirror: bool = False
    label: bool = False  # the visible "AI-generated" badge on the output (live --label)
    quit: bool = False


HOTKEYS = {"s": "toggle swap", "n": "next source", "i": "toggle stats", "m": "mirror", "l": "AI-generated label",
           "q": "quit (also Esc)"}


def apply_key(controls: Controls, key: int, n_sources: int) -> None:
    """Change `controls` for one key code from cv2.waitKey (-1: no key)."""
    if key < 0:
        return
    ch = chr(key & 0xFF).lower()
    if ch == "s":
        controls.swap = not controls.swap
    elif ch == "n":
        controls.source_index = (controls.source_index + 1) % max(1, n_sources)
    elif ch == "i":
        controls.show_stats = not controls.show_stats
    elif ch == "m":
        controls.mirror = not controls.mirror
    elif ch == "l":
        controls.label = not controls.label
    elif ch == "q" or key & 0xFF == 27:
        controls.quit = True
