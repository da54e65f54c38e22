#!/usr/bin/env python3
"""PyTorch reference fixtures for golora's optimizer (core/optim).

Rerun from the repository root with Debian's interpreter, which has torch
(the python3 first on PATH may be a pyenv one without it):

    /usr/bin/python3 testdata/gen/gen_optim.py

It rewrites testdata/optim/adamw_<case>.json and testdata/optim/clip_<case>.json;
commit the script and its output. The Go tests (core/optim/adamw_test.go) only
read the files. Inputs are drawn by torch from a fixed seed per case, so a rerun
with the same torch reproduces the files. Written against torch 1.13.

AdamW files (torch.optim.AdamW, amsgrad False, foreach False, float32):
    case          the case's name
    beta1, beta2, eps, weight_decay
    lrs           the learning rate of each step (the Go side passes it to Step)
    params        the initial parameters (n floats)
    grads         one gradient vector (n floats) per step
    after         the parameters after each step (one n-vector per step)

Clip files (torch.nn.utils.clip_grad_norm_, norm_type 2, float32):
    case          the case's name
    max_norm
    grads         the gradient tensors before clipping (a list of flat vectors)
    clipped       the same tensors after clipping
    norm          the total norm that clip_grad_norm_ returned (before clipping)

Floats are python floats from .tolist() written by json with repr precision,
so every float32 value round-trips exactly.
"""

import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "optim")


def flat(x):
    return x.detach().reshape(-1).tolist()


def write(name, doc):
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


def adamw_case(case, seed, n, lrs, weight_decay, grad_scales):
    """Runs len(lrs) AdamW steps on n parameters with seeded random gradients.

    grad_scales gives each step's gradient magnitude, so that the moments see
    gradients of different sizes (the bias corrections matter most early on)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(n, generator=g, dtype=torch.float32)
    # A few exact zeros: a parameter at 0 is only moved by the Adam term.
    p[::17] = 0.0
    p = torch.nn.Parameter(p)
    start = flat(p)
    opt = torch.optim.AdamW([p], lr=lrs[0], betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=weight_decay, amsgrad=False, foreach=False)
    grads, after = [], []
    for step, lr in enumerate(lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        grad = torch.randn(n, generator=g, dtype=torch.float32) * grad_scales[step]
        # A zero gradient element exercises the eps in the denominator on step 1.
        grad[step] = 0.0
        p.grad = grad.clone()
        opt.step()
        grads.append(flat(grad))
        after.append(flat(p))
    write("adamw_" + case, {
        "case": case, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay,
        "lrs": lrs, "params": start, "grads": grads, "after": after,
    })


def clip_case(case, seed, sizes, scale, max_norm):
    g = torch.Generator().manual_seed(seed)
    ts = [torch.nn.Parameter(torch.zeros(s)) for s in sizes]
    before = []
    for t in ts:
        t.grad = torch.randn(t.shape, generator=g, dtype=torch.float32) * scale
        before.append(flat(t.grad))
    norm = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=2.0)
    write("clip_" + case, {
        "case": case, "max_norm": max_norm, "grads": before,
        "clipped": [flat(t.grad) for t in ts], "norm": float(norm),
    })


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    # Weight decay 0.1 with a changing learning rate (warmup-like then decaying).
    adamw_case("wd", seed=1, n=50, lrs=[1e-3, 2e-3, 3e-2, 1e-2, 5e-3], weight_decay=0.1,
               grad_scales=[1.0, 0.1, 3.0, 1e-3, 0.5])
    # No weight decay, constant learning rate.
    adamw_case("nowd", seed=2, n=53, lrs=[1e-2] * 5, weight_decay=0.0,
               grad_scales=[0.5, 0.5, 2.0, 0.01, 1.0])
    # Norm 0.5*sqrt(97) ~ 4.9 clipped to 1 across three tensors.
    clip_case("multi", seed=3, sizes=[40, 7, 50], scale=0.5, max_norm=1.0)
    # One tensor whose norm (~0.7) is under max_norm: left unchanged.
    clip_case("under", seed=4, sizes=[30], scale=0.13, max_norm=2.0)
    # Large gradients clipped to a large max_norm.
    clip_case("large", seed=5, sizes=[25, 25], scale=40.0, max_norm=5.0)


if __name__ == "__main__":
    main()
