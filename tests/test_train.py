"""codebase.train: the shared loop and its checkpoints."""
import os
import signal

import pytest
import torch

from codebase import UserError, data, flags, runtime, train
from codebase.gmvae import GMVAE
from codebase.m1m2 import M1M2
from codebase.vae import VAE


def fit(model, batches, tmp_path, iter_max, iter_save=1000, start=0, optimizer=None):
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    dirs = tmp_path / "ckpt", tmp_path / "log"
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    train.train(model, optimizer, batches, str(dirs[0]), str(dirs[1]), iter_max, iter_save, start)
    return optimizer


def random_batches(seed=0):
    g = torch.Generator().manual_seed(seed)
    while True:
        yield (torch.bernoulli(torch.rand(20, 784, generator=g), generator=g),)


def test_loop_saves_and_logs(tmp_path):
    torch.manual_seed(0)
    fit(VAE(), random_batches(), tmp_path, iter_max=120, iter_save=50)
    assert [i for i, _ in train.list_checkpoints(tmp_path / "ckpt")] == [50, 100, 120]
    assert not [f for f in os.listdir(tmp_path / "ckpt") if f.endswith(".tmp")]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "log"))


def test_checkpoint_round_trip(tmp_path):
    """Weights, optimizer, iteration and RNG come back; the file loads with weights_only=True."""
    torch.manual_seed(0)
    model = GMVAE(k=7)
    opt = fit(model, random_batches(), tmp_path, iter_max=5)
    path = train.checkpoint_path(str(tmp_path / "ckpt"), 5)
    assert torch.load(path, weights_only=True)["config"] == {"z_dim": 10, "k": 7}
    rng = torch.get_rng_state()
    torch.manual_seed(123)
    other = GMVAE(k=7)
    other_opt = torch.optim.Adam(other.parameters(), lr=1e-3, fused=True)
    state = train.load_checkpoint(path, other, other_opt)
    assert state["iteration"] == 5 and state["seconds"] > 0
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True))
    assert torch.equal(torch.get_rng_state(), rng)
    assert other_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"] == 5


