"""The training loop shared by every model, and its checkpoints.

The loop reads only `model.loss(*batch) -> (loss, summaries)`: what a batch holds is the
business of the model and of the stream that feeds it.
"""
import contextlib
import io
import os
import re
import signal
import time

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from codebase import UserError, files, runtime

LOG_EVERY = 50  # iterations between the TensorBoard scalars
LR = 1e-3  # Adam's learning rate, the course's


def checkpoint_path(ckpt_dir, iteration):
    return os.path.join(ckpt_dir, f"model-{iteration:05d}.pt")


def list_checkpoints(ckpt_dir):
    """Returns [(iteration, path)] of the checkpoints in ckpt_dir, oldest first."""
    if not os.path.isdir(ckpt_dir):
        return []
    found = (re.fullmatch(r"model-(\d+)\.pt", f) for f in os.listdir(ckpt_dir))
    return sorted((int(m[1]), os.path.join(ckpt_dir, m[0])) for m in found if m)


def save_checkpoint(path, model, optimizer, iteration, seconds):
    """Everything a run needs to continue: weights, optimizer, iteration, clock and RNG state.

    Written whole or not at all (files.write), so a crash never leaves half a checkpoint.
    """
    state = {
        "model": type(model).__name__, "config": model.config, "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(), "iteration": iteration, "seconds": seconds,
        "rng": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    buffer = io.BytesIO()  # torch.save to a file fails on a full disk without saying so
    torch.save(state, buffer)
    files.write(path, buffer.getvalue())


def read_checkpoint(path, hint, device="cpu", keys=("state_dict", "config", "iteration")):
    """The dict a checkpoint holds, its tensors on device; UserError "<path> is corrupt ...; <hint>"
    when it is not a checkpoint or lacks one of keys."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        for key in keys:
            state[key]
    except Exception as e:
        raise UserError(f"{path} is corrupt or not a checkpoint ({type(e).__name__}); {hint}") from None
    return state


def load_weights(model, state_dict, path):
    """model.load_state_dict(state_dict), with UserError when the tensors do not fit the model."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        detail = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise UserError(f"{path} does not fit this model ({detail.rstrip('.')}); delete it, or train "
                        "afresh with --overwrite") from None


def load_checkpoint(path, model, optimizer=None):
    """Load weights into model (and, given an optimizer, its state and the RNG state too).

    Returns the checkpoint's dict (iteration, seconds, ...). Raises UserError when the file is
    missing, corrupt, or holds another model or configuration.
    """
    if not os.path.exists(path):
        found = [os.path.basename(p) for _, p in list_checkpoints(os.path.dirname(path))]
        raise UserError(f"no checkpoint {path} (found: {', '.join(found) or 'none'}); train first "
                        "with --train 1, or pass the --iter_max of an existing checkpoint")
    state = read_checkpoint(path, "delete it, or load another with --iter_max", next(model.parameters()).device)
    name = type(model).__name__
    if state.get("model") != name:
        raise UserError(f"{path} holds a {state.get('model')}, not a {name}")
    diff = {k: (v, model.config.get(k)) for k, v in state["config"].items() if model.config.get(k) != v}
    if diff:
        said = ", ".join(f"{k}={a} (this run: {b})" for k, (a, b) in diff.items())
        raise UserError(f"{path} was trained with {said}; pass matching flags")
    load_weights(model, state["state_dict"], path)
    if optimizer is not None:
        resume(state, optimizer)
    return state


def resume(state, optimizer):
    """Restore a checkpoint's dict `state` (see load_checkpoint) into optimizer, and its RNG state."""
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])


def optimizer(model):
    """Adam with the course's learning rate, as every model trains (fused: one kernel for all
    parameters)."""
    return torch.optim.Adam(model.parameters(), lr=LR, fused=True)


