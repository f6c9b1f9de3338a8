from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

WORKER = str(Path(__file__).with_name("kill_worker.py"))


def test_sigkilled_run_resumes_bit_for_bit(tmp_path):
    """A process killed (SIGKILL) mid-epoch at step 10, after its checkpoint at step 8, and
    restarted ends with exactly the weights of an uninterrupted process."""
    ref, out, ck = tmp_path / "ref.pt", tmp_path / "out.pt", tmp_path / "ck"
    subprocess.run([sys.executable, WORKER, "", str(ref), "-1"], check=True)
    killed = subprocess.run([sys.executable, WORKER, str(ck), str(out), "10"])
    assert killed.returncode == -9 and not out.exists()
    assert torch.load(ck / "checkpoint.pt", weights_only=True)["step"] == 8
    subprocess.run([sys.executable, WORKER, str(ck), str(out), "-1"], check=True)
    a, b = torch.load(ref), torch.load(out)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
