"""codebase.nets: the split (a, y) layer is the course's single layer over the concatenation."""
import torch
from torch import nn

from codebase.nets import ConcatLinear
from codebase.ssvae import SSVAE


def test_concat_linear_is_one_linear_over_the_concatenation():
    a, y = torch.randn(5, 784), torch.eye(10)[torch.arange(5)]
    torch.manual_seed(0)
    split = ConcatLinear(784, 10, 300)
    torch.manual_seed(0)
    single = nn.Linear(794, 300)
    assert torch.allclose(split(a, y), single(torch.cat([a, y], -1)), atol=1e-5)
    # every column drawn with the bound of the whole fan-in, 1 / sqrt(794): none of the label's
    # columns is wider, as it would be with a layer of its own (fan-in 10)
    assert split.weight[:, 784:].abs().max() <= 794 ** -0.5


def test_concat_linear_broadcasts_every_label_against_one_input():
    layer = ConcatLinear(3, 4, 2)
    a, y = torch.randn(6, 3), torch.eye(4).unsqueeze(1)  # (6, 3) against (4, 1, 4)
    out = layer(a, y)
    assert out.shape == (4, 6, 2)
    for label in range(4):
        want = layer(a, torch.eye(4)[label].expand(6, 4))
        assert torch.allclose(out[label], want, atol=1e-6)


def course_ssvae(z_dim=64, y_dim=10):
    """The course's SSVAE networks, built as its code builds them: encoder, decoder, classifier."""
    def mlp(d_in, d_out, act):
        return nn.Sequential(nn.Linear(d_in, 300), act(), nn.Linear(300, 300), act(), nn.Linear(300, d_out))
    return mlp(784 + y_dim, 2 * z_dim, nn.ELU), mlp(z_dim + y_dim, 784, nn.ELU), mlp(784, y_dim, nn.ReLU)


def test_seeded_ssvae_starts_as_the_courses():
    torch.manual_seed(3)
    model = SSVAE()
    torch.manual_seed(3)
    enc, dec, cls = course_ssvae()
    x, y, z = torch.rand(4, 784), torch.eye(10)[[1, 4, 7, 9]], torch.randn(4, 64)
    m, v = model.enc(x, y)
    h = enc(torch.cat([x, y], -1))
    assert torch.allclose(m, h[:, :64], atol=1e-5)
    assert torch.allclose(v, nn.functional.softplus(h[:, 64:]) + 1e-8, atol=1e-5)
    assert torch.allclose(model.dec(z, y), dec(torch.cat([z, y], -1)), atol=1e-5)
    assert torch.allclose(model.cls(x), cls(x), atol=1e-5)
