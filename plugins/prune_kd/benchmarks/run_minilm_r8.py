"""MiniLM-L6 (all-MiniLM-L6-v2, from its PyPI wheel) on Reuters R8 at 90% (manual, slow).

    python benchmarks/run_minilm_r8.py --stage teacher --teacher-dir r8-teacher --threads 2
    python benchmarks/run_minilm_r8.py --stage students --teacher-dir r8-teacher \
        --methods sparsebert --out sparsebert.json &
    python benchmarks/run_minilm_r8.py --stage students --teacher-dir r8-teacher \
        --methods spd --out spd.json

``--stage teacher`` fine-tunes the dense teacher and saves it (``save_pretrained``);
``--stage students`` trains each method's student from that teacher (so two students can
train at once, one process and one thread each) and records dev accuracy, sparsity, train
time, the pruned model's CPU speed (128 tokens) and its sparse file sizes (fp32 and fp16
storage) against the dense file. ``--stage all`` does both in one process. ``--n-train 0``
and ``--n-dev 0`` take the whole R8 training and test splits (5,485 / 2,189).
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

#: Learning rates: SparseBERT's constant 3e-5; the others as the teacher.
LR = {"sparsebert": 3e-5}


def _file_sizes(model) -> dict:
    """Bytes of the dense file and of the sparse files in fp32 and fp16 storage."""
    import torch

    from leanml.prune_kd.sparse import load_sparse, save_sparse

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        dense = Path(tmp) / "dense.safetensors"
        save_sparse(model, dense, min_sparsity=1.0)  # every matrix dense
        out["dense"] = dense.stat().st_size
        for name, dtype in (("sparse_fp32", None), ("sparse_fp16", torch.float16)):
            p = Path(tmp) / f"{name}.safetensors"
            save_sparse(model, p, dtype=dtype)
            out[name] = p.stat().st_size
            out[f"{name}_ratio"] = out[name] / out["dense"]
            out[f"{name}_model"] = load_sparse(p)
    return out


def _accuracy(model, data) -> float:
    from leanml.prune_kd.training import evaluate

    return evaluate(model, data)["accuracy"]


def main() -> None:
    from leanml.core.threads import thread_limits
    from leanml.prune_kd.checkpoints import load_encoder, load_minilm
    from leanml.prune_kd.methods import PruneConfig, run_method
    from leanml.prune_kd.pretrain import encode
    from leanml.prune_kd.speed import model_speed
    from leanml.prune_kd.tasks import make_task
    from leanml.prune_kd.training import TrainConfig

    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", choices=("teacher", "students", "all"), default="all")
    ap.add_argument("--teacher-dir", default=None, help="where the teacher is saved / read")
    ap.add_argument("--n-train", type=int, default=1000, help="0: the whole training split")
    ap.add_argument("--n-dev", type=int, default=1000, help="0: the whole test split")
    ap.add_argument("--teacher-epochs", type=int, default=None, help="default: --epochs")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--methods", default="sparsebert,magnitude")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="minilm_r8.json")
    args = ap.parse_args()
    out: dict = {"args": vars(args), "runs": {}}
    with thread_limits(args.threads):
        encoder, tok = load_minilm()
        task = make_task("r8", None, args.n_train or None, args.n_dev or None, seed=args.seed)
        train = encode(tok, task.train_texts, args.max_length, task.train_labels)
        dev = encode(tok, task.dev_texts, args.max_length, task.dev_labels)
        out["sizes"] = {"train": len(task.train_texts), "dev": len(task.dev_texts)}
        print(out["sizes"], flush=True)

        saved = args.teacher_dir and (Path(args.teacher_dir) / "config.json").is_file()
        if args.stage in ("teacher", "all") and not saved:
            cfg = TrainConfig(
                epochs=args.teacher_epochs or args.epochs,
                batch_size=32,
                lr=5e-5,
                seed=args.seed,
                log_every=10,
            )
            t0 = time.perf_counter()
            res = run_method(
                "dense",
                train,
                pretrained=encoder,
                dev_data=dev,
                num_labels=len(task.label_names),
                config=cfg,
                log_path=f"{args.out}.dense.log.jsonl",
            )
            teacher = res.model
            out["runs"]["dense"] = {
                "dev": res.dev,
                "seconds": time.perf_counter() - t0,
                "steps": cfg.total_steps(len(train)),
            }
            print("dense", out["runs"]["dense"], flush=True)
            if args.teacher_dir:
                teacher.save_pretrained(args.teacher_dir)
        else:
            if not saved:
                raise SystemExit(f"no teacher in {args.teacher_dir}; run --stage teacher first")
            teacher = load_encoder(args.teacher_dir, classifier=True).eval()
            out["runs"]["dense"] = {"dev": {"accuracy": _accuracy(teacher, dev)}}
            print("dense (loaded)", out["runs"]["dense"], flush=True)
        if args.stage == "teacher":
            Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
            return
        for method in args.methods.split(","):
            cfg = TrainConfig(
                epochs=args.epochs, batch_size=32, lr=LR.get(method, 5e-5), seed=args.seed
            )
            t0 = time.perf_counter()
            res = run_method(
                method,
                train,
                teacher=teacher,
                pretrained=encoder,
                dev_data=dev,
                prune=PruneConfig(sparsity=args.sparsity, n_updates=10),
                config=cfg,
                log_path=f"{args.out}.{method}.log.jsonl",
            )
            run = {
                "dev": res.dev,
                "sparsity": res.sparsity,
                "seconds": time.perf_counter() - t0,
                "steps": cfg.total_steps(len(train)),
                "lr": cfg.lr,
            }
            sizes = _file_sizes(res.model)
            fp16_model = sizes.pop("sparse_fp16_model")
            fp32_model = sizes.pop("sparse_fp32_model")
            run["file_bytes"] = sizes
            run["dev_from_file"] = {
                "fp32": _accuracy(fp32_model, dev),
                "fp16": _accuracy(fp16_model, dev),
            }
            run["speed"] = model_speed(res.model, None, 128, batch=1, threads=1, repeats=11)
            out["runs"][method] = run
            print(method, json.dumps(run, default=str), flush=True)
            Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
    Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
