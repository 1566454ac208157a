"""Pictures of what a model learned, from the fixed test data, and its sample grids.

For a model with an encoder q(z | x): reconstructions, interpolations between posterior means,
the posterior means' first two principal components; with a mixture prior also its components,
most used first; with labels, the style of a test image drawn with every label. Digits are
Bernoulli means sigmoid(decoder(z)), always from posterior means, so every picture is
deterministic.

Which pictures a model gets is declared with the model (its class's `pictures`); the command
`python -m codebase.figures` draws them from a checkpoint.
"""
import os

import numpy as np
import torch
from torchvision.utils import make_grid

from codebase import files, records, utils

COLUMNS = 25  # of the components' grid
CHUNK = 1000  # points per step of component_order: bounds its (chunk, k, z_dim) temporaries


def grid(x, nrow):
    """x: tensor: (n, 784): digits in [0, 1] -> tensor: (3, H, W): rows of nrow, on the CPU"""
    return make_grid(x.reshape(-1, 1, 28, 28), nrow=nrow, padding=2, pad_value=1).cpu()


@torch.no_grad()
def sample_grid(model, seed=0, rows=10, cols=20):
    """rows x cols digits from p(x), each the Bernoulli mean given z ~ p(z).

    Returns: tensor: (3, rows * 30 + 2, cols * 30 + 2): the grid image
    """
    torch.manual_seed(seed)
    x = model.sample_sigmoid(rows * cols)
    return make_grid(x.view(-1, 1, 28, 28), nrow=cols, pad_value=1)


@torch.no_grad()
def class_grid(model, seed=0, cols=20):
    """Samples from p(x | y) as Bernoulli means, one row per label y.

    Returns: tensor: (3, y_dim * 30 + 2, cols * 30 + 2): the grid image
    """
    torch.manual_seed(seed)
    y = torch.arange(model.y_dim, device=next(model.parameters()).device).repeat_interleave(cols)
    return make_grid(model.sample_sigmoid(y).view(-1, 1, 28, 28), nrow=cols, pad_value=1)


@torch.no_grad()
def reconstructions(model, mnist, per_class=2):
    """Top row: the first per_class images of each class in mnist.test_subset (20 binary images);
    bottom row: their reconstructions from the posterior mean. Returns tensor: (3, 62, 602)"""
    x = mnist.test_subset.view(10, -1, 784)[:, :per_class].reshape(-1, 784)  # the subset is class-major
    m, _ = model.enc(x)
    return grid(torch.cat([x, torch.sigmoid(model.dec(m))]), nrow=len(x))


