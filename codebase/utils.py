"""Pure tensor math shared by the models: no I/O, no imports of the models.

Convention: a Gaussian is given by its mean `m` and its *variance* `v` (not a log-variance, not a
standard deviation). Every density and KL below sums over the last dimension and broadcasts over
all leading ones.
"""
import math

import torch

LOG_2PI = math.log(2 * math.pi)


def sample_gaussian(m, v):
    """Reparameterized sample z = m + sqrt(v) * eps, eps ~ N(0, I); gradients reach m and v.

    m: tensor: (..., dim): mean
    v: tensor: (..., dim): variance
    Returns z: tensor: (..., dim)
    """
    return m + v.sqrt() * torch.randn_like(m)


def log_normal(x, m, v):
    """log N(x; m, diag(v)), summed over the last dimension.

    x, m, v: tensors broadcastable to (..., dim), e.g. z (batch, 1, dim) against means (1, mix, dim)
    Returns: tensor: (...): one log-density per leading index
    """
    d = max(x.size(-1), m.size(-1), v.size(-1))
    # log v and 1 / v are taken at v's own shape: variances shared by a batch (a mixture's
    # components) are transformed once, not once per point; v may also broadcast along the last dim.
    log_det = v.log().sum(-1) * (d // v.size(-1))
    return -0.5 * (((x - m).pow(2) * v.reciprocal()).sum(-1) + log_det + d * LOG_2PI)


def log_normal_mixture(z, m, v):
    """log of the uniformly weighted mixture (1/mix) sum_i N(z; m_i, diag(v_i)).

    z: tensor: (batch, dim): points
    m, v: tensors: (batch or 1, mix, dim): component means and variances
    Returns: tensor: (batch,)
    """
    # sum_d (z_d - m_id)^2 / v_id expanded into z^2 . (1 / v_i) - 2 z . (m_i / v_i) + m_i^2 . (1 / v_i):
    # two (batch, dim) x (dim, mix) products, no (batch, mix, dim) tensor. The expansion cancels
    # where |m| >> sqrt(v), so it is summed in float64 (float32 on Apple's MPS, which has no float64).
    wide = torch.float32 if z.device.type == "mps" else torch.float64
    zd, md, prec = z.to(wide), m.to(wide), v.to(wide).reciprocal()
    quad = (torch.einsum("...d,...kd->...k", zd * zd, prec) - 2 * torch.einsum("...d,...kd->...k", zd, md * prec)
            + (md * md * prec + prec.log().neg()).sum(-1))  # (batch, mix)
    return log_mean_exp(-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI), dim=-1)


def kl_normal(qm, qv, pm, pv):
    """KL(N(qm, diag(qv)) || N(pm, diag(pv))) in closed form, summed over the last dimension.

    qm, qv, pm, pv: tensors broadcastable to (..., dim)
    Returns: tensor: (...)
    """
    return 0.5 * (pv.log() - qv.log() + (qv + (qm - pm).pow(2)) / pv - 1).sum(-1)


def kl_cat(q, log_q, log_p):
    """KL(q || p) between categorical distributions, summed over the last dimension.

    q: tensor: (..., classes): probabilities of q
    log_q: tensor: (..., classes): their logs (passed in so 0 * log 0 stays 0 via log_softmax)
    log_p: tensor: broadcastable to (..., classes): log-probabilities of p
    Returns: tensor: (...)
    """
    return (q * (log_q - log_p)).sum(-1)


def log_mean_exp(x, dim):
    """Stable log(mean(exp(x), dim)) through logsumexp.

    x: tensor: (..., n, ...): values to average in the exp domain
    Returns: tensor: x with `dim` removed
    """
    return torch.logsumexp(x, dim) - math.log(x.size(dim))


def gaussian_parameters(h, dim=-1):
    """Split h in two halves along `dim`: the mean, and a variance through softplus + 1e-8.

    h: tensor: (..., 2 * d, ...): unconstrained network output
    Returns m, v: tensors: (..., d, ...)
    """
    m, h = torch.chunk(h, 2, dim=dim)
    return m, softplus(h) + 1e-8


def log_bernoulli_with_logits(x, logits):
    """log Bernoulli(x; sigmoid(logits)) = x * logits - softplus(logits), summed over the last
    dimension.

    x: tensor: (..., dim): binary observations, broadcastable against the logits
    logits: tensor: (..., dim): Bernoulli logits
    Returns: tensor: (...)
    """
    return (x * logits - softplus(logits)).sum(-1)


# softplus and ELU through exp and log, not log1p and expm1: torch's CPU kernels vectorize exp and
# log but evaluate log1p and expm1 one element at a time, 5-10x slower (torch 2.14, AVX-512). The
# price is an absolute error below ~1e-7, a float32 ulp of 1 (tests/test_utils.py bounds it).

class _Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.abs().neg_().exp_().add_(1).log_().add_(x.clamp(min=0))

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * torch.sigmoid(x)


class _ELUInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        negative = x.clamp(max=0).exp_().sub_(1)
        x.clamp_(min=0).add_(negative)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return (y + 1).clamp_(max=1).mul_(grad)  # 1 where x > 0, exp(x) = y + 1 elsewhere


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): no overflow for any x.

    x: tensor: (...) -> tensor: (...); the gradient is sigmoid(x)
    """
    return _Softplus.apply(x)


def elu_(x):
    """The ELU activation in place: x becomes x where x > 0, exp(x) - 1 elsewhere, computed as
    max(x, 0) + (exp(min(x, 0)) - 1). In place, as torch's elu_, it spares a copy of the
    activations: x must be a tensor nothing else reads afterwards (a layer's fresh output).

    x: tensor: (...) -> x
    """
    return _ELUInPlace.apply(x)


def duplicate(x, rep):
    """Stack `rep` copies of x along the first dimension: (batch, ...) -> (rep * batch, ...).

    Row r * batch + i of the result is x[i]: copy r of the whole batch.
    """
    return x.expand(rep, *x.shape).reshape(-1, *x.shape[1:])
