"""codebase.runtime: subnormals flushed in every torch thread; the heap's growth limited."""
import os
import subprocess
import sys

import pytest

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
@pytest.mark.parametrize("limited", [False, True])
def test_limit_heap_growth_keeps_megabyte_blocks_out_of_the_heap(limited):
    """After a large block is freed, glibc serves 2 MB blocks from its heap (where they fragment)
    unless limit_heap_growth() was called: then they are mmapped, and given back when freed."""
    script = f"""
import ctypes, torch
from codebase import runtime
class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
torch.ones(4 << 20)  # 16 MB, freed at once: glibc raises its mmap threshold to 16 MB
if {limited}:
    runtime.limit_heap_growth()
before = libc.mallinfo2().hblkhd
block = torch.ones(1 << 19)  # 2 MB
print(libc.mallinfo2().hblkhd - before)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert (int(out) >= 2 << 20) == limited
