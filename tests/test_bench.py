"""codebase.bench runs and prints its table (the speed targets live in the benchmark, not here)."""
import re

from codebase import bench
from conftest import DATA_DIR


def test_bench_prints_a_row_per_model(capsys):
    assert bench.main(["--models", "vae", "ssvae", "--iters", "3", "--warmup", "1", "--data-dir", DATA_DIR]) == 0
    out = capsys.readouterr().out
    assert "peak RSS after importing torch" in out
    for name in ("vae", "ssvae"):
        assert re.search(rf"^{name}\s+\d+\.\d\s+\d+\.\d min for \d+", out, re.M)
