from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = str(Path(__file__).with_name("ddp_worker.py"))


@pytest.mark.slow
def test_torchrun_two_processes_match_one(tmp_path):
    """2-process gloo DDP (each rank half of every batch) ends where one process does,
    up to float summation order (dropout is off so both draw the same)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    subprocess.run([sys.executable, WORKER, str(one)], check=True, env=env)
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
        ],
        check=True,
        env=env,
    )
    a, b = torch.load(one), torch.load(two)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-4, rtol=1e-3, msg=k)
        assert torch.equal(a[k] == 0, b[k] == 0) or "encoder" not in k
