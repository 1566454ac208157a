"""codebase.bench runs and prints its table: the machine's figures, no goal of ours."""
import argparse
import json
import os
import re

import pytest
import torch

from codebase import against, bench, runtime, train
from codebase.vae import VAE
from conftest import DATA_DIR


@pytest.mark.slow
def test_bench_prints_a_row_per_model_and_precision(tmp_path, capsys, monkeypatch):
    """A model with a checkpoint of its default configuration is timed from it too ("late"); its
    compiled steps beside its eager ones unless --eager; both precisions by default where the CPU
    has bfloat16 instructions (here said to have them, then not)."""
    torch.manual_seed(0)
    model = VAE()
    folder = tmp_path / "model=vae_z=10_beta=1_run=0002"
    folder.mkdir()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    train.save_checkpoint(train.checkpoint_path(folder, 7), model, optimizer, 7, 1.0)
    common = ["--iters", "3", "--warmup", "1", "--data-dir", DATA_DIR, "--jobs-iters", "0",
              "--checkpoints", str(tmp_path)]
    assert bench.main(["--models", "vae", "--precision", "fp32", "--profile", *common]) == 0
    out = capsys.readouterr().out
    assert "peak RSS after importing torch" in out
    ops, products = map(float, re.search(r"^profile, vae fp32: operators (\S+) ms per step, of which matrix "
                                         r"products (\S+) ms$", out, re.M).groups())
    assert 0 < products < ops
    assert re.search(r"^vae\s+fp32\s+\d+\.\d\s+–\s+–\s+\d+\.\d at 7\s+\d+\.\d min for 20000\s+\d+\.\d s\s+\d+ MB\s*$",
                     out, re.M)
    assert "the process's peak RSS so far" in out and "<=" not in out and "NO" not in out.split()
    # the compiled steps beside the eager ones, interleaved: the ratio of their rates, the compilation's seconds
    rates = dict(re.findall(r"^vae\s+(fp32|fp32 compiled)\s+(\d+\.\d)\s", out, re.M))
    ratio = float(re.search(r"^vae\s+fp32 compiled\s+\d+\.\d\s+(\d+\.\d\d)\s+\d+ s\s+–\s+\d+\.\d min", out, re.M)[1])
    assert ratio == pytest.approx(float(rates["fp32 compiled"]) / float(rates["fp32"]), abs=0.02)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512_bf16"})
    assert bench.main(["--models", "ssvae", "--eager", *common]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ssvae\s+fp32\s+\d+\.\d\s+–\s+–\s+–\s+\d+\.\d min for 30000\s+\d+\.\d s", out, re.M)
    assert re.search(r"^ssvae\s+bf16\s+\d+\.\d\s+–\s+–\s+–\s+\d+\.\d min for 30000\s+\d+\.\d s", out, re.M)
    assert not re.search(r"^ssvae\s+\S+ compiled", out, re.M)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: set())
    assert bench.main(["--models", "ssvae", *common, "--device", "cpu", "--eager"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ssvae\s+fp32", out, re.M) and not re.search(r"^ssvae\s+bf16", out, re.M)


def test_newest_checkpoint_looks_across_replicates_of_one_configuration(tmp_path):
    for run, iteration in (("model=vae_z=10_beta=1_run=0000", 300), ("model=vae_z=10_beta=1_run=0003", 900),
                           ("model=vae_z=10_beta=2_run=0000", 5000)):
        (tmp_path / run).mkdir()
        (tmp_path / run / f"model-{iteration:05d}.pt").touch()
    assert bench.newest_checkpoint(tmp_path, "model=vae_z=10_beta=1") == (
        900, str(tmp_path / "model=vae_z=10_beta=1_run=0003" / "model-00900.pt"))
    assert bench.newest_checkpoint(tmp_path, "model=gmvae_z=10_k=500") is None


def test_jobs_ratio_times_jobs_2_against_jobs_1(capsys):
    calls = []
    bench.jobs_ratio(5, DATA_DIR, run=lambda argv, **kw: calls.append(argv))
    assert [argv[argv.index("--jobs") + 1] for argv in calls] == ["2", "1"]
    assert all(argv[argv.index("--iter_max") + 1] == "5" and "--runs" in argv for argv in calls)
    assert re.search(r"^VAE --runs 2, 5 iterations each: --jobs 2 .* ratio \d+\.\d\d$", capsys.readouterr().out, re.M)


@pytest.mark.slow
def test_against_times_another_commit_in_a_worktree_before_and_after_this_code(tmp_path, capsys, monkeypatch):
    """--against COMMIT: that commit's benchmark with the same timing flags, in a git worktree of it
    that sees this folder's checkpoints, alternating with this code's rounds, first and last; the
    ratio of the median rates is printed and the record holds its records."""
    calls, links = [], []

    def run(argv, cwd=None, **kw):
        calls.append((argv, cwd))
        if argv[3:5] == ["worktree", "add"]:
            os.makedirs(os.path.join(argv[-2], "checkpoints"))  # the repository's own, with its .gitkeep
            open(os.path.join(argv[-2], "checkpoints", ".gitkeep"), "w").close()
        if "--record" in argv:
            links.append(os.readlink(os.path.join(cwd, "checkpoints")))
            rate = 10.0 * sum("--record" in a for a, _ in calls)
            with open(argv[argv.index("--record") + 1], "w") as f:
                json.dump({"commit": "0123abc", "rows": [{"model": "vae", "precision": "fp32", "compile": False,
                                                          "rate": rate}]}, f)

    args = argparse.Namespace(models=["vae"], warmup=1, device="cpu", data_dir=DATA_DIR, checkpoints="ckpt",
                              iters=3, threads=2, precision=["fp32"], eager=True)
    record = against.record("0123abc", args, run=run)
    (add, _), (timed, cwd), (remove, _) = calls
    assert (add[3:] == ["worktree", "add", "--detach", "--quiet", cwd, "0123abc"]
            and remove[3:5] == ["worktree", "remove"])
    assert timed[1:3] == ["-m", "codebase.bench"] and timed[timed.index("--models") + 1] == "vae"
    assert timed[timed.index("--jobs-iters") + 1] == "0" and "--eager" in timed and "--against" not in timed
    assert timed[timed.index("--checkpoints") + 1] == os.path.abspath("ckpt") and record["rows"][0]["rate"] == 10.0
    assert links == [os.path.abspath("checkpoints")]  # where a model built on another run finds it
    # the command the record keeps names no folder of this machine, and no temporary record
    assert record["command"] == ("python -m codebase.bench --models vae --warmup 1 --device cpu --jobs-iters 0 "
                                 "--iters 3 --threads 2 --precision fp32 --eager")
    theirs = [record, against.record("0123abc", args, run=run), against.record("0123abc", args, run=run)]
    monkeypatch.setattr(against, "record", lambda commit, args: theirs.pop(0))
    out_file = tmp_path / "record.json"
    assert bench.main(["--models", "vae", "--eager", "--precision", "fp32", "--iters", "3", "--warmup", "1",
                       "--data-dir", DATA_DIR, "--jobs-iters", "0", "--checkpoints", str(tmp_path),
                       "--against", "0123abc", "--rounds", "2", "--record", str(out_file)]) == 0
    assert theirs == []  # its runs: before, between and after our two rounds
    out = capsys.readouterr().out
    rate = float(re.search(r"^vae\s+fp32\s+(\d+\.\d)\s", out, re.M)[1])
    line = re.search(r"^vae fp32: (\d+\.\d) it/s here \(median of (\d+\.\d), (\d+\.\d)\), 20\.0 at 0123abc "
                     r"\(median of 10\.0, 20\.0, 30\.0\): (\d+\.\d\d)x$", out, re.M)
    # of two rounds, the median is their mean (each printed to 0.1)
    assert float(line[1]) == rate == pytest.approx((float(line[2]) + float(line[3])) / 2, abs=0.06)
    assert float(line[4]) == pytest.approx(rate / 20, abs=0.01)
    saved = json.load(open(out_file))
    assert saved["against"]["commit"] == "0123abc"
    assert [r["rows"][0]["rate"] for r in saved["against"]["runs"]] == [10.0, 20.0, 30.0]


@pytest.mark.slow
def test_flags_time_another_configuration_of_one_model(tmp_path, capsys):
    """--flags: the run script's flags of the configuration timed, named in its row; one model only."""
    common = ["--eager", "--precision", "fp32", "--iters", "3", "--warmup", "1", "--data-dir", DATA_DIR,
              "--jobs-iters", "0", "--checkpoints", str(tmp_path)]
    assert bench.main(["--models", "vae", "--flags", "--z 2 --beta 4", *common]) == 0
    assert re.search(r"^vae\s+--z 2 --beta 4 fp32\s+\d+\.\d\s", capsys.readouterr().out, re.M)
    with pytest.raises(SystemExit):
        bench.main(["--models", "vae", "gmvae", "--flags", "--z 2", *common])
    assert "--flags: name one model in --models" in capsys.readouterr().err


def test_the_median_of_an_even_number_of_rounds_is_the_mean_of_the_two_middle_ones():
    rounds = [{"rate": r, "round": i} for i, r in enumerate([4.0, 1.0, 3.0, 2.0])]
    row = against.median_round(rounds)
    assert row["rate"] == 2.5 and row["round"] == 3 and row["rates"] == [4.0, 1.0, 3.0, 2.0]  # the lower middle round
    assert against.median_round(rounds[:3])["rate"] == 3.0
    theirs = [{"rows": [{"model": "vae", "precision": "fp32", "compile": False, "rate": r}]}
              for r in (1.0, 2.0, 4.0, 8.0)]
    (line,) = against.compared([{"model": "vae", "precision": "fp32", "compile": False, "rate": 6.0, "rates": [6.0]}],
                               theirs, "abc1234")
    assert line.endswith("3.0 at abc1234 (median of 1.0, 2.0, 4.0, 8.0): 2.00x")
