"""The run scripts end to end, as a user runs them: output, files, errors, overwrite and resume."""
import json
import math
import os
import platform
import re
import shlex
import signal

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

import run_gmvae
import run_ssvae
import run_vae
from codebase import data, evaluate, runtime, train
from codebase.vae import VAE as VAEModel

FLOAT = r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)"
VAE = "model=vae_z=10_beta=1_run=0000"


@torch.no_grad()
def reference_bounds(model, x, k=1000):
    """KL (closed form), Rec and -ELBO (the first 100 samples) and -IWAE-k of model on x, from
    torch.distributions with k samples of z per image: floats, means over the images."""
    m, v = model.enc(x)
    q, p = Independent(Normal(m, v.sqrt()), 1), Independent(Normal(torch.zeros_like(m), torch.ones_like(v)), 1)
    z = q.sample((k,))  # (k, images, z_dim)
    log_px = Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1)
    log_w = log_px + p.log_prob(z) - q.log_prob(z)
    return {"KL": kl_divergence(q, p).mean().item(), "Rec": -log_px[:100].mean().item(),
            "NELBO": -log_w[:100].mean().item(), f"IWAE-{k}": -(torch.logsumexp(log_w, 0) - math.log(k)).mean().item()}


@pytest.mark.slow
def test_vae_prints_the_graded_lines_and_writes_its_outputs(workdir, capsys, mnist):
    assert run_vae.main(["--iter_max", "40", "--iter_save", "20", "--iw_full", "2"]) == 0
    out, err = capsys.readouterr()
    assert err.rstrip().split("\n")[-1] == (f"outputs: logs/{VAE}/ (metrics.json, the sample grid and pictures, "
                                            f"TensorBoard's curves); checkpoint: checkpoints/{VAE}/model-00040.pt")
    assert "outputs:" not in out  # stdout, which graders read, holds the metrics alone
    nelbo, kl, rec = map(float, re.search(rf"^NELBO: {FLOAT}\. KL: {FLOAT}\. Rec: {FLOAT}$", out, re.M).groups())
    iwae = [float(re.search(rf"^Negative IWAE-{k}: {FLOAT}$", out, re.M)[1]) for k in (1, 10, 100, 1000)]
    # The printed figures are those of the saved model on the course's 100 test images, within
    # the Monte Carlo error of each (measured: KL exact, -ELBO and Rec 0.3, IWAE-1000 0.07).
    model = VAEModel()
    model.load_state_dict(torch.load(f"checkpoints/{VAE}/model-00040.pt", weights_only=True)["state_dict"])
    torch.manual_seed(1)
    want = reference_bounds(model, mnist.test_subset)
    assert kl == pytest.approx(want["KL"], rel=1e-5) and nelbo == pytest.approx(kl + rec, rel=1e-5)
    assert rec == pytest.approx(want["Rec"], abs=1.5) and nelbo == pytest.approx(want["NELBO"], abs=1.5)
    assert iwae[0] == pytest.approx(nelbo, abs=1.5) and iwae[3] == pytest.approx(want["IWAE-1000"], abs=0.3)
    assert iwae[0] > iwae[1] > iwae[2] > iwae[3]
    full = re.search(rf"^Full test set \(10000 images\): NELBO: {FLOAT} ± {FLOAT}\. IWAE-2: {FLOAT} ± {FLOAT}$",
                     out, re.M)
    assert 0.2 < float(full[2]) < 5 and float(full[3]) < float(full[1])
    assert sorted(os.listdir(f"checkpoints/{VAE}")) == ["model-00020.pt", "model-00040.pt"]
    record = json.load(open(f"logs/{VAE}/metrics.json"))
    assert record["metrics"]["NELBO"] == nelbo and record["seed"] == 0 and record["iterations"] == 40
    assert record["command"] == "python run_vae.py --iter_max 40 --iter_save 20 --iw_full 2"
    assert record["metrics"]["full/IWAE-2"] == pytest.approx(float(full[3]), abs=0.01)
    assert Image.open(f"logs/{VAE}/samples.png").size == (20 * 30 + 2, 10 * 30 + 2)  # 10 x 20 digits
    assert {"reconstructions.png", "interpolations.png", "latent.png"} <= set(os.listdir(f"logs/{VAE}"))
    events = EventAccumulator(f"logs/{VAE}", size_guidance={"images": 0})
    events.Reload()
    images = events.Tags()["images"]
    assert [e.step for e in events.Images("samples")] == [20, 40]  # the samples grid at every checkpoint
    assert {"figures/reconstructions", "figures/interpolations", "figures/latent"} <= set(images)


