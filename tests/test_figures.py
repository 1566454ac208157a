"""codebase.draw and the command codebase.figures: sizes, what each cell of a grid shows, the
component order, the command."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import save_image

from codebase import draw, figures, flags, models, train
from codebase.gmvae import GMVAE
from codebase.ssvae import SSVAE
from codebase.vae import VAE
from conftest import DATA_DIR

K = 30  # components of the test GMVAE: two rows of the 25-column grid


def size(rows, cols):
    """PIL's (width, height) of a grid of 28 x 28 digits with padding 2"""
    return cols * 30 + 2, rows * 30 + 2


def cell(image, row, col):
    """image: tensor: (3, H, W): a grid -> tensor: (784,): the digit at (row, col)"""
    return image[0, 2 + 30 * row:30 + 30 * row, 2 + 30 * col:30 + 30 * col].reshape(784)


FIRST_THREE = {"reconstructions": size(2, 20), "interpolations": size(10, 10), "latent": (600, 500)}


@pytest.mark.parametrize("make, expected", [
    (lambda: VAE(z_dim=2), FIRST_THREE),
    (lambda: GMVAE(z_dim=2, k=K), {**FIRST_THREE, "components": size(math.ceil(K / 25), min(K, 25))}),
    (SSVAE, {"analogies": size(10, 11)}),
], ids=["vae", "gmvae", "ssvae"])
@pytest.mark.slow
def test_write_draws_the_declared_figures_of_each_model_at_their_size(make, expected, mnist, tmp_path):
    torch.manual_seed(0)
    model = make()
    images = draw.write(model, mnist, str(tmp_path / "log"), model.pictures)
    assert sorted(os.listdir(tmp_path / "log")) == sorted(f"{name}.png" for name in expected)
    assert images.keys() == expected.keys()
    for name, (w, h) in expected.items():
        assert Image.open(tmp_path / "log" / f"{name}.png").size == (w, h)
        assert images[name].shape == (3, h, w) and 0 <= images[name].min() and images[name].max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("cls", models.ALL, ids=lambda cls: cls.__name__)
def test_every_model_draws_each_picture_it_declares(cls, mnist, tmp_path):
    """Whatever the model: a PNG per declared picture, of the size of the image returned, in [0, 1]."""
    torch.manual_seed(0)
    model = cls(**cls.configuration(flags.parser(cls).parse_args([])))
    images = draw.write(model, mnist, str(tmp_path), model.pictures)
    assert images.keys() == model.pictures.keys() and images
    assert sorted(os.listdir(tmp_path)) == sorted(f"{name}.png" for name in model.pictures)
    for name, image in images.items():
        assert image.dim() == 3 and image.shape[0] == 3 and 0 <= image.min() and image.max() <= 1
        assert Image.open(tmp_path / f"{name}.png").size == (image.shape[2], image.shape[1])


@pytest.mark.slow
def test_write_leaves_the_global_rng_and_the_mode_alone(mnist, tmp_path):
    model = GMVAE(z_dim=2, k=5)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    draw.write(model, mnist, str(tmp_path), GMVAE.pictures)
    assert torch.equal(torch.get_rng_state(), state) and model.training


@torch.no_grad()
def test_reconstructions_and_interpolations_decode_posterior_means(mnist):
    torch.manual_seed(0)
    model = VAE(z_dim=3)

    def decoded(x):
        return torch.sigmoid(model.dec(model.enc(x)[0]))

    rec = draw.reconstructions(model, mnist)
    for c in range(10):
        for j in range(2):
            x = mnist.test_subset[10 * c + j]
            torch.testing.assert_close(cell(rec, 0, 2 * c + j), x)
            torch.testing.assert_close(cell(rec, 1, 2 * c + j), decoded(x), atol=1e-6, rtol=0)
    lines = draw.interpolations(model, mnist)
    for c in range(10):  # the ends of row c: the first subset images of classes c and c + 1
        torch.testing.assert_close(cell(lines, c, 0), decoded(mnist.test_subset[10 * c]), atol=1e-6, rtol=0)
        torch.testing.assert_close(cell(lines, c, 9), decoded(mnist.test_subset[10 * ((c + 1) % 10)]),
                                   atol=1e-6, rtol=0)


@pytest.mark.slow
def test_latent_of_a_tiny_model(mnist, tmp_path):
    for z_dim in (1, 2):
        image = draw.latent(VAE(z_dim=z_dim), mnist)
        assert image.shape == (3, 500, 600) and image.dtype == torch.float32
        assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.05  # not a blank canvas
    save_image(image, tmp_path / "latent.png")
    assert Image.open(tmp_path / "latent.png").size == (600, 500)


