"""Where a Prox-QN iteration's time goes: ``CRF(c1=1).fit`` on OANC, each part timed in the fit.

Usage (from the repository root; 1 thread, observed pairs, first 2,000 sentences)::

    python plugins/pqn_crf/benchmarks/profile_iteration.py --evals 250
    # against an older version of the package, alternating in one process:
    git archive 14ad1da plugins/pqn_crf/src/leanml/pqn_crf | tar -x -C /tmp/old
    mv /tmp/old/plugins/pqn_crf/src/leanml/pqn_crf /tmp/old/oldpqn
    python plugins/pqn_crf/benchmarks/profile_iteration.py --evals 250 --before /tmp/old \\
        --settings 021

``--settings 021`` fits with 0.2.1's m = 20, inner cap 30 and delta = 1e-5 so both versions
do the same work; the default uses the installed version's defaults. Prints milliseconds
per iteration for each part and the 1-minute load average before each fit.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from leanml.pqn_crf.datasets import load_oanc_pos

PARTS = {  # (module, attribute) -> label
    ("_kernels", "csr_pairs_matmul"): "state scores X·W",
    ("_kernels", "chain_forward_backward"): "forward-backward (exp included)",
    ("_kernels", "csr_rows_pairs"): "gradient Xᵀ·dU",
    ("chain", "ChainObjective.__call__"): "evaluation, total",
    ("solvers", "cd_quadratic_l1"): "inner CD passes",
    ("solvers", "_Memory.add"): "L-BFGS memory update",
    ("solvers", "_Memory.compact"): "compact form on A",
}


def _instrument(package: str, acc: dict[str, float]) -> type:
    for (mod_name, attr), label in PARTS.items():
        mod = importlib.import_module(f"{package}.{mod_name}")
        owner, name = (mod, attr) if "." not in attr else (getattr(mod, attr.split(".")[0]),
                                                            attr.split(".")[1])  # fmt: skip
        f = getattr(owner, name)

        def timed(*a, _f=f, _label=label, **k):
            t = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                acc[_label] += time.perf_counter() - t

        setattr(owner, name, timed)
    return importlib.import_module(f"{package}.crf").CRF


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=250)
    parser.add_argument("--before", help="directory holding an older copy as package oldpqn")
    parser.add_argument("--settings", choices=["defaults", "021"], default="defaults")
    args = parser.parse_args()
    data = load_oanc_pos(n_train=2000, n_test=0)
    X, Y = data.X_train, data.y_train
    versions = {}
    if args.before:
        sys.path.insert(0, args.before)
        versions["before"] = "oldpqn"
    versions["now"] = "leanml.pqn_crf"
    acc = {tag: collections.defaultdict(float) for tag in versions}
    classes = {tag: _instrument(pkg, acc[tag]) for tag, pkg in versions.items()}
    kw = {}
    if args.settings == "021":
        kw = {"m": 20, "delta": 1e-5, "inner_passes": lambda t: min(1 + t // 2, 30)}
    iters = dict.fromkeys(versions, 0)
    wall = dict.fromkeys(versions, 0.0)
    for tag, CRF in classes.items():  # compile outside the timing
        CRF(c1=1, max_evals=3, n_threads=1).fit(X[:5], Y[:5])
        acc[tag].clear()
    for _ in range(2):
        for tag, CRF in classes.items():
            extra = kw if tag == "now" else {}
            print(f"{tag}: load {os.getloadavg()[0]:.2f}")
            t0 = time.perf_counter()
            result = CRF(c1=1, n_threads=1, max_evals=args.evals, **extra).fit(X, Y).result_
            wall[tag] += time.perf_counter() - t0
            iters[tag] += result.n_iter
    print(f"{'part (ms per iteration)':34s}" + "".join(f"{t:>10s}" for t in versions))
    for label in PARTS.values():
        cells = "".join(f"{1e3 * acc[t][label] / iters[t]:10.2f}" for t in versions)
        print(f"{label:34s}{cells}")
    cells = "".join(f"{1e3 * wall[t] / iters[t]:10.2f}" for t in versions)
    print(f"{'whole iteration':34s}{cells}")


if __name__ == "__main__":
    main()
