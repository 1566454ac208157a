"""The process settings every entry point makes before its first tensor operation."""
import ctypes

import torch


def start(threads=None):
    """Flush subnormal numbers to zero, limit the heap's growth, set torch's CPU threads.

    threads: int or None (torch's choice). Call it before any tensor operation: see flush_denormals.
    """
    flush_denormals()
    limit_heap_growth()
    if threads:
        torch.set_num_threads(threads)


def flush_denormals():
    """Treat subnormal floats (below 1.2e-38 in float32) as zero, in this thread and in every
    thread it starts afterwards: torch's CPU thread pool copies the setting when it is created.

    Adam's moments and the gradients of rarely active units decay into subnormals late in
    training, and Intel CPUs multiply subnormals many times slower: a 19200-iteration SSVAE trained
    at 4.1 it/s instead of 34 on a 2-core Xeon. Called after the pool exists, it reaches the calling
    thread alone (11 it/s there). Returns False where the CPU has no such mode (then nothing changes).
    """
    return torch.set_flush_denormal(True)


def limit_heap_growth(threshold=1 << 20):
    """On glibc (Linux), serve every allocation above `threshold` bytes with mmap, returned to the
    system when freed; elsewhere, nothing.

    glibc otherwise raises that threshold as large blocks are freed, and the evaluation's
    megabyte-sized temporaries then fragment the heap: the peak RSS of a trained VAE's evaluation
    rose from 0.85 GB to 1.9 GB.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, threshold)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass
