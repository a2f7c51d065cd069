"""Suppression engine: how long `network.suppression.protect` takes to decide a period's figures for a
whole network (every agency's tables and totals, region and network figures), and what the LP audit finds
afterwards (the narrowest protection interval). No database: random networks shaped like the property
test's (tests/test_suppression_audit.py), many small peer teams and a few busy ones, threshold 5.
Goal: a 10-agency network in under 3 seconds of CPU (CPU, not wall time: the machine may be shared).

    ./dev bench suppression [--agencies 40] [--networks 3] [--quick]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common as bench  # noqa: E402

GOAL_SECONDS = 3.0
THRESHOLD = 5


def main() -> None:
    args = bench.arguments(
        __doc__.splitlines()[0], agencies=40, quick_agencies=20, networks=(3, 2, "random networks per size")
    )
    bench.print_machine()
    from network.suppression import audit, protect
    from tests.test_suppression_audit import random_network

    ten = None
    sizes = sorted({10, max(10, args.agencies // 2), args.agencies})
    for agencies in sizes:
        regions = max(1, agencies // 4)
        walls, cpus, figures, hidden, narrowest = [], [], 0, 0, float("inf")
        for seed in range(args.networks):
            network = random_network(random.Random(seed), agencies, regions)
            wall, cpu = time.perf_counter(), time.process_time()
            shown = protect(network.cells, threshold=THRESHOLD, equalities=network.equalities)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            intervals = audit(
                [(cell, shown[cell.key] is not None) for cell in network.cells], equalities=network.equalities
            )
            figures += len(network.cells)
            hidden += len(intervals)
            narrowest = min([narrowest, *(high - low for low, high in intervals.values())])
        mean_wall, mean_cpu = sum(walls) / len(walls), sum(cpus) / len(cpus)
        if agencies == 10:
            ten = mean_cpu
        print(
            f"{agencies} agencies in {regions} regions, {args.networks} networks: {figures // args.networks} figures "
            f"and {hidden // args.networks} hidden each; protect {mean_wall:.2f} s wall ({mean_cpu:.2f} s CPU) "
            f"on average, slowest {max(walls):.2f} s; narrowest protection interval {narrowest:g}",
            flush=True,
        )
    bench.summary(
        "suppression",
        ten is not None and ten < GOAL_SECONDS,
        f"10-agency network in {ten:.2f} s of CPU (goal {GOAL_SECONDS:g} s)",
    )


if __name__ == "__main__":
    main()
