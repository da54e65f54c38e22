#!/usr/bin/env python3
"""PyTorch reference fixtures for golora's layer kernels (core/nn).

Rerun from the repository root with Debian's interpreter, which has torch
(the python3 first on PATH may be a pyenv one without it):

    /usr/bin/python3 testdata/gen/gen_nn.py

It rewrites testdata/nn/<kernel>_<case>.json; commit the script and its output.
The Go tests only read the files (CI never runs Python). Inputs are drawn by
torch from a fixed seed per case, so a rerun with the same torch reproduces
the files. Written against torch 1.13 (Debian's python3-torch).

Format: one JSON object per case, every tensor a flat row-major array in the
shape legend of core/nn/doc.go:

    kernel   which kernel ("rmsnorm", "attention", ...)
    case     the case's name
    sizes    {"b": 2, "t": 5, ...} integer sizes (names as in the Go signatures)
    scalars  {"eps": 1e-05, ...} float parameters
    ints     {"ids": [...], "targets": [...]} integer inputs
    inputs   float32 inputs (a mask among them), plus "w": the weights of the
             loss L = sum(w * out)
    outputs  float32 outputs of the forward pass
    grads    dL/d(input) for each differentiated float input

Floats are written with 9 significant digits, which round-trips float32 exactly.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn")


def flat(x):
    return [float("%.9g" % v) for v in x.detach().reshape(-1).tolist()]


def leaf(x):
    return x.detach().clone().requires_grad_(True)


def write(kernel, case, sizes, inputs, outputs, loss_out, w, ints=None, scalars=None, consts=None):
    """Backpropagates L = sum(w * loss_out) and writes one JSON case file.

    inputs are the float tensors differentiated; consts are float inputs that
    are not (a mask), written among the inputs without a gradient."""
    L = (w * loss_out).sum()
    L.backward()
    doc = {
        "kernel": kernel,
        "case": case,
        "sizes": sizes,
        "scalars": scalars or {},
        "ints": {k: [int(i) for i in v.reshape(-1).tolist()] for k, v in (ints or {}).items()},
        "inputs": {**{k: flat(v) for k, v in {**inputs, **(consts or {})}.items()}, "w": flat(w)},
        "outputs": {k: flat(v) for k, v in outputs.items()},
        "grads": {k: flat(v.grad) for k, v in inputs.items()},
    }
    path = os.path.join(OUT, "%s_%s.json" % (kernel, case))
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


def embedding(case, seed, n, c, v):
    g = torch.Generator().manual_seed(seed)
    table = leaf(torch.randn(v, c, generator=g))
    ids = torch.randint(0, v, (n,), generator=g)
    ids[-1] = ids[0]  # a repeated token: its gradient rows must add up
    out = F.embedding(ids, table)
    w = torch.randn(n, c, generator=g)
    write("embedding", case, {"n": n, "c": c, "v": v}, {"table": table}, {"out": out}, out, w, ints={"ids": ids})


def rmsnorm(case, seed, n, c, eps):
    g = torch.Generator().manual_seed(seed)
    x = leaf(torch.randn(n, c, generator=g) * 2 + 0.5)
    weight = leaf(1 + 0.3 * torch.randn(c, generator=g))
    rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    out = x * rstd * weight
    w = torch.randn(n, c, generator=g)
    write("rmsnorm", case, {"n": n, "c": c}, {"in": x, "weight": weight},
          {"out": out, "rstd": rstd}, out, w, scalars={"eps": eps})


def rope(case, seed, b, t, heads, hs, pos0, base):
    g = torch.Generator().manual_seed(seed)
    x = leaf(torch.randn(b, t, heads * hs, generator=g))
    # As Meta's Llama (and llama2.c): pairs (2i, 2i+1) are complex numbers
    # rotated by e^{i pos freq_i}. The angles are computed in float64 and the
    # rotation in complex64, as golora does (its tables are float64, rounded).
    freqs = 1.0 / (base ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    pos = torch.arange(pos0, pos0 + t, dtype=torch.float64)
    angles = torch.outer(pos, freqs)  # (T, HS/2)
    cis = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)
    xc = torch.view_as_complex(x.reshape(b, t, heads, hs // 2, 2))
    out = torch.view_as_real(xc * cis[None, :, None, :]).reshape(b, t, heads * hs)
    w = torch.randn(b, t, heads * hs, generator=g)
    write("rope", case, {"b": b, "t": t, "heads": heads, "hs": hs, "pos0": pos0, "maxT": pos0 + t},
          {"in": x}, {"out": out}, out, w, scalars={"base": base})


def attention(case, seed, b, t, nh, nkv, hs):
    g = torch.Generator().manual_seed(seed)
    q = leaf(torch.randn(b, t, nh * hs, generator=g))
    k = leaf(torch.randn(b, t, nkv * hs, generator=g))
    v = leaf(torch.randn(b, t, nkv * hs, generator=g))
    group = nh // nkv
    qh = q.view(b, t, nh, hs).transpose(1, 2)  # (B, NH, T, HS)
    # repeat_interleave makes query head h read key/value head h // group.
    kh = k.view(b, t, nkv, hs).transpose(1, 2).repeat_interleave(group, dim=1)
    vh = v.view(b, t, nkv, hs).transpose(1, 2).repeat_interleave(group, dim=1)
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(hs)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    att = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)  # (B, NH, T, T)
    out = (att @ vh).transpose(1, 2).reshape(b, t, nh * hs)
    w = torch.randn(b, t, nh * hs, generator=g)
    write("attention", case, {"b": b, "t": t, "nh": nh, "nkv": nkv, "hs": hs},
          {"q": q, "k": k, "v": v}, {"out": out, "att": att}, out, w)


def swiglu(case, seed, n):
    g = torch.Generator().manual_seed(seed)
    a = leaf(torch.randn(n, generator=g) * 3)
    bb = leaf(torch.randn(n, generator=g))
    out = F.silu(a) * bb
    w = torch.randn(n, generator=g)
    write("swiglu", case, {"n": n}, {"a": a, "b": bb}, {"out": out}, out, w)


def crossentropy(case, seed, n, v, scale, ignore):
    g = torch.Generator().manual_seed(seed)
    logits = leaf(torch.randn(n, v, generator=g) * scale)
    targets = torch.randint(0, v, (n,), generator=g)
    for i in ignore:
        targets[i] = -1
    losses = F.cross_entropy(logits, targets, reduction="none", ignore_index=-1)
    probs = torch.softmax(logits, dim=-1)
    mean = losses[targets >= 0].mean()
    w = torch.randn(n, generator=g)
    write("crossentropy", case, {"n": n, "v": v}, {"logits": logits},
          {"losses": losses, "probs": probs, "mean": mean.reshape(1)}, losses, w, ints={"targets": targets})


def maskedmean(case, seed, n, mask):
    g = torch.Generator().manual_seed(seed)
    losses = leaf(torch.rand(n, generator=g) * 5)
    m = torch.tensor(mask, dtype=torch.float32)
    mean = ((m * losses).sum() / m.sum()).reshape(1)
    w = torch.randn(1, generator=g)
    write("maskedmean", case, {"n": n}, {"losses": losses}, {"mean": mean}, mean, w, consts={"mask": m})


def residual(case, seed, n):
    g = torch.Generator().manual_seed(seed)
    a = leaf(torch.randn(n, generator=g))
    bb = leaf(torch.randn(n, generator=g))
    out = a + bb
    w = torch.randn(n, generator=g)
    write("residual", case, {"n": n}, {"a": a, "b": bb}, {"out": out}, out, w)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    embedding("small", 1, n=6, c=4, v=5)
    embedding("odd", 2, n=13, c=7, v=11)
    rmsnorm("small", 3, n=4, c=8, eps=1e-5)
    rmsnorm("odd", 4, n=7, c=33, eps=1e-6)
    rope("small", 5, b=1, t=4, heads=2, hs=8, pos0=0, base=10000.0)
    rope("offset", 6, b=2, t=5, heads=3, hs=6, pos0=7, base=500.0)
    attention("mha", 7, b=1, t=4, nh=2, nkv=2, hs=8)
    attention("gqa", 8, b=2, t=7, nh=6, nkv=2, hs=4)
    swiglu("small", 9, n=16)
    swiglu("odd", 10, n=101)
    crossentropy("small", 11, n=4, v=7, scale=1.0, ignore=[])
    crossentropy("ignore", 12, n=9, v=33, scale=8.0, ignore=[2, 5])
    maskedmean("binary", 13, n=10, mask=[0, 0, 0, 1, 1, 1, 1, 0, 1, 1])
    maskedmean("weighted", 14, n=5, mask=[0.5, 2.0, 0.0, 1.0, 0.25])
    residual("small", 15, n=8)
    residual("odd", 16, n=37)
