from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = str(Path(__file__).with_name("ddp_worker.py"))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sparsebert", "spd"])
def test_torchrun_two_processes_match_one(tmp_path, method):
    """2-process gloo DDP (each rank half of every batch) ends where one process does,
    up to float summation order (dropout is off so both draw the same; `spd`'s replacement
    draws come from its own seeded generator, the same on every rank), and both ranks end
    with the same weights."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    subprocess.run([sys.executable, WORKER, str(one), method], check=True, env=env)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29531",
            WORKER,
            str(two),
            method,
        ],
        check=True,
        env=env,
    )
    a, b = torch.load(f"{one}.rank0"), torch.load(f"{two}.rank0")
    b1 = torch.load(f"{two}.rank1")
    for k in b:
        assert torch.equal(b[k], b1[k]), k
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-4, rtol=1e-3, msg=k)
        assert torch.equal(a[k] == 0, b[k] == 0) or "encoder" not in k