@pytest.mark.slow
def test_gmvae_cli(workdir, capsys):
    assert run_gmvae.main(["--iw_full", "0", "--iter_max", "20", "--k", "20"]) == 0
    assert re.search(rf"^NELBO: {FLOAT}\. KL: {FLOAT}\. Rec: {FLOAT}$", capsys.readouterr().out, re.M)
    for png in ("samples", "components", "latent"):
        assert os.path.exists(f"logs/model=gmvae_z=10_k=20_run=0000/{png}.png")


def test_ssvae_supervised_cli_with_one_dash_flags(workdir, capsys):
    assert run_ssvae.main(["-gw", "0", "--iter_max", "50"]) == 0
    accuracy = float(re.search(rf"^Test set classification accuracy: {FLOAT}$", capsys.readouterr().out, re.M)[1])
    assert 0.3 < accuracy <= 1
    name = "model=ssvae_gw=0_cw=100_run=0000"
    record = json.load(open(f"logs/{name}/metrics.json"))
    assert record["metrics"]["accuracy"] == accuracy
    # Its decoder never trained: no pictures of it, and the record says why.
    assert not [f for f in os.listdir(f"logs/{name}") if f.endswith(".png")]
    assert "-gw 0 only the classifier trains" in record["undrawn"]


def test_ssvae_draws_a_row_of_samples_per_digit_and_the_analogies(workdir, capsys):
    assert run_ssvae.main(["--iter_max", "2"]) == 0
    name = "model=ssvae_gw=1_cw=100_run=0000"
    assert json.load(open(f"logs/{name}/metrics.json"))["undrawn"] is None
    assert Image.open(f"logs/{name}/samples.png").size == (20 * 30 + 2, 10 * 30 + 2)  # a row per digit
    assert Image.open(f"logs/{name}/analogies.png").size == (11 * 30 + 2, 10 * 30 + 2)  # image + 10 labels


@pytest.mark.slow
def test_replicates_print_mean_and_standard_error(workdir, capsys):
    assert run_vae.main(["--iw_full", "0", "--iter_max", "10", "--runs", "2", "--run", "3"]) == 0
    out = capsys.readouterr().out
    values = [float(v) for v in re.findall(rf"^NELBO: {FLOAT}\. KL", out, re.M)]
    mean, se = map(float, re.search(rf"^NELBO: {FLOAT} ± {FLOAT} \(n=2\)$", out, re.M).groups())
    assert mean == pytest.approx(sum(values) / 2, abs=1e-4)
    assert se == pytest.approx(abs(values[0] - values[1]) / 2, abs=1e-4)  # std / sqrt(2) for n = 2
    assert sorted(os.listdir("logs")) == ["model=vae_z=10_beta=1_run=0003", "model=vae_z=10_beta=1_run=0004"]


@pytest.mark.slow
def test_same_run_reproduces_its_metrics(workdir, capsys):
    run_vae.main(["--iw_full", "0", "--iter_max", "30"])
    first = capsys.readouterr().out
    run_vae.main(["--iw_full", "0", "--iter_max", "30", "--overwrite"])
    assert (re.findall(r"^(?:NELBO|Negative).*$", capsys.readouterr().out, re.M)
            == re.findall(r"^(?:NELBO|Negative).*$", first, re.M))


