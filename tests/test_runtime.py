"""codebase.runtime: subnormals flushed in every torch thread; the heap's growth limited."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every test here starts processes or times them

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Half a million copies of the smallest float32 subnormal (bits 0x00000001), doubled in one
# parallel region of torch's pool, 2 threads: counts the products that did not come out zero.
COUNT_UNFLUSHED = """
x = torch.ones(1 << 19, dtype=torch.int32).view(torch.float32)
unflushed = int((x * 2).ne(0).sum())
print(torch.set_flush_denormal(True), unflushed)  # whether the CPU can flush at all
"""


def _run(script):
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    supported, unflushed = out.stdout.split()
    if supported != "True":
        pytest.skip("this CPU has no flush-to-zero mode")
    return int(unflushed)


def test_the_run_scripts_flush_subnormals_in_every_thread():
    """runtime.start, which every run script (and each --jobs replicate) calls right after reading its flags, flushes
    before torch's thread pool exists, so the pool's worker threads flush too."""
    script = ("import torch\nfrom codebase import flags, runtime\nfrom codebase.ssvae import SSVAE\n"
              "runtime.start(flags.parse(SSVAE, ['--threads', '2']).threads)\n" + COUNT_UNFLUSHED)
    assert _run(script) == 0


def test_a_flush_set_after_the_pool_exists_misses_the_workers():
    """The check above can fail: flushing after a parallel region has started the pool reaches
    the calling thread only, and the worker's share of the products stays subnormal."""
    script = ("import torch\ntorch.set_num_threads(2)\ntorch.ones(1 << 19) * 2\n"
              "from codebase import runtime\nruntime.start()\n" + COUNT_UNFLUSHED)
    assert _run(script) > 0


def test_start_sets_the_threads():
    script = "import torch\nfrom codebase import runtime\nruntime.start(3)\nprint(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "3"


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")
@pytest.mark.parametrize("threshold", ["1 << 20", ""])
def test_limit_heap_growth_keeps_a_steps_activations_in_the_heap(threshold):
    """A step's 2 MB activations (an SSVAE's or M2's: 1000 x 500 floats), allocated and freed step
    after step, come from the heap with limit_heap_growth()'s default: no page faults once it has
    grown; with a 1 MB threshold, glibc maps them afresh from the system, page by page."""
    script = f"""
import resource, torch
from codebase import runtime
runtime.limit_heap_growth({threshold})
def step():
    return [torch.ones(1000, 500) for _ in range(3)]
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    faults = int(out)  # a 2 MB block mapped afresh: 512 pages
    assert (faults > 50 * 3 * 512 // 2) if threshold else (faults < 512), faults