@torch.no_grad()
def test_analogies_put_the_reconstruction_under_the_predicted_label(mnist):
    torch.manual_seed(0)
    model = SSVAE()
    image = draw.analogies(model, mnist)
    i = [mnist.test_y.tolist().index(c) for c in range(10)]  # the first test image of each class
    grey, binary = mnist.test_x[i].float() / 255, mnist.test_binary[i]
    yhat = model.cls(grey).argmax(-1)
    y = F.one_hot(yhat, 10).float()
    m, _ = model.enc(binary, y)
    reconstruction = torch.sigmoid(model.dec(m, y))
    for r in range(10):
        torch.testing.assert_close(cell(image, r, 0), grey[r])
        torch.testing.assert_close(cell(image, r, 1 + yhat[r]), reconstruction[r], atol=1e-6, rtol=0)
        other = (yhat[r] + 1) % 10
        styled = torch.sigmoid(model.dec(m[r], F.one_hot(other, 10).float()))
        torch.testing.assert_close(cell(image, r, 1 + other), styled, atol=1e-6, rtol=0)
    # Rows with different labels: column yhat_i of row i is image i's reconstruction.
    yhat = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    rows = draw.analogy_rows(model, binary, yhat)
    assert rows.shape == (10, 10, 784)
    y = F.one_hot(yhat, 10).float()
    torch.testing.assert_close(rows[torch.arange(10), yhat], torch.sigmoid(model.dec(model.enc(binary, y)[0], y)))


def hand_built_gmvae(variance):
    """GMVAE(z_dim=2, k=3), components at (-10, -10), (0, 0), (10, 10), each with this variance."""
    model = GMVAE(z_dim=2, k=3)
    means = torch.tensor([[-10.0, -10.0], [0.0, 0.0], [10.0, 10.0]])
    pre = torch.full((3, 2), math.log(math.expm1(variance)))  # softplus(pre) = variance
    with torch.no_grad():
        model.z_pre.copy_(torch.cat([means, pre]).unsqueeze(0))
    m, v = model.prior()
    torch.testing.assert_close(m[0], means)
    torch.testing.assert_close(v[0], torch.full((3, 2), variance))
    return model


@torch.no_grad()
def test_component_order_follows_the_posterior_mass():
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.tensor([10.0, 10.0]) + 0.05 * torch.randn(7, 2, generator=g),
                   torch.tensor([-10.0, -10.0]) + 0.05 * torch.randn(2, 2, generator=g)])
    order = draw.component_order(hand_built_gmvae(0.01), z, chunk=4)
    assert order.dtype == torch.long and order.tolist() == [2, 0, 1]  # the unused (0, 0) last
    # Soft mass, not counts of nearest components: 3 points at (s, s) give each p(1 | z) = 0.6,
    # p(2 | z) = 0.4 (with variance v: log(p1 / p2) = (100 - 20 s) / v); 2 points sit on (10, 10).
    # Mass: component 2 gets 3 * 0.4 + 2 = 3.2, component 1 gets 1.8, though it is nearest to 3.
    v = 10.0
    s = (100 - v * math.log(1.5)) / 20
    z = torch.tensor([[s, s]] * 3 + [[10.0, 10.0]] * 2)
    assert draw.component_order(hand_built_gmvae(v), z).tolist() == [2, 1, 0]


def save(ckpt_dir, model, iteration):
    optimizer = torch.optim.Adam(model.parameters())
    train.save_checkpoint(train.checkpoint_path(str(ckpt_dir), iteration), model, optimizer, iteration, 1.0)


@pytest.mark.slow
def test_command_draws_the_newest_checkpoint(mnist, tmp_path, capsys):
    ckpt = tmp_path / "checkpoints" / "run"
    ckpt.mkdir(parents=True)
    torch.manual_seed(0)
    save(ckpt, GMVAE(z_dim=2, k=K), 1)
    newest = GMVAE(z_dim=2, k=K)
    save(ckpt, newest, 2)
    out = tmp_path / "out"
    assert figures.main([str(ckpt), "--out", str(out), "--data-dir", DATA_DIR]) == 0
    assert "model-00002.pt" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["components.png", "interpolations.png", "latent.png", "reconstructions.png"]
    with torch.no_grad():
        save_image(draw.reconstructions(newest, mnist), tmp_path / "expected.png")
    assert np.array_equal(np.asarray(Image.open(out / "reconstructions.png")),
                          np.asarray(Image.open(tmp_path / "expected.png")))


def test_command_writes_into_logs_by_default(workdir):
    ckpt = workdir / "checkpoints" / "model=ssvae_run=0000"
    ckpt.mkdir(parents=True)
    torch.manual_seed(0)
    save(ckpt, SSVAE(z_dim=4), 3)
    assert figures.main([str(ckpt) + "/"]) == 0  # MNIST from $MNIST_DATA_DIR, set by the fixture
    assert os.listdir(workdir / "logs" / "model=ssvae_run=0000") == ["analogies.png"]


@pytest.mark.parametrize("content, message", [
    (None, "no checkpoint model-NNNNN.pt in"),
    (b"not a checkpoint", "is corrupt or not a checkpoint"),
    ({"model": "PixelCNN", "config": {}, "state_dict": {}}, "holds a model 'PixelCNN'"),
    ({"model": "SSVAE", "config": {"gen_weight": 0.0}, "state_dict": SSVAE(gen_weight=0.0).state_dict()},
     "with -gw 0 only the classifier trains"),
    ({"model": "VAE", "config": {"z_dim": 3}, "state_dict": VAE(z_dim=4).state_dict()}, "does not fit this model"),
], ids=["empty", "corrupt", "unknown model", "untrained decoder", "other shapes"])
def test_command_errors_are_one_line(content, message, tmp_path, capsys):
    path = tmp_path / "model-00001.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    assert figures.main([str(tmp_path), "--out", str(tmp_path / "out"), "--data-dir", DATA_DIR]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
