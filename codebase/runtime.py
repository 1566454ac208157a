"""The process: the settings every entry point makes before its first tensor operation, and the
signals that stop it cleanly."""
import ctypes
import datetime
import os
import platform
import re
import signal
import subprocess
import threading

import numpy
import torch
import torchvision

from codebase import UserError


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


def limit_heap_growth(threshold=4 << 20):
    """On glibc (Linux), fix the heap's thresholds: blocks of `threshold` bytes and more are
    mmapped (given back to the system when freed), the heap's free top is given back past twice
    that; elsewhere, nothing.

    glibc otherwise moves both as blocks are freed, and the evaluation's temporaries fragment the
    heap: a trained VAE's evaluation peaked at 1.9 GB, a GMVAE's at 3.6 GB with an 8 MB threshold
    (under 1 GB at 4 MB). A lower threshold costs time: at 1 MB, the SSVAE's and M2's 2 MB
    activations were mapped afresh, page by page, at every step, and their steps ran at about half
    the speed.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2 * threshold)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def provenance(device):
    """What a record needs to say which code made it, and where: a dict of
    commit (None outside a git checkout) and dirty (uncommitted changes besides untracked files),
    date (UTC), python, torch, torchvision and numpy versions, cpu (its model), machine, device
    (the GPU's name on CUDA), threads (torch's CPU threads)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*argv):
        try:
            return subprocess.run(["git", "-C", root, *argv], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit and commit.strip(), "dirty": bool(status) if commit else None,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
        "numpy": numpy.__version__, "cpu": cpu_model(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "device": torch.cuda.get_device_name(device) if torch.device(device).type == "cuda" else str(device),
        "threads": torch.get_num_threads(),
    }


def cpu_model():
    """e.g. 'AMD EPYC (family 26, model 2, stepping 1)': matrix products round differently from
    one CPU model to another, so a bit-exact repetition needs the same one."""
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(re.findall(r"^(model name|cpu family|model|stepping)\s*: (.*)$", f.read(), re.M))
        return (f"{info['model name']} (family {info['cpu family']}, model {info['model']}, "
                f"stepping {info['stepping']})")
    except (OSError, KeyError):
        return platform.processor() or platform.machine() or "unknown"


def cpu_flags():
    """The CPU's feature flags as Linux lists them in /proc/cpuinfo ("flags" on x86, "Features" on
    Arm), e.g. {"avx512_bf16", "amx_bf16", ...}; empty where there is no such file."""
    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"^(?:flags|Features)\s*: (.*)$", f.read(), re.M)
    except OSError:
        return set()
    return set(found[1].split()) if found else set()


def no_bf16(device):
    """None where `device` multiplies bfloat16 matrices in hardware, else why not (one line): CUDA
    GPUs of compute capability 8.0 (Ampere) and later; CPUs with AMX (amx_bf16), AVX512-BF16
    (avx512_bf16) or Arm's BF16 extension (bf16). Elsewhere torch would emulate bfloat16, slower
    than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return (None if torch.cuda.is_bf16_supported(including_emulation=False)
                else f"{name} has no bfloat16 tensor cores")
    if device.type == "cpu":
        if cpu_flags() & {"amx_bf16", "avx512_bf16", "bf16"}:
            return None
        return f"this CPU ({cpu_model()}) has no bfloat16 instructions (neither amx_bf16 nor avx512_bf16 in lscpu)"
    return ("bfloat16 products are supported here on CUDA GPUs and CPUs with bfloat16 instructions, "
            f"not on {device.type}")


def no_compile(device):
    """None where torch.compile can build training steps for `device`, else why not (one line):
    Dynamo must support this Python and platform, and on the CPU the generated code needs a C++
    compiler (g++ or clang++, or the one $CXX names)."""
    import torch._dynamo
    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {platform.python_version()} on {platform.system()}"
    if torch.device(device).type == "cpu":
        from torch._inductor import cpp_builder
        try:
            cpp_builder.get_cpp_compiler()
        except Exception:  # inductor's own error for a compiler it cannot find or run
            return "torch.compile needs a C++ compiler on the CPU (g++ or clang++, or set $CXX), and found none"
    return None


class Interrupted(UserError):
    """Training stopped by a signal after saving a checkpoint; exits 128 + the signal's number
    (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process the signal ended."""

    def __init__(self, message, signum=signal.SIGINT):
        super().__init__(message)
        self.exit_code = 128 + signum


class StopOnSignal:
    """Turns Ctrl-C (SIGINT) and SIGTERM, what a cluster scheduler sends before preemption, into a
    flag checked between iterations, so a step is never cut in half."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.received = None
        self.main = threading.current_thread() is threading.main_thread()
        if self.main:
            self.previous = {s: signal.signal(s, self.receive) for s in self.SIGNALS}
        return self

    def receive(self, signum, frame):
        self.received = signum

    def __exit__(self, *_):
        if self.main:
            for s, handler in self.previous.items():
                signal.signal(s, handler)
