#!/usr/bin/env python3
"""PyTorch reference fixtures for golora's fine-tuning methods (core/peft).

Rerun from the repository root with Debian's interpreter, which has torch:

    /usr/bin/python3 testdata/gen/gen_methods.py

It rewrites testdata/methods/<method>.json; commit the script and its output.
The Go tests only read the files. Each case is the tiny model and batch of
testdata/model/tiny.json (gen_model.py's weights and batch, the same seeds)
with one method attached, its parameters drawn away from their initial
values so that every path of its forward and backward is exercised; the file
holds the method's settings and tensors, the logits, the loss, and the
gradient of every tensor the method trains. The format is that of
testdata/model (README.md there), plus a "method" object:

    {"name": ..., settings ..., "tensors": {name: {"shape", "data"}}}

Tensor names follow PEFT where PEFT has the method (lora_A, lora_B,
lora_magnitude_vector, ia3_l), else golora's own (<module>.bias for BitFit's
added biases), and base tensors keep their Hugging Face names.

Before writing, the script checks every method in float64: gradcheck of its
tensors, and, where the method starts at the base, that its initial values
give the base's logits. It aborts (AssertionError) if any check fails.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model as gm  # noqa: E402  (the base model, its weights and batch)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "methods")


# ---------------------------------------------------------------------------
# The model with a method's hooks


def forward(cfg, w, tokens, hooks):
    """gen_model.forward with the places a method acts at:
    hooks["linear"](module, x, W) computes a linear layer (default x Wᵀ)."""
    nh, nkv = cfg["n_heads"], cfg["n_kv_heads"]
    hs = cfg["dim"] // nh
    b, t = tokens.shape
    lin_hook = hooks.get("linear", lambda module, x, W: x @ W.t())
    x = w["model.embed_tokens.weight"][tokens]
    for layer in range(cfg["n_layers"]):
        p = "model.layers.%d." % layer
        lin = lambda z, m: lin_hook(p + m, z, w[p + m + ".weight"])  # noqa: E731
        h = gm.rmsnorm(x, w[p + "input_layernorm.weight"])
        q = gm.rope(lin(h, "self_attn.q_proj").view(b, t, nh, hs))
        k = gm.rope(lin(h, "self_attn.k_proj").view(b, t, nkv, hs))
        v = lin(h, "self_attn.v_proj").view(b, t, nkv, hs)
        x = x + lin(gm.attention(q, k, v, nh, nkv), "self_attn.o_proj")
        h = gm.rmsnorm(x, w[p + "post_attention_layernorm.weight"])
        x = x + lin(F.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj"), "mlp.down_proj")
    x = gm.rmsnorm(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if cfg["tied"] else w["lm_head.weight"]
    return x @ head.t()


def modules(cfg, short):
    """Every layer's module paths for the short target names given (q_proj, ...)."""
    return ["model.layers.%d.%s" % (layer, m) for layer in range(cfg["n_layers"])
            for m in gm.LINEARS if m.split(".")[1] in short]


# ---------------------------------------------------------------------------
# The methods: each returns (tensors it trains, base tensors it trains, hooks(tensors, w))


def dora(cfg, w, seed, init=False):
    """DoRA on q, v, down: W' = m · V / ||V|| per output row, V = W0 + s·B·A.
    The norm is differentiated through (the paper's eq. 5, no detach)."""
    rank, alpha = 2, 4.0
    s = alpha / rank
    shapes = gm.weight_shapes(cfg)
    torch.manual_seed(seed)
    t = {}
    for mod in modules(cfg, ["q_proj", "v_proj", "down_proj"]):
        out_f, in_f = shapes[mod + ".weight"]
        norm0 = w[mod + ".weight"].norm(dim=1)
        t[mod + ".lora_A"] = 0.3 * torch.randn(rank, in_f)
        t[mod + ".lora_B"] = torch.zeros(out_f, rank) if init else 0.3 * torch.randn(out_f, rank)
        t[mod + ".lora_magnitude_vector"] = norm0.clone() if init else norm0 * (1 + 0.2 * torch.randn(out_f))

    def hooks(t, w):
        def linear(mod, x, W):
            if mod + ".lora_A" not in t:
                return x @ W.t()
            V = W + s * t[mod + ".lora_B"] @ t[mod + ".lora_A"]
            c = t[mod + ".lora_magnitude_vector"] / V.norm(dim=1)
            return (x @ V.t()) * c
        return {"linear": linear}
    return {"rank": rank, "alpha": alpha, "targets": ["q", "v", "down"]}, t, [], hooks


def top(cfg, w, seed, init=False):
    """The last k = 1 block and the final norm train; nothing is added."""
    base = [n for n in gm.weight_shapes(cfg) if n.startswith("model.layers.%d." % (cfg["n_layers"] - 1))]
    base += ["model.norm.weight"] + ([] if cfg["tied"] else ["lm_head.weight"])
    return {"layers": 1}, {}, base, lambda t, w: {}


