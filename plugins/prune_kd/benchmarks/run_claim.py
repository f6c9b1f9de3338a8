"""The paper's claim at small scale (manual, ~10 min on 1 CPU thread): writes claim.json.

python benchmarks/run_claim.py [--seeds 0,1,2] [--n-train 400] [--out claim.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    from leanml.core.threads import thread_limits
    from leanml.prune_kd.experiments import PipelineSettings, claim_experiment

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--mlm-docs", type=int, default=11293)
    ap.add_argument("--mlm-epochs", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=8, help="student epochs")
    ap.add_argument("--teacher-epochs", type=int, default=8)
    ap.add_argument("--out", default="claim.json")
    args = ap.parse_args()
    settings = PipelineSettings(
        mlm_docs=args.mlm_docs,
        mlm_epochs=args.mlm_epochs,
        teacher_epochs=args.epochs,
        student_epochs=args.epochs,
    )
    t0 = time.perf_counter()
    with thread_limits(1):
        rows = claim_experiment(
            [int(s) for s in args.seeds.split(",")],
            args.sparsity,
            n_train=args.n_train,
            settings=settings,
        )
    wall = time.perf_counter() - t0
    summary = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        acc = [r["dev_accuracy"] for r in rows if r["method"] == m]
        tr = [r["train_accuracy"] for r in rows if r["method"] == m]
        summary[m] = {
            "dev_mean": statistics.mean(acc),
            "dev_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            "train_mean": statistics.mean(tr),
            "n": len(acc),
            "encoder_linear_sparsity": statistics.mean(
                r["encoder_linear_sparsity"] for r in rows if r["method"] == m
            ),
            "nonzero_encoder_linear": statistics.mean(
                r["nonzero_encoder_linear"] for r in rows if r["method"] == m
            ),
        }
    with open(args.out, "w") as f:
        json.dump(
            {"args": vars(args), "wall_s": wall, "rows": rows, "summary": summary}, f, indent=2
        )
    print(
        f"| method | dev accuracy (mean ± std, {len(args.seeds.split(','))} seeds) | train acc |"
        " encoder-linear sparsity | encoder-linear non-zeros |"
    )
    print("|---|---|---|---|---|")
    for m, s in summary.items():
        print(
            f"| {m} | {s['dev_mean']:.3f} ± {s['dev_std']:.3f} | {s['train_mean']:.3f} | "
            f"{s['encoder_linear_sparsity']:.3f} | {s['nonzero_encoder_linear']:.0f} |"
        )
    print(f"wall time {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
