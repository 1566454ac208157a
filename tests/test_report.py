"""codebase.report: aggregation over replicates, the Markdown, the beta plots."""
import json
import math
import os
import statistics

import pytest

import run_vae
from codebase import report


def write_run(logs, name, seed, metrics, model="VAE", config=None):
    d = logs / f"{name}_run={seed:04d}"
    d.mkdir(parents=True)
    record = {"name": d.name, "model": model, "config": config or {"z_dim": 10, "beta": 1.0},
              "seed": seed, "iterations": 20000, "command": f"python run_vae.py --run {seed}",
              "metrics": metrics, "train_seconds": 120.0, "eval_seconds": 1.0, "device": "cpu",
              "threads": 2, "torch": "x", "machine": "x86_64, 2 cores"}
    (d / "metrics.json").write_text(json.dumps(record))
    (d / "samples.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def bounds(nelbo):
    return {k: nelbo for k in report.BOUNDS}


def test_mean_and_standard_error(tmp_path):
    for seed, nelbo in enumerate([99.0, 100.0, 104.0]):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, bounds(nelbo))
    write_run(tmp_path, "model=ssvae_gw=0_cw=100", 0, {"accuracy": 0.7}, "SSVAE", {"gen_weight": 0.0})
    groups = report.aggregate(report.load(str(tmp_path)))
    vae = groups["model=vae_z=10_beta=1"]
    se = statistics.stdev([99, 100, 104]) / math.sqrt(3)
    assert vae["n"] == 3 and vae["metrics"]["NELBO"] == pytest.approx((101.0, se))
    ssvae = groups["model=ssvae_gw=0_cw=100"]
    assert ssvae["n"] == 1 and math.isnan(ssvae["metrics"]["accuracy"][1])
    text = report.render(groups, str(tmp_path))
    assert f"| `model=vae_z=10_beta=1` | 3 | 101.00 ± {se:.2f} |" in text
    assert "| `model=ssvae_gw=0_cw=100` | 1 | 0.7000 | 2.0 |" in text
    assert "`python run_vae.py --run 0`" in text and "beta_nelbo.png" not in text


def test_beta_study_plots(tmp_path):
    for beta, (kl, rec) in {0.5: (25.0, 78.0), 1.0: (19.0, 82.0), 4.0: (8.0, 100.0)}.items():
        metrics = dict(bounds(kl + rec), KL=kl, Rec=rec)
        write_run(tmp_path, f"model=vae_z=10_beta={beta:g}", 0, metrics, config={"z_dim": 10, "beta": beta})
    assert report.main(["--logs", str(tmp_path)]) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert "| 4 | 1 | 8.00 | 100.00 | 108.00 |" in text
    for png in ("beta_rate_distortion.png", "beta_nelbo.png"):
        assert f"![{png}]({png})" in text
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_corrupt_and_missing(tmp_path, capsys):
    write_run(tmp_path, "model=vae_z=10_beta=1", 0, bounds(100.0))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{not json")
    assert len(report.load(str(tmp_path))) == 1
    assert "warning: skipping" in capsys.readouterr().err
    assert report.main(["--logs", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no metrics.json") and err.count("\n") == 1


def test_report_from_two_real_runs(workdir, capsys):
    assert run_vae.main(["--iter_max", "20", "--iter_save", "20", "--runs", "2"]) == 0
    assert report.main([]) == 0
    values = [json.load(open(f"logs/model=vae_z=10_beta=1_run={s:04d}/metrics.json"))["metrics"]["NELBO"]
              for s in (0, 1)]
    text = open("logs/REPORT.md").read()
    assert f"| `model=vae_z=10_beta=1` | 2 | {statistics.fmean(values):.2f} ± " in text
    for link in ("model=vae_z=10_beta=1_run=0000/samples.png",):
        assert f"({link})" in text and os.path.exists(os.path.join("logs", link))
