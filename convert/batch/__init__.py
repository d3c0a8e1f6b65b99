"""Batch conversion: many targets in one `rswap convert`, resumable, in parallel, locally or on Ray.

    targets / jobs file --plan--> jobs --ledger--> jobs left --runner--> worker processes
                                                                   (pebble pool | Ray tasks)

- `options.py`: the batch flags, and `is_batch(args)`: when `convert` takes this path.
- `plan.py`: targets (files, folders, globs) and jobs-file rows -> `Job`s, each a full set of
  convert options parsed by convert's own argparse parser (a row is what a user would type).
- `ledger.py`: which jobs are finished (input hashes + option digest), kept in the output folder.
- `worker.py`: one job in a worker process, reusing the process's swapper across jobs.
- `local.py` / `ray_runner.py`: the two runners; `view.py`: progress, per-job lines, summary.
- `run.py`: ties them together for `convert_cli`.

Nothing here imports ray or pebble at import time: the Ray runner imports ray when chosen.
"""
