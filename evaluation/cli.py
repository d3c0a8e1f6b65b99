"""`rswap eval --sources DIR --targets DIR [--swapper SPEC ...] [--out DIR [--save-pairs]]`.

Swaps every source photo onto every target photo with each swapper, prints a
Markdown table of identity, pose, expression and defect metrics, and writes that table,
the full JSON report and contact sheets (source | target | results, worst pairs first)
to --out; --save-pairs adds a target | result crop of every pair, to judge the defect
count by eye. `--same-person a,b,c` (repeated) declares source photos of one person, so ID
top-1 counts retrieving another photo of that person as a hit (the strict figure stays).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rswap.errors import RswapError
from rswap.options import add_options, from_args
from rswap.swap.options import FrameOptions, SwapperOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sources", required=True, metavar="DIR", help="folder of source photos (one person per photo)")
    parser.add_argument("--targets", required=True, metavar="DIR", help="folder of target photos")
    parser.add_argument("--swapper", nargs="+", default=["classical"], metavar="SPEC",
                        help="one or more swappers: 'classical' or a model path (default: classical)")
    parser.add_argument("--out", metavar="DIR", help="write eval.md, eval.json and contact_sheet.png here")
    parser.add_argument("--limit", type=int, metavar="N", help="use at most the first N photos of each folder")
    parser.add_argument("--save-pairs", action="store_true",
                        help="also write target | result face crops of every pair to OUT/pairs/SWAPPER/ (to judge by eye)")
    parser.add_argument("--same-person", action="append", default=[], metavar="NAMES",
                        help="comma-separated source photos of one person (file names or stems, e.g. ljm,ljm2,ljm3); "
                             "ID top-1 counts retrieving any of them as a hit (repeat for each person; the strict "
                             "figure is reported beside it)")
    parser.add_argument("--sheet-rows", type=int, default=24, metavar="N", help="pairs shown in the contact sheet (24)")
    # the swap options live and convert have, those that apply to photos on the CPU
    add_options(parser, SwapperOptions, only=("keep_mouth", "keep_eyes", "keep_glasses", "reshape", "color"))
    add_options(parser, FrameOptions, only=("blend_levels",))


def run(args: argparse.Namespace) -> int:
    from rswap.atomic import output_folder

    if args.save_pairs and not args.out:
        raise RswapError("--save-pairs needs --out")
    if args.limit is not None and args.limit < 1:
        raise RswapError("--limit must be at least 1")
    out = Path(args.out) if args.out else None
    if out is None:
        return _run(args, None)
    with output_folder(out):  # a failed run leaves no empty folder
        return _run(args, out)


def _run(args: argparse.Namespace, out: Path | None) -> int:
    from tqdm import tqdm

    from evaluation.evaluate import (ContactSheet, evaluate, markdown_table, save_pair, save_sheet, swapper_name,
                                     write_json, write_text)
    options = from_args(SwapperOptions, args)
    sheet = ContactSheet([swapper_name(s) for s in args.swapper]) if out else None

    def on_result(record, source, target, result):
        sheet.add(record, source, target, result)
        if args.save_pairs:
            save_pair(out / "pairs", record, target, result)

    report = evaluate(
        args.sources, args.targets, args.swapper, options, limit=args.limit, blend_levels=args.blend_levels,
        on_result=on_result if sheet else None,
        progress=lambda jobs: tqdm(jobs, desc="swap+measure", unit="pair", file=sys.stderr),
        same_person=[[n.strip() for n in group.split(",") if n.strip()] for group in args.same_person],
    )
    table = markdown_table(report)
    print(table)
    if out is not None:
        write_json(out / "eval.json", report)
        write_text(out / "eval.md", table)
        if save_sheet(out / "contact_sheet.png", sheet, args.sheet_rows):
            # The next rows too: the pairs just below the worst are where the defect threshold is judged.
            save_sheet(out / "contact_sheet_next.png", sheet, args.sheet_rows, skip=args.sheet_rows)
            print(f"wrote {out / 'eval.md'}, {out / 'eval.json'}, {out / 'contact_sheet.png'} (worst pairs first), contact_sheet_next.png")
    return 0