@torch.no_grad()
def interpolations(model, mnist, steps=10):
    """Row c: `steps` digits decoded on the straight line from the posterior mean of the first
    subset image of class c to that of class (c + 1) % 10, ends included. Returns (3, 302, 302)"""
    first = mnist.test_subset[::len(mnist.test_subset) // 10]  # (10, 784): one per class
    m, _ = model.enc(first)
    t = torch.linspace(0, 1, steps, dtype=m.dtype, device=m.device).view(1, -1, 1)
    z = (1 - t) * m.unsqueeze(1) + t * m.roll(-1, 0).unsqueeze(1)  # (10, steps, z_dim)
    return grid(torch.sigmoid(model.dec(z)), nrow=steps)


@torch.no_grad()
def latent(model, mnist, size=(6, 5), dpi=100):
    """The posterior means of the 10000 binary test images on their first two principal
    components, coloured by label. Returns tensor: (3, 500, 600): the rendered figure in [0, 1]"""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    m, _ = model.enc(mnist.test_binary)
    m = m - m.mean(0)
    _, s, vh = torch.linalg.svd(m, full_matrices=False)
    pc = m @ vh[:2].t()
    pc = torch.nn.functional.pad(pc, (0, 2 - pc.size(1))).cpu().numpy()  # z_dim 1: PC 2 is zero
    share = (s ** 2 / (s ** 2).sum()).tolist() + [0.0]
    y = mnist.test_y.cpu().numpy()
    # A Figure without pyplot: no global figure registry to leak into, nothing to close.
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # One scatter in the test set's own (shuffled) order, so no class is drawn over all the others.
    ax.scatter(pc[:, 0], pc[:, 1], c=y, cmap="tab10", vmin=-0.5, vmax=9.5, s=2, linewidths=0)
    handles = [Line2D([], [], ls="", marker="o", color=f"C{c}", label=str(c)) for c in range(10)]
    ax.legend(handles=handles, title="label", loc="upper left", bbox_to_anchor=(1, 1))
    ax.set(xlabel=f"PC 1 ({share[0]:.0%} of variance)", ylabel=f"PC 2 ({share[1]:.0%} of variance)",
           title=f"{records.describe(type(model).__name__, model.config)}: posterior means of the test images")
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255


@torch.no_grad()
def component_order(model, z, chunk=CHUNK):
    """A mixture prior's components (model.prior()) by descending posterior mass over the points z.

    mass_i = sum_n p(i | z_n), p(i | z) = N(z; m_i, v_i) / sum_j N(z; m_j, v_j) (uniform weights).
    z: tensor: (n, z_dim) -> tensor: (k,): component indices, the most used first
    """
    m, v = model.prior()
    mass = sum(torch.softmax(utils.log_normal(c.unsqueeze(1), m, v), dim=-1).sum(0)
               for c in torch.split(z, chunk))
    return torch.argsort(mass, descending=True, stable=True)


@torch.no_grad()
def components(model, mnist, nrow=COLUMNS):
    """The decoded means of a mixture prior's k components, ordered by component_order over the
    posterior means of the 10000 binary test images: unused components come last.
    Returns tensor: (3, 30 * ceil(k / nrow) + 2, 30 * min(k, nrow) + 2)"""
    z, _ = model.enc(mnist.test_binary)
    m, _ = model.prior()
    return grid(torch.sigmoid(model.dec(m[0, component_order(model, z)])), nrow=nrow)


@torch.no_grad()
def analogy_rows(model, x, yhat):
    """A labelled model's style of each image drawn with every label.

    x: tensor: (n, 784): binary images; yhat: tensor: (n,): a label for each
    Returns tensor: (n, y_dim, 784): row i, column y: sigmoid(decoder(z_i, y)), z_i the posterior
        mean of q(z | x_i, yhat_i); column yhat_i is x_i's reconstruction
    """
    eye = torch.eye(model.y_dim, dtype=x.dtype, device=x.device)
    m, _ = model.enc(x, eye[yhat])  # (n, z_dim)
    return torch.sigmoid(model.dec(m.unsqueeze(1), eye))  # (n, 1, z_dim) with (y_dim, y_dim)


@torch.no_grad()
def analogies(model, mnist):
    """For the first test image of each class: the image, then its style under labels 0..9.

    The label is the classifier's prediction on the grey levels (as it is scored); the encoder
    reads the image's fixed binarization (mnist.test_binary, as the generative part was trained on
    binary images). Column 0 shows the grey levels. Returns tensor: (3, 302, 332)
    """
    i = torch.stack([torch.nonzero(mnist.test_y == c)[0, 0] for c in range(model.y_dim)])
    grey = mnist.test_x[i].float() / 255
    rows = analogy_rows(model, mnist.test_binary[i], model.classify(grey))
    return grid(torch.cat([grey.unsqueeze(1), rows], dim=1), nrow=1 + model.y_dim)


def write(model, mnist, log_dir, pictures):
    """Write pictures = {name: (model, mnist) -> image} into log_dir as <name>.png; the global RNG
    is left as it was.

    Returns dict: name -> tensor: (3, H, W): the images in [0, 1] (for TensorBoard's add_image)
    """
    os.makedirs(log_dir, exist_ok=True)
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            images = {name: make(model, mnist) for name, make in pictures.items()}
    finally:
        model.train(training)
    for name, image in images.items():
        files.write_png(os.path.join(log_dir, f"{name}.png"), image)
    return images
