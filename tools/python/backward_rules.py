"""The rectifiers' backward rules as PyTorch autograd functions (float64 references for glassbox's
kernels::BackwardRule): the forward is the activation; the backward follows the rule.

    gradient   dx = dy * act'(x)
    deconvnet  dx = the rectifier applied to dy, the forward mask ignored: relu(dy) for ReLU and Clip,
               leaky_relu(dy) for LeakyReLU (Zeiler & Fergus 2014)
    guided     dx = dy * act'(x) * [dy > 0] (Springenberg et al. 2015; Clip's mask is lo < x < hi)
"""
import torch


class Rectifier(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kind, lo, hi, alpha, rule):
        if kind == "relu":
            y, slope = x.clamp_min(0.0), (x > 0).to(x.dtype)
        elif kind == "clip":
            y = x.clamp(lo, hi)
            slope = ((x > lo) & (x < hi)).to(x.dtype)
        elif kind == "leaky_relu":
            y = torch.where(x >= 0, x, alpha * x)
            slope = torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, alpha))
        else:
            raise ValueError(kind)
        ctx.save_for_backward(slope)
        ctx.kind, ctx.alpha, ctx.rule = kind, alpha, rule
        return y

    @staticmethod
    def backward(ctx, dy):
        (slope,) = ctx.saved_tensors
        if ctx.rule == "deconvnet":
            dx = torch.where(dy < 0, ctx.alpha * dy, dy) if ctx.kind == "leaky_relu" else dy.clamp_min(0.0)
        elif ctx.rule == "guided":
            dx = dy * slope * (dy > 0).to(dy.dtype)
        else:
            dx = dy * slope
        return dx, None, None, None, None, None


def relu(x, rule):
    return Rectifier.apply(x, "relu", None, None, 0.0, rule)


def clip(x, lo, hi, rule):
    return Rectifier.apply(x, "clip", lo, hi, 0.0, rule)


def leaky_relu(x, alpha, rule):
    return Rectifier.apply(x, "leaky_relu", None, None, alpha, rule)