def autocast(device, precision):
    """The autocast context of a training step's forward pass. precision "fp32": none (the course's float32
    throughout); "bf16": torch.autocast with bfloat16, under which the networks' matrix products
    and activations run in bfloat16 while parameters, optimizer, the networks' outputs and the
    loss's sums stay float32 (nets.MLP.forward)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def compiled(model):
    """model.loss compiled by torch.compile: its forward and, through AOTAutograd, its backward as
    generated code. Its random draws go through torch's generator as eager ones do
    (fallback_random), so a seed draws what it draws eagerly and a resumed run goes on exactly."""
    import torch._inductor.config
    torch._inductor.config.fallback_random = True
    return torch.compile(model.loss)


def step(model, optimizer, batch, precision="fp32", loss_of=None):
    """One training step: the loss of model.loss(*batch) (matrix products in `precision`, see
    autocast; loss_of: model.loss, the default, or compiled(model)), its gradients, one optimizer
    update; no update when the loss is not finite (the parameters stay as they were).

    Returns loss, summaries: model.loss's (a scalar tensor and {tag: scalar tensor})
    """
    with autocast(next(model.parameters()).device, precision):
        loss, summaries = (loss_of or model.loss)(*batch)
    if torch.isfinite(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return loss, summaries


def train(model, optimizer, batches, ckpt_dir, log_dir, iter_max, iter_save, start=0, seconds=0.0, images=None,
          precision="fp32", compile=False, learning_rate=None):
    """Run iterations start + 1 .. iter_max, checkpointing every iter_save and at the end.

    batches: iterator of tuples, each passed as model.loss(*batch)
    start, seconds: the iteration and training time already done (by the run being resumed)
    images: (model) -> {tag: image tensor (3, H, W)}, logged to TensorBoard at every checkpoint
        (drawn with the RNG state set aside, so training goes on exactly as without them)
    precision: "fp32" or "bf16", the matrix products' (see autocast); compile: steps of compiled(model)
    learning_rate: (iteration) -> the optimizer's learning rate at that step, or None: its own throughout
    Returns: float: total training seconds. Raises UserError on a non-finite loss (keeping the
    last good checkpoint) and Interrupted on Ctrl-C or SIGTERM (after saving one).
    """
    model.train()
    begun = time.perf_counter() - seconds  # the compilation, at the first step, counts as training
    last = None
    loss_of = compiled(model) if compile else None
    # The signals are taken over before the TensorBoard file appears: once it is there, Ctrl-C or
    # SIGTERM saves a checkpoint.
    with runtime.StopOnSignal() as stop, SummaryWriter(log_dir, purge_step=start + 1 if start else None) as writer, \
            tqdm(total=iter_max, initial=start, dynamic_ncols=True) as bar:
        for i in range(start + 1, iter_max + 1):
            if learning_rate:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(i)
            try:
                loss, summaries = step(model, optimizer, next(batches), precision, loss_of)
            except Exception as e:
                if compile and type(e).__module__.startswith(("torch._dynamo", "torch._inductor")):
                    raise UserError(f"torch.compile failed at iteration {i} ({type(e).__name__}: "
                                    f"{str(e).strip().splitlines()[0][:200]}); run without --compile") from None
                raise
            if not torch.isfinite(loss):
                raise UserError(
                    f"the loss became {loss.item()} at iteration {i}; training stopped; last good "
                    f"checkpoint: {last or 'none'}")
            bar.update()
            if i % LOG_EVERY == 0:
                bar.set_postfix(loss=f"{loss.item():.2f}")
                for tag, value in summaries.items():
                    writer.add_scalar(tag, value.item(), i)
            if i % iter_save == 0 or i == iter_max or stop.received:
                last = checkpoint_path(ckpt_dir, i)
                save_checkpoint(last, model, optimizer, i, time.perf_counter() - begun)
                if images:
                    log_images(writer, images, model, i)
            if stop.received:
                raise runtime.Interrupted(f"{signal.Signals(stop.received).name} at iteration {i}: saved "
                                          f"{last}; run the same command with --resume to continue",
                                          stop.received)
    return time.perf_counter() - begun


def rng_set_aside():
    """A context in which the CPU's and the current GPU's random draws leave no trace: their
    generators' states are restored on exit."""
    return torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else [])


def log_images(writer, images, model, step):
    """Log images(model): {tag: tensor: (3, H, W) in [0, 1]} to TensorBoard, drawn with the RNG
    state set aside and restored, so what follows draws what it would have drawn without them."""
    with rng_set_aside():
        for tag, image in images(model).items():
            writer.add_image(tag, image, step)
