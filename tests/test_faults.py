"""Faults from outside the program: a full disk at any write, and SIGKILL at any point of a run.
Either way the run's folder is left in a state from which `--resume` finishes with the metrics of
a run that was never stopped (CPU, one thread)."""
import errno
import os
import re
import signal
import subprocess
import sys

import pytest
import torch

import run_vae
from codebase import files
from conftest import ROOT, child_env

pytestmark = pytest.mark.slow  # every test here starts processes or times them

ARGV = ["--iw_full", "0", "--iter_max", "40", "--iter_save", "10", "--threads", "1"]
RUN = "model=vae_z=10_beta=1_run=0000"


def metric_lines(out):
    return [line for line in out.splitlines() if re.match(r"^(NELBO|Negative IWAE)", line)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The printed metrics of the run never stopped."""
    done = subprocess.run([sys.executable, str(ROOT / "run_vae.py"), *ARGV], cwd=tmp_path_factory.mktemp("straight"),
                          env=child_env(), capture_output=True, text=True, check=True)
    return metric_lines(done.stdout)


@pytest.fixture(autouse=True)
def threads():
    """The runs here take one thread (--threads 1); the tests after them get torch's back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def leftovers():
    return [os.path.join(d, f) for d in ("checkpoints", "logs") for d, _, fs in os.walk(d) for f in fs
            if f.endswith(files.TMP) or f.endswith(".lock")]


def test_write_leaves_the_old_file_or_the_new_one_and_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / "record.json")
    files.write(path, "old")

    def full(tmp, data):
        with open(tmp, "wb") as f:
            f.write(data[:1])  # half of it, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_file", full)
    with pytest.raises(OSError) as e:
        files.write(path, "new")
    assert e.value.filename == path and e.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == ["record.json"] and open(path).read() == "old"


@pytest.mark.parametrize("fails", ["model-00020.pt", "samples.png", "latent.png", "metrics.json"])
def test_a_full_disk_is_one_line_and_resume_finishes_the_run(fails, workdir, capsys, monkeypatch, straight):
    """The disk fills at one write (a checkpoint, a picture, the record): the run ends with one
    line naming the file, the cause, the last good checkpoint and what to do; no temporary file
    is left; once there is space again, --resume ends as the run never stopped would."""
    write_file = files._write_file

    def full_at(tmp, data):
        if os.path.basename(tmp) == fails + files.TMP:
            write_file(tmp, data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_file(tmp, data)

    monkeypatch.setattr(files, "_write_file", full_at)
    assert run_vae.main(ARGV) == 2
    err = capsys.readouterr().err
    last = err.rstrip("\n").split("\n")[-1]
    ckpt = f"checkpoints/{RUN}/model-000{'1' if fails.startswith('model') else '4'}0.pt"
    assert last == (f"error: cannot write {'checkpoints' if fails.startswith('model') else 'logs'}/{RUN}/{fails}: "
                    f"No space left on device; last good checkpoint: {ckpt}; free some space, then run the same "
                    "command with --resume")
    assert "Traceback" not in err and leftovers() == []
    monkeypatch.setattr(files, "_write_file", write_file)
    assert run_vae.main(ARGV + ["--resume"]) == 0
    assert metric_lines(capsys.readouterr().out) == straight


# Where the run is killed: (name, Python run in the child before the run, as `patch`).
KILL = "os.kill(os.getpid(), signal.SIGKILL)"
POINTS = {
    "before the first checkpoint": f"VAE.batches = staticmethod(lambda m, a, s, start=0: ({KILL} if i == 3 else b "
                                   "for i, b in enumerate(data.unsupervised(m, s, start), start + 1)))",
    "during a step": f"VAE.batches = staticmethod(lambda m, a, s, start=0: ({KILL} if i == 25 else b for i, b in "
                     "enumerate(data.unsupervised(m, s, start), start + 1)))",
    "inside a checkpoint's save": "w = files._write_file\n"
                                  f"files._write_file = lambda p, d: ({KILL} if p.endswith('model-00030.pt.tmp') and "
                                  "not w(p, d[:len(d) // 2]) else w(p, d))",
    "inside the last checkpoint's save": "w = files._write_file\n"
                                         f"files._write_file = lambda p, d: ({KILL} "
                                         "if p.endswith('model-00040.pt.tmp') and not w(p, d[:len(d) // 2]) "
                                         "else w(p, d))",
    "during the evaluation": f"VAE.evaluate = lambda *a: {KILL}",
    "while drawing the pictures": f"draw.write = lambda *a: {KILL}",
    "inside the record's write": "w = files._write_file\n"
                                 f"files._write_file = lambda p, d: ({KILL} if p.endswith('metrics.json.tmp') and "
                                 "not w(p, d[:len(d) // 2]) else w(p, d))",
}


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_any_point_then_resume_ends_as_a_run_never_stopped(point, workdir, capsys, straight):
    child = ("import os, signal, sys\nfrom codebase import data, draw, files\nfrom codebase.vae import VAE\n"
             f"{POINTS[point]}\nimport run_vae\nsys.exit(run_vae.main({ARGV!r}))")
    killed = subprocess.run([sys.executable, "-c", child], cwd=workdir, capture_output=True, text=True,
                            env=child_env())
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    if point.startswith("inside"):  # killed halfway through a write: its temporary file is there
        assert any(path.endswith(files.TMP) for path in leftovers())
    assert run_vae.main(ARGV + ["--resume"]) == 0
    assert metric_lines(capsys.readouterr().out) == straight
    assert leftovers() == []
