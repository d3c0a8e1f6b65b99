"""Check the eval's defect measure against pairs labelled by eye, without re-running `rswap eval`.

The labels are a JSON list kept outside git (they name photos of ../shared/data): one entry
per pair, {"set": "ev", "pair": "SOURCE__TARGET", "verdict": "clean" | "defective",
"cause": "blotch" | ... | null, "half": "tune" | "check"}, as made from the crops that
`rswap eval --save-pairs` writes (pair = their file name without ".png").

    python -m benchmarks.defect_labels swap LABELS.json CACHE --set ev=SOURCES:TARGETS [--set ...]
        swaps each labelled pair once with the classical swapper (eval's defaults) and keeps the
        full-size result, the target, the source and both faces' landmarks in CACHE (.npz), with
        the defect terms of the measure at that time;
    python -m benchmarks.defect_labels score LABELS.json CACHE
        scores the cached results with evaluation/defects.py as it is now and prints, per half
        and per set, how the measure of the swap time and the current one agree with the labels
        (precision, recall, agreement), and per cause how many broken pairs each finds.
Tune lines on the "tune" half; report the "check" half as held out (RESULTS.md, issue 10,
sixth session).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from evaluation.defects import measure_defects


def _find(folder: str, stem: str) -> Path:
    found = [p for p in Path(folder).iterdir() if p.stem == stem]
    if len(found) != 1:
        raise SystemExit(f"defect_labels: {len(found)} files named {stem}.* in {folder}")
    return found[0]


def swap(labels: list[dict], cache: Path, sets: dict[str, tuple[str, str]]) -> None:
    from evaluation.evaluate import Evaluator
    from rswap.swap.compositor import HostCompositor
    from rswap.swap.factory import SwapperOptions, make_swapper
    from rswap.swap.frame import FrameSwapper

    cache.mkdir(parents=True, exist_ok=True)
    ev, swapper = Evaluator(), make_swapper("classical", SwapperOptions())
    photos, identities = {}, {}
    try:
        for entry in labels:
            out = cache / f"{entry['set']}__{entry['pair']}.npz"
            if out.exists():
                continue
            source_name, target_name = entry["pair"].split("__")
            sp, tp = _find(sets[entry["set"]][0], source_name), _find(sets[entry["set"]][1], target_name)
            for path, what in ((sp, "source image"), (tp, "target image")):
                if path not in photos:
                    photos[path] = ev.load(path, what)
            src, tgt = photos[sp], photos[tp]
            if sp not in identities:
                identities[sp] = swapper.encode_source([src.image], [src.face])
            result = FrameSwapper(swapper, [identities[sp]], compositor=HostCompositor(0)).process(tgt.image, [tgt.face])
            then = measure_defects(result, tgt.image, tgt.face.landmarks, src.image, src.face.landmarks)
            np.savez_compressed(out, result=result, target=tgt.image, lm=tgt.face.landmarks, source=src.image,
                                slm=src.face.landmarks, then=np.array([then.score]))
            print(entry["set"], entry["pair"], f"score {then.score:.2f}", flush=True)
    finally:
        ev.close()


def _row(entries: list[dict], flagged) -> str:
    broken = [e for e in entries if e["verdict"] == "defective"]
    tp = sum(1 for e in broken if flagged(e))
    fp = sum(1 for e in entries if e["verdict"] != "defective" and flagged(e))
    clean = len(entries) - len(broken)
    return (f"| {len(entries)} | {len(broken)} | {tp + fp} | {tp} / {len(broken)} | {fp} / {clean} "
            f"| {tp / max(tp + fp, 1):.2f} | {tp / max(len(broken), 1):.2f} | {(tp + clean - fp) / max(len(entries), 1):.2f} |")


def score(labels: list[dict], cache: Path) -> None:
    now, then = {}, {}
    for entry in labels:
        z = np.load(cache / f"{entry['set']}__{entry['pair']}.npz")
        key = (entry["set"], entry["pair"])
        then[key] = float(z["then"][0])
        now[key] = measure_defects(z["result"], z["target"], z["lm"], z["source"], z["slm"]).score
    measures = {"at swap time": lambda e: then[(e["set"], e["pair"])] > 1, "now": lambda e: now[(e["set"], e["pair"])] > 1}
    print("| half, set | measure | labelled | broken | flagged | broken found | clean flagged | precision | recall | agreement |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for half in ("tune", "check", "all"):
        for which in ("all", *sorted({e["set"] for e in labels})):
            entries = [e for e in labels if half in ("all", e["half"]) and which in ("all", e["set"])]
            for name, flagged in measures.items():
                print(f"| {half}, {which} | {name} " + _row(entries, flagged))
    for half in ("tune", "check"):
        entries = [e for e in labels if e["half"] == half]
        causes = Counter(e["cause"] for e in entries if e["verdict"] == "defective")
        print(f"\n{half}: broken pairs found per cause (at swap time / now, of labelled): " + ", ".join(
            f"{c} {sum(map(measures['at swap time'], [e for e in entries if e['cause'] == c and e['verdict'] == 'defective']))}"
            f" / {sum(map(measures['now'], [e for e in entries if e['cause'] == c and e['verdict'] == 'defective']))} of {n}"
            for c, n in causes.most_common()))


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("swap", "score"):
        print(__doc__, file=sys.stderr)
        return 2
    labels, cache = json.loads(Path(argv[1]).read_text()), Path(argv[2])
    if argv[0] == "score":
        score(labels, cache)
        return 0
    sets = {}
    for k, flag in enumerate(argv):
        if flag == "--set":
            name, dirs = argv[k + 1].split("=", 1)
            sets[name] = tuple(dirs.split(":", 1))
    swap(labels, cache, sets)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
