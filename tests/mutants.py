"""The mutation check: one-line bugs planted, one at a time, in a scratch copy of the project, each
run against the tests that should catch it. Prints each mutant and whether a test failed on it
("killed"); exits 1 if any mutant survives. Not part of CI: it runs parts of the suite many
times (about 10 minutes on 2 cores).

    python tests/mutants.py                  # every mutant
    python tests/mutants.py "IWAE" "binar"   # those whose name contains one of these words
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = (".git", "data", "checkpoints", "logs", ".dev", "__pycache__", ".pytest_cache")

# (name, file, the line's text as it is, the text planted instead, the tests that should catch it)
MUTANTS = [
    ("kl_normal's sign", "codebase/utils.py",
     "return 0.5 * (pv.log() - qv.log() + (qv + (qm - pm).pow(2)) / pv - 1).sum(-1)",
     "return -0.5 * (pv.log() - qv.log() + (qv + (qm - pm).pow(2)) / pv - 1).sum(-1)", ["tests/test_utils.py"]),
    ("log_normal without 2 pi", "codebase/utils.py",
     "return -0.5 * (((x - m).pow(2) * v.reciprocal()).sum(-1) + log_det + d * LOG_2PI)",
     "return -0.5 * (((x - m).pow(2) * v.reciprocal()).sum(-1) + log_det)", ["tests/test_utils.py"]),
    ("log_mean_exp without - log n", "codebase/utils.py",
     "return torch.logsumexp(x, dim) - math.log(x.size(dim))", "return torch.logsumexp(x, dim)",
     ["tests/test_utils.py"]),
    ("the mixture without 1/k", "codebase/utils.py",
     "return log_mean_exp(-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI), dim=-1)",
     "return torch.logsumexp(-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI), dim=-1)", ["tests/test_utils.py"]),
    ("the mixture's logsumexp as a max", "codebase/utils.py",
     "return log_mean_exp(-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI), dim=-1)",
     "return (-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI)).amax(-1) - math.log(m.size(-2))",
     ["tests/test_utils.py"]),
    ("the VAE trained with the KL's sign flipped", "codebase/vae.py",
     "loss = rec + self.beta * kl", "loss = rec - self.beta * kl",
     ["tests/test_models.py::test_short_training_lowers_the_test_bound"]),
    ("the VAE's IWAE without - log k", "codebase/vae.py",
     "niwae = -utils.log_mean_exp(log_w, dim=0)", "niwae = -torch.logsumexp(log_w, 0)",
     ["tests/test_models.py::test_iwae_tightens_towards_log_p_x_and_iwae_1_is_the_elbo",
      "tests/test_run.py::test_vae_prints_the_graded_lines_and_writes_its_outputs"]),
    ("IWAE averaging the log-weights", "codebase/vae.py",
     "niwae = -utils.log_mean_exp(log_w, dim=0)", "niwae = -log_w.mean(0)", ["tests/test_models.py"]),
    ("VAE.sample_z uniform, not normal", "codebase/vae.py",
     "return torch.randn(n, self.z_dim, dtype=w.dtype, device=w.device)",
     "return torch.rand(n, self.z_dim, dtype=w.dtype, device=w.device)", ["tests/test_models.py"]),
    ("the SSVAE's sampled y instead of the exact sum", "codebase/ssvae.py",
     "kl_z, rec = (q_y * kl_z.t()).sum(-1), (q_y * rec.t()).sum(-1)  # E_q(y|x): (batch,)",
     "y_ = torch.multinomial(q_y, 1); kl_z, rec = kl_z.t().gather(1, y_)[:, 0], rec.t().gather(1, y_)[:, 0]",
     ["tests/test_models.py"]),
    ("the SSVAE ignoring y when it samples p(x | y)", "codebase/ssvae.py",
     "return torch.sigmoid(self.dec(z, F.one_hot(y, self.y_dim).to(z.dtype)))",
     "return torch.sigmoid(self.dec(z, torch.zeros(len(y), self.y_dim, dtype=z.dtype)))", ["tests/test_models.py"]),
    ("binarization at 0.5", "codebase/data.py",
     "return (u < x.float() / 255).float()", "return (x.float() / 255 > 0.5).float()", ["tests/test_data.py"]),
    ("the course subset's indices shifted by one", "codebase/data.py",
     "return torch.cat([torch.nonzero(y == c).flatten()[torch.tensor(i)] for c, i in enumerate(idx)])",
     "return torch.cat([torch.nonzero(y == c).flatten()[torch.tensor(i) + 1] for c, i in enumerate(idx)])",
     ["tests/test_data.py"]),
    ("the accuracy on the binarized images, not the grey levels", "codebase/evaluate.py",
     'out = {"accuracy": score(mnist.test_x.float() / 255, mnist.test_y),',
     'out = {"accuracy": score(mnist.test_binary, mnist.test_y),',
     ["tests/test_evaluate.py"]),
    ("TensorBoard's KL and Rec swapped", "codebase/vae.py",
     'return loss, {"train/loss": loss, "gen/elbo": -nelbo, "gen/kl_z": kl, "gen/rec": rec}',
     'return loss, {"train/loss": loss, "gen/elbo": -nelbo, "gen/kl_z": rec, "gen/rec": kl}', ["tests/test_run.py"]),
    ("TensorBoard's scalars one iteration off", "codebase/train.py",
     "writer.add_scalar(tag, value.item(), i)", "writer.add_scalar(tag, value.item(), i - 1)", ["tests/test_run.py"]),
    ("a checkpoint of other shapes ends in a traceback", "codebase/train.py",
     "except RuntimeError as e:", "except KeyError as e:", ["tests/test_run.py"]),
    ("--resume with --train 0 let through", "codebase/flags.py",
     "if (args.resume or args.overwrite) and not args.train:", "if False:", ["tests/test_run.py"]),
    ("a resume that does not add the training time up", "codebase/train.py",
     "begun = time.perf_counter() - seconds", "begun = time.perf_counter()", ["tests/test_run.py"]),
    ("a non-finite loss trained on", "codebase/train.py",
     "if not torch.isfinite(loss):\n", "if False:\n", ["tests/test_run.py", "tests/test_train.py"]),
    ("SIGTERM not passed on to the --jobs replicates", "codebase/replicates.py",
     "child.send_signal(stop.received)", "pass",
     ["tests/test_processes.py::test_sigterm_to_the_parent_of_jobs_reaches_every_replicate"]),
    ("bf16 training's network outputs left in bfloat16", "codebase/nets.py",
     "return self.net(self.inp(a, y)).to(self.inp.weight.dtype)", "return self.net(self.inp(a, y))",
     ["tests/test_nets.py", "tests/test_train.py"]),
    ("the float32 default trained with bfloat16 products", "codebase/train.py",
     'if precision == "fp32":', "if False:", ["tests/test_train.py", "tests/test_run.py"]),
    ("bf16 let through on a CPU without bfloat16 instructions", "codebase/runtime.py",
     'if cpu_flags() & {"amx_bf16", "avx512_bf16", "bf16"}:', "if True:", ["tests/test_run.py"]),
    ("subnormals not flushed", "codebase/runtime.py",
     "    flush_denormals()\n", "    pass\n", ["tests/test_runtime.py"]),
    ("M1+M2's code dimensions all kept", "codebase/m1m2.py",
     "self._fit_m2(self.m1.enc(x)[0].std(0) > threshold)", "self._fit_m2(self.m1.enc(x)[0].std(0) >= 0)",
     ["tests/test_m1m2.py::test_keep_active_keeps_the_dimensions_whose_mean_varies_and_builds_m2_on_them"]),
    ("compiled steps drawing from the compiler's own generator", "codebase/train.py",
     "torch._inductor.config.fallback_random = True", "torch._inductor.config.fallback_random = False",
     ["tests/test_run.py::test_compiled_steps_equal_eager_ones_within_float_tolerance",
      "tests/test_run.py::test_a_compiled_run_is_named_recorded_and_resumed_as_such"]),
    ("a full disk leaves the half-written temporary file", "codebase/files.py",
     "            os.remove(tmp)\n", "            pass\n", ["tests/test_faults.py"]),
    ("a full disk at a checkpoint ends in a traceback", "codebase/run.py",
     "    except OSError as e:\n        found = train.list_checkpoints",
     "    except KeyError as e:\n        found = train.list_checkpoints", ["tests/test_faults.py"]),
    ("a checkpoint's M1+M2 loaded without refitting M2", "codebase/m1m2.py",
     '            self._fit_m2(state_dict["active"])', "            pass",
     ["tests/test_m1m2.py"]),
]


def run(name, path, before, after, tests, data_dir):
    """Plant one mutant in a scratch copy and run its tests. Returns 'killed', 'SURVIVED' or why not run."""
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(ROOT, scratch, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*SKIP))
        target = os.path.join(scratch, path)
        with open(target) as f:
            text = f.read()
        if text.count(before) != 1:
            return f"NOT PLANTED: the line occurs {text.count(before)} times in {path}"
        with open(target, "w") as f:
            f.write(text.replace(before, after))
        env = dict(os.environ, MNIST_DATA_DIR=data_dir)
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                              cwd=scratch, env=env, capture_output=True, text=True)
        return {0: "SURVIVED", 1: "killed"}.get(done.returncode, f"NOT RUN: pytest exit {done.returncode}")


def main(words):
    data_dir = os.path.abspath(os.environ.get("MNIST_DATA_DIR", os.path.join(ROOT, "data")))
    chosen = [m for m in MUTANTS if not words or any(w.lower() in m[0].lower() for w in words)]
    outcomes = []
    for mutant in chosen:
        begun = time.perf_counter()
        outcome = run(*mutant, data_dir)
        outcomes.append(outcome)
        print(f"{outcome:9} {time.perf_counter() - begun:5.0f} s  {mutant[0]}", flush=True)
    killed = outcomes.count("killed")
    print(f"{killed} of {len(chosen)} mutants killed")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
