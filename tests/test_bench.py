"""codebase.bench runs and prints its table (the speed targets live in the benchmark, not here)."""
import re

from codebase import bench
from conftest import DATA_DIR


def test_bench_prints_a_row_per_model(capsys):
    assert bench.main(["--models", "vae", "ssvae", "--iters", "3", "--warmup", "1", "--data-dir", DATA_DIR,
                       "--jobs-iters", "0"]) == 0
    out = capsys.readouterr().out
    assert "peak RSS after importing torch" in out
    for name in ("vae", "ssvae"):
        assert re.search(rf"^{name}\s+\d+\.\d\s+\d+\.\d min for \d+", out, re.M)


def test_jobs_ratio_times_jobs_2_against_jobs_1(capsys):
    calls = []
    bench.jobs_ratio(5, DATA_DIR, run=lambda argv, **kw: calls.append(argv))
    assert [argv[argv.index("--jobs") + 1] for argv in calls] == ["2", "1"]
    assert all(argv[argv.index("--iter_max") + 1] == "5" and "--runs" in argv for argv in calls)
    assert re.search(r"^VAE --runs 2, 5 iterations each: --jobs 2 .* ratio \d+\.\d\d$", capsys.readouterr().out, re.M)
