"""Where the time of one `discover approx` run goes: the CLI with its phases timed.

    python benchmarks/approx_phases.py exp --dtype float32 --time-limit 5 -o /tmp/x.json
    python benchmarks/approx_phases.py sin --domain -3.14159,3.14159 --time-limit 5 -o /tmp/x.json

Wraps the job's functions with timers (task and references, baselines, the search's seeds,
the search, each verification, the result's payload and its writing), runs the command
(quiet) and prints one JSON line: seconds per phase, the number of verifications, the
wall time and the CPU's user and system seconds, with the CPU model. The command's own
output goes to stdout before it. Run it on the code to compare by putting that tree
first on PYTHONPATH (the script imports ``discover`` from there).
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.environ.get("PYTHONPATH"):   # a tree to measure, given first, wins over this one
    sys.path.insert(0, os.environ["PYTHONPATH"].split(os.pathsep)[0])

from benchmarks.machine import cpu_model  # noqa: E402


def main(argv: list[str]) -> int:
    started = time.monotonic()
    from discover.approx import job, result as approx_result, verify as verify_module
    import discover.approx_command as command
    from discover.cli import main as cli

    seconds: dict[str, float] = {}
    calls: dict[str, int] = {}

    def timed(module, name: str, phase: str) -> None:
        fn = getattr(module, name)

        def wrapper(*args, **kwargs):
            t0 = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[phase] = seconds.get(phase, 0.0) + time.monotonic() - t0
                calls[phase] = calls.get(phase, 0) + 1

        setattr(module, name, wrapper)

    timed(job, "make_task", "task and references")
    timed(job, "baseline_rows", "baselines")
    timed(job, "classical_seeds", "seeds")
    timed(job, "evolve", "search")
    timed(verify_module, "verify", "verification")
    timed(command, "_payload", "payload")
    timed(approx_result, "save", "write")
    imported = time.monotonic()
    before = os.times()
    rc = cli(["approx", *argv, "--quiet"])
    after = os.times()
    print(json.dumps({"cpu": cpu_model(), "argv": argv, "rc": rc,
                      "phases": {k: round(v, 2) for k, v in seconds.items()},
                      "verifications": calls.get("verification", 0),
                      "import": round(imported - started, 2), "wall": round(time.monotonic() - imported, 2),
                      "user": round(after.user - before.user, 2), "system": round(after.system - before.system, 2)}))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
