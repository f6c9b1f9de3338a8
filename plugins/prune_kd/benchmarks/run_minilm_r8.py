"""MiniLM-L6 (all-MiniLM-L6-v2, from its PyPI wheel) on Reuters R8 at 90% (manual, slow).

    python benchmarks/run_minilm_r8.py [--n-train 1000] [--epochs 2] [--max-length 64]

Fine-tunes the dense teacher, then `sparsebert` and `magnitude` students, and measures the
pruned model's CPU speed (1 thread, 128 tokens) and sparse file size. Writes minilm_r8.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    from leanml.core.threads import thread_limits
    from leanml.prune_kd.checkpoints import load_minilm
    from leanml.prune_kd.methods import PruneConfig, run_method
    from leanml.prune_kd.pretrain import encode
    from leanml.prune_kd.sparse import save_sparse
    from leanml.prune_kd.speed import model_speed
    from leanml.prune_kd.tasks import make_task
    from leanml.prune_kd.training import TrainConfig

    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-dev", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--methods", default="sparsebert,magnitude")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="minilm_r8.json")
    args = ap.parse_args()
    out: dict = {"args": vars(args), "runs": {}}
    with thread_limits(1):
        encoder, tok = load_minilm()
        task = make_task("r8", None, args.n_train, args.n_dev, seed=args.seed)
        train = encode(tok, task.train_texts, args.max_length, task.train_labels)
        dev = encode(tok, task.dev_texts, args.max_length, task.dev_labels)
        cfg = TrainConfig(epochs=args.epochs, batch_size=32, lr=5e-5, seed=args.seed, log_every=10)
        t0 = time.perf_counter()
        teacher = run_method(
            "dense",
            train,
            pretrained=encoder,
            dev_data=dev,
            num_labels=len(task.label_names),
            config=cfg,
        )
        out["runs"]["dense"] = {"dev": teacher.dev, "seconds": time.perf_counter() - t0}
        print("dense", out["runs"]["dense"], flush=True)
        for method in args.methods.split(","):
            t0 = time.perf_counter()
            lr = 3e-5 if method == "sparsebert" else 5e-5
            res = run_method(
                method,
                train,
                teacher=teacher.model,
                pretrained=encoder,
                dev_data=dev,
                prune=PruneConfig(sparsity=args.sparsity, n_updates=10),
                config=TrainConfig(epochs=args.epochs, batch_size=32, lr=lr, seed=args.seed),
            )
            out["runs"][method] = {
                "dev": res.dev,
                "sparsity": res.sparsity,
                "seconds": time.perf_counter() - t0,
            }
            print(method, out["runs"][method], flush=True)
            if method == "sparsebert":
                with tempfile.TemporaryDirectory() as tmp:
                    sp, dp = Path(tmp) / "s.safetensors", Path(tmp) / "d.safetensors"
                    save_sparse(res.model, sp)
                    save_sparse(res.model, dp, min_sparsity=1.0)  # everything dense
                    out["file_bytes"] = {
                        "sparse": sp.stat().st_size,
                        "dense": dp.stat().st_size,
                        "ratio": sp.stat().st_size / dp.stat().st_size,
                    }
                out["speed"] = model_speed(res.model, None, 128, batch=1, threads=1, repeats=11)
                print(out["file_bytes"], out["speed"], flush=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
