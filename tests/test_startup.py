"""What a command pays for at start: mediapipe without the modules rswap never uses."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = """
import sys
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.landmarks import FACE_OVAL
analyser = MediapipeFaceAnalyser(max_faces=1, video=True)
analyser.close()
print("pyplot ran:", "matplotlib.figure" in sys.modules, "sounddevice ran:", "_sounddevice" in sys.modules)
import matplotlib.pyplot as plt  # whoever does use pyplot later gets all of it
print("later use works:", callable(plt.figure) and "matplotlib.figure" in sys.modules)
"""


def test_face_analysis_starts_without_running_pyplot_or_sounddevice_and_a_later_user_still_gets_pyplot():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=os.environ.copy(),
                         timeout=120, check=True).stdout
    assert "pyplot ran: False sounddevice ran: False" in out, out
    assert "later use works: True" in out, out