def test_checkpoint_errors(tmp_path):
    torch.manual_seed(0)
    fit(VAE(z_dim=4), random_batches(), tmp_path, iter_max=3)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(UserError, match=r"no checkpoint .*model-00007.pt \(found: model-00003.pt\)"):
        train.load_checkpoint(train.checkpoint_path(str(ckpt), 7), VAE(z_dim=4))
    with pytest.raises(UserError, match="trained with z_dim=4 \\(this run: 10\\)"):
        train.load_checkpoint(train.checkpoint_path(str(ckpt), 3), VAE(z_dim=10))
    with pytest.raises(UserError, match="holds a VAE, not a GMVAE"):
        train.load_checkpoint(train.checkpoint_path(str(ckpt), 3), GMVAE(z_dim=4))
    (ckpt / "model-00009.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="model-00009.pt is corrupt or not a checkpoint"):
        train.load_checkpoint(str(ckpt / "model-00009.pt"), VAE(z_dim=4))
    good = (ckpt / "model-00003.pt").read_bytes()
    (ckpt / "model-00010.pt").write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(UserError, match="model-00010.pt is corrupt"):
        train.load_checkpoint(str(ckpt / "model-00010.pt"), VAE(z_dim=4))


class Exploding(VAE):
    """A VAE whose loss turns NaN at one iteration."""

    def __init__(self, at):
        super().__init__()
        self.at, self.calls = at, 0

    def loss(self, x):
        self.calls += 1
        loss, summaries = super().loss(x)
        return (loss * float("nan") if self.calls == self.at else loss), summaries


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = Exploding(at=7)
    with pytest.raises(UserError, match=r"became nan at iteration 7; .*last good checkpoint: .*model-00006.pt"):
        fit(model, random_batches(), tmp_path, iter_max=20, iter_save=3)
    assert [i for i, _ in train.list_checkpoints(tmp_path / "ckpt")] == [3, 6]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def interrupted(batches, at):
    """The batches, with a Ctrl-C (SIGINT) arriving while iteration `at` runs."""
    for i, batch in enumerate(batches, start=1):
        if i == at:
            os.kill(os.getpid(), signal.SIGINT)
        yield batch


def test_ctrl_c_saves_and_resume_matches_an_uninterrupted_run(tmp_path, mnist):
    torch.manual_seed(0)
    straight = VAE()
    fit(straight, data.unsupervised(mnist, seed=0), tmp_path / "a", iter_max=30)

    torch.manual_seed(0)
    first = VAE()
    with pytest.raises(runtime.Interrupted, match="SIGINT at iteration 12: saved .*model-00012.pt; .*--resume"):
        fit(first, interrupted(data.unsupervised(mnist, seed=0), at=12), tmp_path / "b", iter_max=30)
    torch.manual_seed(99)  # whatever happens in between, resuming restores the state
    resumed = VAE()
    opt = torch.optim.Adam(resumed.parameters(), lr=1e-3, fused=True)
    state = train.load_checkpoint(train.checkpoint_path(str(tmp_path / "b" / "ckpt"), 12), resumed, opt)
    fit(resumed, data.unsupervised(mnist, seed=0, start=state["iteration"]), tmp_path / "b",
        iter_max=30, start=state["iteration"], optimizer=opt)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_images_at_checkpoints_leave_training_as_it_was(tmp_path):
    """The sample grid drawn at every checkpoint uses the RNG with its state set aside."""
    params = []
    for images in (None, lambda m: {"samples": torch.rand(3, 8, 8) * m.sample_sigmoid(1).mean()}):
        torch.manual_seed(0)
        model = VAE()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        d = tmp_path / str(images is None)
        train.train(model, optimizer, random_batches(), str(d), str(d), 30, 10, images=images)
        params.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(*params)


def test_a_bf16_step_keeps_float32_parameters_optimizer_and_loss_close_to_float32():
    """One step from the same weights and batch: the loss within bfloat16's rounding of the
    float32 loss (not equal: the products did change), every tensor the optimizer keeps float32."""
    batch = next(random_batches())
    losses = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = GMVAE(k=20)
        optimizer = train.optimizer(model)
        torch.manual_seed(1)
        loss, summaries = train.step(model, optimizer, batch, precision)
        losses[precision] = loss.item()
        assert loss.dtype == torch.float32 and all(v.dtype == torch.float32 for v in summaries.values())
        state = [t for s in optimizer.state.values() for t in s.values() if t.is_floating_point()]
        assert all(p.dtype == torch.float32 for p in model.parameters()) and state
        assert all(t.dtype == torch.float32 for t in state)
    assert losses["bf16"] != losses["fp32"] and losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-3)



def test_a_learning_rate_schedule_sets_each_steps_rate(tmp_path):
    """train(learning_rate=f): step i runs at the rate f(i); a constant f(i) = 1e-3 trains as the
    optimizer's own rate does, bit for bit; M1+M2's --lr_end falls from 1e-3 to it along a half
    cosine, and without it there is no schedule."""
    seen, weights = [], []
    for schedule in (lambda i: i / 10, None, lambda i: 1e-3):
        torch.manual_seed(0)
        model = VAE()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        optimizer.register_step_pre_hook(lambda opt, *_: seen.append(opt.param_groups[0]["lr"]))
        d = tmp_path / str(len(weights))
        d.mkdir()
        train.train(model, optimizer, random_batches(), str(d), str(d), 4, 10, learning_rate=schedule)
        weights.append(model.state_dict())
    assert seen == [0.1, 0.2, 0.3, 0.4] + [1e-3] * 8
    assert all(torch.equal(weights[1][k], weights[2][k]) for k in weights[1])
    parse = flags.parser(M1M2).parse_args
    schedule = M1M2.learning_rate(parse(["--lr_end", "1e-4", "--iter_max", "100"]))
    assert [schedule(i) for i in (0, 50, 100)] == pytest.approx([1e-3, 5.5e-4, 1e-4], rel=1e-12)
    assert M1M2.learning_rate(parse([])) is None