@pytest.mark.parametrize("script, argv, said", [
    (run_vae, ["--iter_max", "0"], "--iter_max: expected a positive integer, got '0'"),
    (run_vae, ["--iter_save", "-5"], "--iter_save: expected a positive integer"),
    (run_vae, ["--z", "0"], "--z: expected a positive integer"),
    (run_vae, ["--runs", "0"], "--runs: expected a positive integer"),
    (run_vae, ["--beta", "-1"], "--beta: expected a finite number >= 0"),
    (run_vae, ["--beta", "nan"], "--beta: expected a finite number >= 0"),
    (run_gmvae, ["--k", "0"], "--k: expected a positive integer"),
    (run_ssvae, ["-gw", "-1"], "expected a finite number >= 0"),
    (run_ssvae, ["--cw", "-0.5"], "--cw/-cw: expected a finite number >= 0"),
    (run_vae, ["--device", "tpu9"], "unknown device 'tpu9'"),
    (run_vae, ["--device", "cuda:7"], "device 'cuda:7' is not available here"),
    (run_vae, ["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
    (run_vae, ["--resume", "--train", "0"], "--resume and --overwrite go with --train 1"),
    (run_gmvae, ["--overwrite", "--train", "0"], "--resume and --overwrite go with --train 1"),
    (run_vae, ["--precision", "fp16"], "--precision: invalid choice: 'fp16'"),
])
def test_bad_flags_get_one_line(workdir, capsys, script, argv, said):
    with pytest.raises(SystemExit) as e:
        script.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and said in err and err.count("\n") == 1 and "Traceback" not in err
    assert not os.path.exists("logs/.gitignore") and not os.listdir(".")


def error_line(capsys):
    """The one line a run prints on stderr when it fails (after its progress bar, if it trained)."""
    err = capsys.readouterr().err
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("error: ") and "Traceback" not in err
    return last


def test_missing_data_is_one_line(workdir, capsys, monkeypatch):
    monkeypatch.setattr(data.datasets, "MNIST", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert run_vae.main(["--data-dir", "nowhere"]) != 0
    assert "MNIST is not in nowhere/MNIST/raw" in error_line(capsys)


@pytest.mark.slow
def test_an_existing_run_is_never_overwritten_silently(workdir, capsys):
    run_vae.main(["--iw_full", "0", "--iter_max", "10"])
    before = open(f"checkpoints/{VAE}/model-00010.pt", "rb").read()
    capsys.readouterr()
    assert run_vae.main(["--iw_full", "0", "--iter_max", "20"]) != 0
    err = error_line(capsys)
    assert "already exists" in err and "--resume" in err and "--overwrite" in err
    assert open(f"checkpoints/{VAE}/model-00010.pt", "rb").read() == before
    assert run_vae.main(["--iw_full", "0", "--iter_max", "20", "--overwrite"]) == 0
    assert os.listdir(f"checkpoints/{VAE}") == ["model-00020.pt"]


@pytest.mark.slow
def test_train_0_evaluates_a_checkpoint_or_lists_those_there(workdir, capsys):
    run_vae.main(["--iw_full", "0", "--iter_max", "15"])
    trained = capsys.readouterr().out

    assert run_vae.main(["--iw_full", "0", "--iter_max", "15", "--train", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[-5:] == trained.splitlines()[-5:]
    assert run_vae.main(["--iw_full", "0", "--iter_max", "99", "--train", "0"]) != 0
    assert ("no checkpoint checkpoints/model=vae_z=10_beta=1_run=0000/model-00099.pt (found: model-00015.pt)"
            in error_line(capsys))
    assert run_vae.main(["--iw_full", "0", "--iter_max", "15", "--train", "0", "--z", "3"]) != 0  # no run of that name
    error_line(capsys)


@pytest.mark.slow
def test_a_checkpoint_of_another_configuration_is_refused(workdir, capsys):
    run_gmvae.main(["--iw_full", "0", "--iter_max", "5", "--k", "20"])
    os.rename("checkpoints/model=gmvae_z=10_k=20_run=0000", "checkpoints/model=gmvae_z=10_k=30_run=0000")
    capsys.readouterr()
    assert run_gmvae.main(["--iw_full", "0", "--iter_max", "5", "--k", "30", "--train", "0"]) != 0
    assert "was trained with k=20 (this run: 30)" in error_line(capsys)


def test_unwritable_output_is_one_line(workdir, capsys):
    open("checkpoints", "w").close()  # a file where the folder should be
    assert run_vae.main(["--iw_full", "0", "--iter_max", "5"]) != 0
    assert "checkpoints" in error_line(capsys)


@pytest.mark.slow
def test_ctrl_c_then_resume_ends_like_an_uninterrupted_run(workdir, capsys, monkeypatch):
    os.mkdir("straight")
    os.chdir("straight")
    run_vae.main(["--iw_full", "0", "--iter_max", "40", "--iter_save", "100"])
    straight = capsys.readouterr().out
    os.chdir("..")

    batches = VAEModel.batches

    def interrupted(mnist, args, seed, start=0):
        for i, batch in enumerate(batches(mnist, args, seed, start), start=start + 1):
            if i == 17:
                os.kill(os.getpid(), signal.SIGINT)
            yield batch

    monkeypatch.setattr(VAEModel, "batches", staticmethod(interrupted))
    assert run_vae.main(["--iw_full", "0", "--iter_max", "40", "--iter_save", "100"]) == 130
    assert "SIGINT at iteration 17" in error_line(capsys)
    assert os.listdir(f"checkpoints/{VAE}") == ["model-00017.pt"]
    monkeypatch.setattr(VAEModel, "batches", staticmethod(batches))
    assert run_vae.main(["--iw_full", "0", "--iter_max", "40", "--iter_save", "100", "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert "Resuming" in resumed
    assert resumed.splitlines()[-5:] == straight.splitlines()[-5:]


@pytest.mark.slow
def test_a_resumed_run_adds_its_training_time_to_the_checkpoints(workdir, capsys):
    run_vae.main(["--iw_full", "0", "--iter_max", "10"])
    path = f"checkpoints/{VAE}/model-00010.pt"
    state = torch.load(path, weights_only=True)
    state["seconds"] = 1000.0  # as if the first 10 iterations had taken 1000 s
    torch.save(state, path)
    assert run_vae.main(["--iw_full", "0", "--iter_max", "20", "--resume"]) == 0
    seconds = json.load(open(f"logs/{VAE}/metrics.json"))["train_seconds"]
    assert 1000 < seconds < 1000 + 60
    assert 1000 < torch.load(f"checkpoints/{VAE}/model-00020.pt", weights_only=True)["seconds"] <= seconds


@pytest.mark.slow
def test_the_tensorboard_scalars_are_the_losses_of_their_iterations(workdir):
    """Every 50 iterations: train/loss = Rec + beta KL, gen/elbo = -(KL + Rec), of that minibatch."""
    assert run_vae.main(["--iw_full", "0", "--iter_max", "100", "--beta", "2"]) == 0
    events = EventAccumulator("logs/model=vae_z=10_beta=2_run=0000", size_guidance={"scalars": 0})
    events.Reload()
    scalars = {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}
    assert set(scalars) == {"train/loss", "gen/elbo", "gen/kl_z", "gen/rec"}
    assert all(list(v) == [50, 100] for v in scalars.values())
    for i in (50, 100):
        kl, rec = scalars["gen/kl_z"][i], scalars["gen/rec"][i]
        assert 0 < kl < rec and scalars["train/loss"][i] == pytest.approx(rec + 2 * kl, rel=1e-5)
        assert scalars["gen/elbo"][i] == pytest.approx(-(kl + rec), rel=1e-5)
    # the logged loss is the loss at that iteration: lower late than early, as training proceeds
    assert scalars["train/loss"][100] < scalars["train/loss"][50]


def test_a_non_finite_loss_stops_the_run_script_in_one_line(workdir, capsys, monkeypatch):
    class Exploding(VAEModel):
        def loss(self, x):
            self.steps = getattr(self, "steps", 0) + 1
            loss, summaries = super().loss(x)
            return (loss * math.nan if self.steps == 7 else loss), summaries

    monkeypatch.setattr(VAEModel, "from_flags", classmethod(lambda cls, args, seed, mnist: Exploding(args.z)))
    assert run_vae.main(["--iw_full", "0", "--iter_max", "20", "--iter_save", "5"]) == 2
    assert "the loss became nan at iteration 7; training stopped; last good checkpoint: " in error_line(capsys)
    assert os.listdir(f"checkpoints/{VAE}") == ["model-00005.pt"] and not os.path.exists(f"logs/{VAE}/metrics.json")


@pytest.mark.slow
def test_resume_of_replicates_some_not_begun(workdir, capsys):
    """--runs 2 killed during its first replicate: the same command with --resume continues it and
    starts the second, which had nothing to keep"""
    run_vae.main(["--iw_full", "0", "--iter_max", "10", "--iter_save", "5"])
    os.remove(f"checkpoints/{VAE}/model-00010.pt")
    capsys.readouterr()
    assert run_vae.main(["--iw_full", "0", "--iter_max", "10", "--iter_save", "5", "--runs", "2", "--resume"]) == 0
    out, err = capsys.readouterr()
    assert f"Resuming {VAE} from iteration 5" in out
    assert "notice: --resume: model=vae_z=10_beta=1_run=0001 has no checkpoint yet; it starts afresh" in err
    assert os.path.exists("logs/model=vae_z=10_beta=1_run=0001/metrics.json")


@pytest.mark.slow
def test_replicates_are_checked_before_anything_trains(workdir, capsys):
    run_vae.main(["--iw_full", "0", "--iter_max", "5", "--run", "1"])
    capsys.readouterr()
    assert run_vae.main(["--iw_full", "0", "--iter_max", "5", "--runs", "2"]) != 0
    assert "model=vae_z=10_beta=1_run=0001 already exists" in error_line(capsys)
    assert not os.path.exists("logs/model=vae_z=10_beta=1_run=0000")


@pytest.mark.slow
def test_a_record_says_which_code_made_it_and_repeats_bit_for_bit(workdir, capsys):
    """The record names the commit, versions, CPU and threads, and its "repeat" command, run
    alone, recomputes the replicate's metrics exactly (here seed 1 of --runs 2 --jobs 1)."""
    assert run_vae.main(["--iw_full", "0", "--iter_max", "5", "--z", "3", "--runs", "2"]) == 0
    record = json.load(open("logs/model=vae_z=3_beta=1_run=0001/metrics.json"))
    assert record["repeat"] == ("python run_vae.py --iter_max 5 --z 3 --iw_full 0 --run 1 "
                                f"--threads {torch.get_num_threads()}")
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"]) and isinstance(record["dirty"], bool)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["date"])
    assert record["torchvision"] == torchvision.__version__ and record["numpy"] == np.__version__
    assert record["python"] == platform.python_version() and record["cpu"] and record["threads"] >= 1
    os.mkdir("again")
    os.chdir("again")
    capsys.readouterr()
    assert run_vae.main(shlex.split(record["repeat"])[2:]) == 0
    again = json.load(open("logs/model=vae_z=3_beta=1_run=0001/metrics.json"))
    assert again["metrics"] == record["metrics"]


@pytest.mark.slow
def test_a_checkpoint_of_the_right_configuration_but_other_shapes_is_one_line(workdir, capsys):
    run_vae.main(["--iw_full", "0", "--iter_max", "3"])
    path = f"checkpoints/{VAE}/model-00003.pt"
    state = torch.load(path, weights_only=True)
    state["state_dict"]["dec.net.3.bias"] = torch.zeros(5)  # 784 logits expected
    torch.save(state, path)
    capsys.readouterr()
    assert run_vae.main(["--iw_full", "0", "--iter_max", "3", "--train", "0"]) == 2
    assert "does not fit this model (size mismatch for dec.net.3.bias" in error_line(capsys)


def test_bf16_is_refused_in_one_line_where_the_cpu_has_no_bf16(workdir, capsys, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512f"})
    with pytest.raises(SystemExit) as e:
        run_gmvae.main(["--precision", "bf16", "--device", "cpu"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and not os.listdir(".")
    assert "--precision bf16: this CPU (" in err and "has no bfloat16 instructions" in err and "--precision fp32" in err


@pytest.mark.slow
def test_a_bf16_run_is_named_and_recorded_as_such_and_evaluated_in_float32(workdir, capsys, monkeypatch, mnist):
    """(On a CPU without bf16 instructions torch emulates them: the run is slow, not wrong.)"""
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512_bf16"})
    assert run_vae.main(["--precision", "bf16", "--iter_max", "30", "--iw_full", "0", "--z", "3"]) == 0
    name = "model=vae_z=3_beta=1_precision=bf16_run=0000"
    record = json.load(open(f"logs/{name}/metrics.json"))
    assert record["precision"] == "bf16" and "--precision bf16" in record["repeat"]
    # its weights are float32, and evaluated again in float32 they give the printed figures
    state = torch.load(f"checkpoints/{name}/model-00030.pt", weights_only=True)
    assert all(t.dtype == torch.float32 for t in state["state_dict"].values())
    model = VAEModel(z_dim=3)
    model.load_state_dict(state["state_dict"])
    assert record["metrics"]["NELBO"] == evaluate.bounds(model, mnist, iws=(), full_iw=0)["NELBO"]


def test_compiled_steps_equal_eager_ones_within_float_tolerance(mnist):
    """A few steps of train.compiled(model) from the same start: the same losses as eager steps,
    and the same first gradients, to float32 rounding (the generated code sums in another order;
    Adam's first updates are about lr * sign(gradient), so the parameters are compared through
    the losses they give)."""
    runs = []
    for compiled in (False, True):
        torch.manual_seed(0)
        model = VAEModel()
        optimizer = torch.optim.SGD(model.parameters(), lr=0)  # the first step: gradients only
        loss_of = train.compiled(model) if compiled else None
        batches = data.unsupervised(mnist, 0)
        train.step(model, optimizer, next(batches), loss_of=loss_of)
        gradients = torch.cat([p.grad.flatten() for p in model.parameters()])
        optimizer = train.optimizer(model)
        losses = [train.step(model, optimizer, next(batches), loss_of=loss_of)[0].item() for _ in range(3)]
        runs.append((losses, gradients))
    (eager, g_eager), (compiled, g_compiled) = runs
    assert compiled == pytest.approx(eager, rel=1e-5) and eager[0] != eager[-1]
    assert torch.allclose(g_compiled, g_eager, rtol=1e-3, atol=1e-5 * g_eager.abs().max().item())


@pytest.mark.slow
def test_a_compiled_run_is_named_recorded_and_resumed_as_such(workdir, capsys):
    argv = ["--compile", "--iw_full", "0", "--iter_save", "10"]
    os.mkdir("straight")
    os.chdir("straight")
    assert run_vae.main(argv + ["--iter_max", "20"]) == 0
    straight = capsys.readouterr().out.splitlines()[-5:]
    os.chdir("..")
    assert run_vae.main(argv + ["--iter_max", "10"]) == 0
    assert run_vae.main(argv + ["--iter_max", "20", "--resume"]) == 0
    out = capsys.readouterr().out
    name = "model=vae_z=10_beta=1_compile=1_run=0000"
    assert f"Resuming {name} from iteration 10" in out and out.splitlines()[-5:] == straight
    record = json.load(open(f"logs/{name}/metrics.json"))
    assert record["compile"] is True and record["repeat"].startswith("python run_vae.py --iter_max 20 --compile "
                                                                     "--iw_full 0 --run 0 --threads")


def test_compile_where_it_cannot_run_is_one_line(workdir, capsys, monkeypatch):
    monkeypatch.setattr(runtime, "no_compile", lambda device: "torch.compile needs a C++ compiler")
    with pytest.raises(SystemExit) as e:
        run_vae.main(["--compile"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and not os.listdir(".")
    assert err.endswith("--compile: torch.compile needs a C++ compiler; run without --compile (see --help)\n")
    monkeypatch.setattr(runtime, "no_compile", lambda device: None)

    class BackendCompilerFailed(Exception):  # as torch.compile's own error is raised at the first step
        __module__ = "torch._dynamo.exc"

    def failing(model):
        def loss(x):
            raise BackendCompilerFailed("backend='inductor' raised:\nCppCompileError: C++ compile error")
        return loss

    monkeypatch.setattr(train, "compiled", failing)
    assert run_vae.main(["--compile", "--iw_full", "0", "--iter_max", "5"]) == 2
    assert error_line(capsys) == ("error: torch.compile failed at iteration 1 (BackendCompilerFailed: "
                                  "backend='inductor' raised:); run without --compile")
