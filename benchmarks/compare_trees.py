"""Per-turn overhead of an older commit and of this tree, side by side.

    python benchmarks/compare_trees.py [--old b3a0b25] [--rounds 5] [--turns 30] [--offline]

The per-turn benchmark (``per_turn.py``: raw httpx vs ``%%gmi --no-history``, 200-token
replies from the stand-in server in its own process) runs in a fresh process per tree,
alternating old and new ``--rounds`` times, so both see the same machine.  The old
commit is checked out into a temporary git worktree and imported from there; the
harness and the stand-in server are this tree's for both.  ``--offline`` runs
``per_turn_offline.py`` instead (no sockets: an in-process transport).  Prints each
round and the median over rounds of each tree's added milliseconds (and the smallest).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KINDS = ("text", "html")


def child(turns: int, offline: bool) -> None:
    """Run in a child process: one per-turn measurement, printed as JSON."""
    sys.path.insert(0, str(HERE))
    import gmi_magics

    if offline:
        import per_turn_offline

        times = per_turn_offline.measure(turns)
        base = times["raw httpx"]["median"]
        added = {kind: (times[kind]["median"] - base) * 1000 for kind in KINDS}
    else:
        import per_turn
        from server import ServerProcess

        with ServerProcess() as server:
            result = per_turn.measure(server, turns)
        added = {kind: result[kind]["added"] * 1000 for kind in KINDS}
    print(json.dumps({"package": gmi_magics.__file__, **added}))


def measure(tree: Path, turns: int, offline: bool) -> dict[str, float]:
    """One per-turn run with the package imported from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_PROXY": "127.0.0.1,localhost"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(turns), *(["--offline"] if offline else [])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if not str(result.pop("package")).startswith(str(tree)):
        raise RuntimeError(f"the run did not import gmi_magics from {tree}")
    return result


def compare(old: str, rounds: int, turns: int, offline: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="gmi-old-") as scratch:
        worktree = Path(scratch, "old")
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", str(worktree), old], check=True)
        try:
            trees = {"old": worktree, "now": ROOT}
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for number in range(rounds):
                for name, tree in trees.items():
                    runs[name].append(measure(tree, turns, offline))
                    shown = ", ".join(f"{k} {runs[name][-1][k]:+.2f} ms" for k in KINDS)
                    print(f"round {number + 1} {name:3}: {shown}", flush=True)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(worktree)], check=True)
    how = "no sockets" if offline else "loopback"
    print(
        f"\nadded over raw httpx per 200-token turn, {how} ({old} vs this tree), {rounds} rounds:"
    )
    for name, results in runs.items():
        for kind in KINDS:
            values = [r[kind] for r in results]
            print(
                f"  {name:3} {kind:4}: median {statistics.median(values):+.2f} ms, "
                f"smallest {min(values):+.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="b3a0b25", help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, default=30, help="turns per run (per_turn.py)")
    parser.add_argument("--offline", action="store_true", help="no sockets (per_turn_offline)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.offline)
    else:
        compare(args.old, args.rounds, args.turns, args.offline)


if __name__ == "__main__":
    main()
