"""The run scripts as real processes: SIGTERM and resume, one writer per run, parallel replicates."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, child_env

pytestmark = pytest.mark.slow  # every test here starts processes or times them

VAE = "model=vae_z=10_beta=1_run=0000"


def start(cwd, *argv, script="run_vae.py"):
    """The script as a process leading a group of its own, which finish() ends on a timeout."""
    env = child_env(OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(ROOT / script), "--iw_full", "0", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(process, timeout=300):
    """(exit status, stdout, stderr) of process; past timeout seconds, it and its children are
    killed and the test fails."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"still running after {timeout} s")
    return process.returncode, out, err


def wait_for(path, timeout=120):
    """Wait until a file exists, e.g. the TensorBoard file a run creates as its training starts
    (after taking over SIGINT and SIGTERM)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.parent.is_dir() and any(f.name.startswith(path.name) for f in path.parent.iterdir()):
            return
        time.sleep(0.05)
    raise TimeoutError(path)


def weights(folder, iteration):
    state = torch.load(folder / "checkpoints" / VAE / f"model-{iteration:05d}.pt", weights_only=True)
    return state["state_dict"]


def test_sigterm_saves_and_resume_matches_an_uninterrupted_run_while_a_second_writer_is_refused(tmp_path):
    run = ["--iter_save", "100000", "--threads", "1"]
    cut, straight = tmp_path / "cut", tmp_path / "straight"
    cut.mkdir(), straight.mkdir()
    first = start(cut, "--iter_max", "100000", *run)
    wait_for(cut / "logs" / VAE / "events.out.tfevents")
    # A second process on the same run is refused, naming the first, and touches nothing.
    code, _, err = finish(start(cut, "--iter_max", "100000", *run))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: run {VAE} is being written by process {first.pid} ")
    first.send_signal(signal.SIGTERM)
    code, _, err = finish(first)
    last = err.strip().splitlines()[-1]
    assert code == 143 and last.startswith("error: SIGTERM at iteration ") and "--resume" in last
    (saved,) = os.listdir(cut / "checkpoints" / VAE)
    assert not (cut / "checkpoints" / f"{VAE}.lock").exists()

    end = str(int(saved[6:11]) + 30)
    code, out, _ = finish(start(cut, "--iter_max", end, *run, "--resume"))
    assert code == 0 and "Resuming" in out
    assert finish(start(straight, "--iter_max", end, *run))[0] == 0
    for a, b in zip(weights(straight, int(end)).values(), weights(cut, int(end)).values(), strict=True):
        assert torch.equal(a, b)


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / f"{VAE}.lock").write_text(json.dumps({"pid": dead.pid, "threads": 1}))
    code, _, err = finish(start(tmp_path, "--iter_max", "5"))
    assert code == 0 and f"notice: taking over checkpoints/{VAE}.lock, left by process {dead.pid}" in err
    assert not (tmp_path / "checkpoints" / f"{VAE}.lock").exists()


def metrics(folder, seed):
    with open(folder / "logs" / f"model=vae_z=10_beta=1_run={seed:04d}" / "metrics.json") as f:
        return json.load(f)["metrics"]


def test_parallel_replicates_equal_the_same_replicates_one_after_the_other(tmp_path):
    a, b = tmp_path / "parallel", tmp_path / "serial"
    a.mkdir(), b.mkdir()
    code, out, _ = finish(start(a, "--iter_max", "30", "--runs", "2", "--jobs", "2"))
    assert code == 0 and "NELBO: " in out and "(n=2)" in out
    assert finish(start(b, "--iter_max", "30", "--runs", "2", "--jobs", "1", "--threads", "1"))[0] == 0
    for seed in (0, 1):
        assert metrics(a, seed) == metrics(b, seed)
    assert metrics(a, 0) != metrics(a, 1)


def started(parent):
    """{run name: process id} of the replicates a --jobs parent starts, read from its output."""
    pids = {}
    while len(pids) < 2:
        line = parent.stdout.readline()
        assert line, "the parent ended before starting two replicates"
        if m := re.match(r"(\S+): started, process (\d+),", line):
            pids[m[1]] = int(m[2])
    return pids


def test_a_replicate_that_dies_stops_the_others_and_is_reported_once(tmp_path):
    parent = start(tmp_path, "--iter_max", "100000", "--iter_save", "100000", "--runs", "2", "--jobs", "2",
                   "--threads", "1")
    pids = started(parent)
    for name in pids:
        wait_for(tmp_path / "logs" / name / "events.out.tfevents")
    os.kill(pids["model=vae_z=10_beta=1_run=0001"], signal.SIGKILL)
    code, _, err = finish(parent, timeout=60)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 128 + signal.SIGKILL
    assert errors == ["error: replicate model=vae_z=10_beta=1_run=0001 failed: killed by SIGKILL"]
    # the other replicate was stopped as by SIGTERM: it saved where it was, short of 100000
    (saved,) = os.listdir(tmp_path / "checkpoints" / VAE)
    assert saved.startswith("model-") and saved != "model-100000.pt"


def test_a_failing_replicate_is_reported_once_in_its_own_words(tmp_path):
    for seed in (0, 1):
        broken = tmp_path / "checkpoints" / f"model=vae_z=10_beta=1_run={seed:04d}"
        broken.mkdir(parents=True)
        (broken / "model-00010.pt").write_bytes(b"not a checkpoint")
    code, _, err = finish(start(tmp_path, "--iter_max", "20", "--runs", "2", "--jobs", "2", "--threads", "2",
                                "--resume"), timeout=120)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1
    assert re.match(r"error: replicate model=vae_z=10_beta=1_run=000[01] failed: \S+model-00010.pt is corrupt",
                    errors[0])
    assert ("warning: 2 training processes use 4 threads on" in err) == (4 > os.cpu_count())


def test_sigterm_to_the_parent_of_jobs_reaches_every_replicate(tmp_path):
    """With --jobs, a SIGTERM (or Ctrl-C) to the parent is passed on: each replicate saves a
    checkpoint where it is, and the parent exits as the signal asks, naming --resume."""
    parent = start(tmp_path, "--iter_max", "100000", "--iter_save", "100000", "--runs", "2", "--jobs", "2",
                   "--threads", "1")
    for seed in (0, 1):
        wait_for(tmp_path / "logs" / f"model=vae_z=10_beta=1_run={seed:04d}" / "events.out.tfevents")
    parent.send_signal(signal.SIGTERM)
    code, _, err = finish(parent, timeout=30)
    assert code == 143 and "the replicates saved checkpoints" in err and "--resume" in err
    for seed in (0, 1):
        (saved,) = os.listdir(tmp_path / "checkpoints" / f"model=vae_z=10_beta=1_run={seed:04d}")
        assert saved.startswith("model-") and saved != "model-100000.pt"