def bitfit(cfg, w, seed, init=False):
    """Every RMSNorm gain trains, and zero-initialised biases are added to all seven linears of every block."""
    shapes = gm.weight_shapes(cfg)
    torch.manual_seed(seed)
    t = {}
    for mod in modules(cfg, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]):
        out_f = shapes[mod + ".weight"][0]
        t[mod + ".bias"] = torch.zeros(out_f) if init else 0.2 * torch.randn(out_f)
    base = [n for n in shapes if "norm" in n]

    def hooks(t, w):
        return {"linear": lambda mod, x, W: x @ W.t() + t[mod + ".bias"] if mod + ".bias" in t else x @ W.t()}
    return {"targets": ["q", "k", "v", "o", "gate", "up", "down"]}, t, base, hooks


def ia3(cfg, w, seed, init=False):
    """(IA)³: k and v outputs scaled by l (KVD), down_proj's input by l_ff (hidden): PEFT's
    Llama defaults (target_modules k_proj, v_proj, down_proj; feedforward_modules down_proj)."""
    shapes = gm.weight_shapes(cfg)
    torch.manual_seed(seed)
    t = {}
    for mod in modules(cfg, ["k_proj", "v_proj", "down_proj"]):
        out_f, in_f = shapes[mod + ".weight"]
        n = in_f if mod.endswith("down_proj") else out_f
        t[mod + ".ia3_l"] = torch.ones(n) if init else 1 + 0.3 * torch.randn(n)

    def hooks(t, w):
        def linear(mod, x, W):
            if mod + ".ia3_l" not in t:
                return x @ W.t()
            if mod.endswith("down_proj"):
                return (x * t[mod + ".ia3_l"]) @ W.t()
            return (x @ W.t()) * t[mod + ".ia3_l"]
        return {"linear": linear}
    return {"targets": ["k", "v", "down"]}, t, [], hooks


METHODS = {"dora": dora, "top": top, "bitfit": bitfit, "ia3": ia3}


# ---------------------------------------------------------------------------


def run(cfg, w, inputs, targets, mask, t, base, hooks):
    """Forward and backward with the method's tensors and the base tensors it trains requiring gradients."""
    w = {k: v.detach().clone().requires_grad_(k in base) for k, v in w.items()}
    t = {k: v.detach().clone().requires_grad_(True) for k, v in t.items()}
    logits = forward(cfg, w, inputs, hooks(t, w))
    loss = gm.masked_loss(logits, targets, mask)
    loss.backward()
    grads = {k: v.grad for k, v in t.items()}
    grads.update({k: w[k].grad for k in base})
    return logits, loss, grads


def check(name, cfg, w, inputs, targets, mask):
    """float64: gradcheck of a few of the method's tensors, and the base's logits at init where it starts there."""
    make = METHODS[name]
    settings, t, base, hooks = make(cfg, w, seed=11)
    w64 = gm.to64(w)
    t64 = {k: v.double() for k, v in t.items()}
    for k in (sorted(t64)[:3] + base[:2]):
        def f(p, k=k):
            tt, ww = dict(t64), dict(w64)
            (tt if k in tt else ww)[k] = p
            return gm.masked_loss(forward(cfg, ww, inputs, hooks(tt, ww)), targets, mask)
        p0 = (t64 if k in t64 else w64)[k].clone().requires_grad_(True)
        assert torch.autograd.gradcheck(f, (p0,), eps=1e-6, atol=1e-7, rtol=1e-5)
        print("  %s: gradcheck float64 %-50s ok" % (name, k))
    _, t0, _, _ = make(cfg, w64, seed=11, init=True)  # DoRA's m from the float64 weights' norms
    err = (forward(cfg, w64, inputs, hooks(t0, w64)) - forward(cfg, w64, inputs, {})).abs().max().item()
    assert err < 1e-12, (name, err)
    print("  %s: at init vs the base: max |logit diff| %.2e" % (name, err))
    return settings, t, base, hooks


def main():
    os.makedirs(OUT, exist_ok=True)
    cfg = gm.TINY
    w = gm.init_weights(cfg, seed=1)
    inputs, targets, mask = gm.batch(cfg, 2, 7, masked_prefix=3, seed=2)
    base_logits = forward(cfg, w, inputs, {})
    for name in METHODS:
        settings, t, base, hooks = check(name, cfg, w, inputs, targets, mask)
        logits, loss, grads = run(cfg, w, inputs, targets, mask, t, base, hooks)
        moved = (logits - base_logits).abs().max().item()
        assert name == "top" or moved > 0.05, (name, moved)
        print("%s: loss %.6f, the method moves the logits by up to %.3f" % (name, loss.item(), moved))
        doc = gm.base_doc(name, cfg, inputs, targets, mask, w)
        doc["method"] = {"name": name, **settings, "tensors": {k: gm.tensor_doc(v) for k, v in t.items()}}
        doc.update({"logits": gm.flat(logits), "loss": loss.item(), "grads": {k: gm.flat(g) for k, g in grads.items()}})
        path = os.path.join(OUT, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
            f.write("\n")
        print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
