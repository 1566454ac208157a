"""codebase.nets: the split (a, y) layer is the course's single layer over the concatenation;
bfloat16 products under autocast, float32 outputs."""
import copy

import torch
from torch import nn

from codebase import utils
from codebase.nets import ConcatLinear, Decoder, Encoder, ReLU
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


def test_concat_linear_on_rows_of_any_rank_is_no_view_and_its_gradients_are_autograds():
    # A view's in-place update (the label's add_, the ELU after it) would make autograd copy the
    # layer's whole output and gradient (CopySlices): the output of 3-D inputs is no view.
    torch.manual_seed(0)
    layer = ConcatLinear(3, 4, 5)
    a, y = torch.randn(4, 6, 3, requires_grad=True), torch.eye(4).unsqueeze(1)  # (4, 6, 3) against (4, 1, 4)
    out = layer(a, y)
    assert out._base is None and out.shape == (4, 6, 5)
    want = nn.functional.linear(torch.cat([a, y.expand(4, 6, 4)], -1), layer.weight, layer.bias)
    assert torch.allclose(out, want, atol=1e-6)
    g = torch.randn(4, 6, 5)
    got = torch.autograd.grad(utils.elu_(out).mul(g).sum(), (a, layer.weight, layer.bias))
    ref = torch.autograd.grad(nn.functional.elu(want).mul(g).sum(), (a, layer.weight, layer.bias))
    assert all(torch.allclose(x, r, atol=1e-5) for x, r in zip(got, ref, strict=True))


def test_relu_activates_in_place_with_nn_relus_values_and_gradients():
    """nets.ReLU overwrites the layer's fresh output; the outputs and every gradient are out-of-place
    nn.ReLU's, bit for bit, on the broadcast rows (label, input) that M2's encoder computes."""
    torch.manual_seed(0)
    enc = Encoder(4, x_dim=3, y_dim=5, hidden=20, layers=2, activation=ReLU)
    ref = copy.deepcopy(enc)
    ref.net[0], ref.net[2] = nn.ReLU(), nn.ReLU()
    a, y = torch.randn(6, 3, requires_grad=True), torch.eye(5).unsqueeze(1)  # (6, 3) against (5, 1, 5)
    got, want = (torch.cat(net(a, y), -1) for net in (enc, ref))
    assert got.shape == (5, 6, 8) and torch.equal(got, want)
    g = torch.randn(5, 6, 8)
    grads = [torch.autograd.grad(out.mul(g).sum(), (a, *net.parameters())) for out, net in ((got, enc), (want, ref))]
    assert all(torch.equal(x, r) for x, r in zip(*grads, strict=True))
    x = torch.randn(7)
    assert ReLU()(x) is x and x.min() == 0


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


def test_under_autocast_the_networks_compute_in_bfloat16_and_return_float32():
    """--precision bf16: the decoder's logits (every label's, as the SSVAE asks) come back float32,
    within bfloat16's rounding (8 significant bits) of the float64 network's, and not within
    float32's (the products did run in bfloat16); the gradients are float32."""
    torch.manual_seed(0)
    dec = Decoder(64, y_dim=10)
    z, y = torch.randn(10, 100, 64), torch.eye(10).unsqueeze(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dec(z, y)
    want = copy.deepcopy(dec).double()(z.double(), y.double()).float()
    error = ((out - want).abs().max() / want.abs().max()).item()
    assert out.dtype == torch.float32 and 1e-4 < error < 2 ** -6
    out.sum().backward()
    assert all(p.grad.dtype == torch.float32 == p.dtype for p in dec.parameters())
    # the encoder's mean and variance too, and outside autocast nothing is cast
    enc = Encoder(10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert all(t.dtype == torch.float32 for t in enc(torch.rand(5, 784)))
    assert all(t.dtype == torch.float64 for t in enc.double()(torch.rand(5, 784, dtype=torch.float64)))
