"""The H.264 settings every video rswap writes starts from: convert's `--crf` and `--preset`
defaults and choices, and live recordings.

x264's veryfast at CRF 16 matched its medium at CRF 18 within 0.2-0.5 dB PSNR and 5% of the
size on two 640x368 clips, in 40-55% of medium's encoding time on 2 cores, where the encoder
runs beside the swap (benchmarks/RESULTS.md, "issue 11, convert, fourth part"). At the same CRF
veryfast loses 0.9-1.6 dB: a faster preset wants a lower CRF (FaceFusion pairs its default
veryfast with CRF 10; Deep-Live-Cam encodes at medium, CRF 18).
"""

DEFAULT_CRF = 16
DEFAULT_PRESET = "veryfast"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
