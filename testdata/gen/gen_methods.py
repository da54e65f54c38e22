#!/usr/bin/env python3
"""PyTorch reference fixtures for golora's fine-tuning methods (core/peft).

Rerun from the repository root with Debian's interpreter, which has torch:

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 testdata/gen/gen_methods.py [method ...]

It rewrites testdata/methods/<method>.json (every method's, or the ones
named); commit the script and its output. With OpenBLAS's SkylakeX kernels
(the coretype above, whatever the machine's default) a rerun reproduces the
files byte for byte; other kernels change the last bits of some numbers.
The Go tests only read the files. Each case is the tiny model and batch of
testdata/model/tiny.json (gen_model.py's weights and batch, the same seeds)
with one method attached, its parameters drawn away from their initial
values so that every path of its forward and backward is exercised; the file
holds the method's settings and tensors, the logits, the loss, and the
gradient of every tensor the method trains. The format is that of
testdata/model (README.md there), plus a "method" object:

    {"name": ..., settings ..., "tensors": {name: {"shape", "data"}}}

Tensor names follow PEFT where PEFT has the method (lora_A, lora_B,
lora_magnitude_vector, ia3_l, prompt_embeddings, the PrefixEncoder's
embedding and transform), else golora's own (<module>.bias for BitFit's
added biases, <module>.adapter.* for the adapters), and base tensors keep
their Hugging Face names. The prefix methods' cases use a context of 12
(seq_len; the weights do not depend on it) so that the batch of 7 fits after
a prefix of 3.

Before writing, the script checks every method in float64: gradcheck of its
tensors, and that its initial values give the base's logits where the method
starts at the base, or the base's logits after the prefix's initial tokens
where it starts there (prefix-embed, prefix-layer without the projection). It
aborts (AssertionError) if any check fails.
"""

import json
import math
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
    hooks["linear"](module, x, W) computes a linear layer (default x Wᵀ);
    hooks["input"]() gives the rows (P, C) placed before every sequence's
    tokens, which then start at position P, with no logits at the rows;
    hooks["kv"](layer) gives that layer's leading keys and values (P, NKV, HS)
    each, which every query attends to, read without rotation, the
    sequence's own positions starting at P; hooks["sublayer"](layer, which,
    h) transforms the attention's ("attn") and the MLP's ("mlp") output
    before each residual add; hooks["capture"](layer, k, v) sees each layer's
    keys (after RoPE) and values."""
    nh, nkv = cfg["n_heads"], cfg["n_kv_heads"]
    hs = cfg["dim"] // nh
    b, t = tokens.shape
    lin_hook = hooks.get("linear", lambda module, x, W: x @ W.t())
    sub = hooks.get("sublayer", lambda layer, which, h: h)
    capture = hooks.get("capture", lambda layer, k, v: None)
    x = w["model.embed_tokens.weight"][tokens]
    pre = 0
    if "input" in hooks:
        rows = hooks["input"]()
        pre = rows.shape[0]
        x = torch.cat([rows.expand(b, -1, -1), x], dim=1)
    pk = hooks["kv"](0)[0].shape[0] if "kv" in hooks else 0
    tt = pre + t
    for layer in range(cfg["n_layers"]):
        p = "model.layers.%d." % layer
        lin = lambda z, m: lin_hook(p + m, z, w[p + m + ".weight"])  # noqa: E731
        h = gm.rmsnorm(x, w[p + "input_layernorm.weight"])
        if pk == 0:
            q = gm.rope(lin(h, "self_attn.q_proj").view(b, tt, nh, hs))
            k = gm.rope(lin(h, "self_attn.k_proj").view(b, tt, nkv, hs))
            v = lin(h, "self_attn.v_proj").view(b, tt, nkv, hs)
            capture(layer, k, v)
            a = gm.attention(q, k, v, nh, nkv)
        else:
            q = rope_at(lin(h, "self_attn.q_proj").view(b, tt, nh, hs), pk)
            k = rope_at(lin(h, "self_attn.k_proj").view(b, tt, nkv, hs), pk)
            v = lin(h, "self_attn.v_proj").view(b, tt, nkv, hs)
            capture(layer, k, v)
            lk, lv = hooks["kv"](layer)
            a = attention_lead(q, k, v, lk, lv, nh, nkv)
        x = x + sub(layer, "attn", lin(a, "self_attn.o_proj"))
        h = gm.rmsnorm(x, w[p + "post_attention_layernorm.weight"])
        x = x + sub(layer, "mlp", lin(F.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj"), "mlp.down_proj"))
    x = gm.rmsnorm(x, w["model.norm.weight"])
    if pre:
        x = x[:, pre:]
    head = w["model.embed_tokens.weight"] if cfg["tied"] else w["lm_head.weight"]
    return x @ head.t()


def rope_at(x, pos0):
    """gen_model.rope for rows at positions pos0, pos0+1, ..."""
    b, t, h, hs = x.shape
    cos, sin = gm.rope_tables(pos0 + t, hs, x.dtype)
    cos, sin = cos[None, pos0:, None, :], sin[None, pos0:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).reshape(b, t, h, hs)


def attention_lead(q, k, v, lk, lv, nh, nkv):
    """gen_model.attention with P leading keys and values lk, lv (P, NKV, HS) before every
    sequence's own: query i attends to keys 0..P+i."""
    b, t, _, hs = q.shape
    pk = lk.shape[0]
    k = torch.cat([lk.expand(b, -1, -1, -1), k], dim=1)
    v = torch.cat([lv.expand(b, -1, -1, -1), v], dim=1)
    rep = nh // nkv
    k = k.repeat_interleave(rep, dim=2)
    v = v.repeat_interleave(rep, dim=2)
    q, k, v = (z.transpose(1, 2) for z in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(hs)
    visible = torch.ones(t, pk + t, dtype=torch.bool).tril(diagonal=pk)
    scores = scores.masked_fill(~visible, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    return out.transpose(1, 2).reshape(b, t, nh * hs)


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


def bottleneck(cfg, seed, init, sites, act, norm):
    """An adapter at each of sites ("attn", "mlp") of every layer: h + up(act(down(z))),
    z = h or rmsnorm(h)·g (norm). At init up and its bias are zero (the down
    weights drawn as nn.Linear does), else every tensor is drawn away from it."""
    d, r = cfg["dim"], 3
    torch.manual_seed(seed)
    t = {}
    for layer in range(cfg["n_layers"]):
        for site in sites:
            pre = "model.layers.%d.%s.adapter." % (layer, {"attn": "self_attn", "mlp": "mlp"}[site])
            t[pre + "down.weight"] = (torch.rand(r, d) * 2 - 1) / math.sqrt(d) if init else 0.3 * torch.randn(r, d)
            t[pre + "down.bias"] = torch.zeros(r) if init else 0.1 * torch.randn(r)
            t[pre + "up.weight"] = torch.zeros(d, r) if init else 0.3 * torch.randn(d, r)
            t[pre + "up.bias"] = torch.zeros(d) if init else 0.1 * torch.randn(d)
            if norm:
                t[pre + "norm.weight"] = torch.ones(d) if init else 1 + 0.2 * torch.randn(d)

    def hooks(t, w):
        def sublayer(layer, which, h):
            pre = "model.layers.%d.%s.adapter." % (layer, {"attn": "self_attn", "mlp": "mlp"}[which])
            if pre + "down.weight" not in t:
                return h
            z = gm.rmsnorm(h, t[pre + "norm.weight"]) if norm else h
            u = act(F.linear(z, t[pre + "down.weight"], t[pre + "down.bias"]))
            return h + F.linear(u, t[pre + "up.weight"], t[pre + "up.bias"])
        return {"sublayer": sublayer}
    return {"width": r}, t, hooks


def adapter_h(cfg, w, seed, init=False):
    """Houlsby adapters, width 3, after the attention and after the MLP, swish; the blocks'
    RMSNorm gains train too (Houlsby et al. train the layer norms)."""
    settings, t, hooks = bottleneck(cfg, seed, init, ["attn", "mlp"], F.silu, False)
    base = [n for n in gm.weight_shapes(cfg) if n.endswith("layernorm.weight")]
    return settings, t, base, hooks


def adapter_l(cfg, w, seed, init=False):
    """Lin adapters, width 3, after the MLP, with their own RMSNorm (gain) before down; ReLU."""
    settings, t, hooks = bottleneck(cfg, seed, init, ["mlp"], F.relu, True)
    return settings, t, [], hooks


PREFIX_LEN = 3


def init_tokens(cfg, seed):
    g = torch.Generator().manual_seed(seed + 100)
    return torch.randint(0, cfg["vocab_size"], (PREFIX_LEN,), generator=g)


def prefix_embed(cfg, w, seed, init=False):
    """Prompt tuning: l_p = 3 rows before the input; they start as the embeddings of 3
    tokens (PEFT's RANDOM_DISCRETE), here moved away from them by N(0, 0.2²)."""
    toks = init_tokens(cfg, seed)
    torch.manual_seed(seed)
    rows = w["model.embed_tokens.weight"][toks].clone()
    t = {"prompt_embeddings": rows if init else rows + 0.2 * torch.randn(rows.shape)}

    def hooks(t, w):
        return {"input": lambda: t["prompt_embeddings"]}
    return {"prefix_len": PREFIX_LEN, "init_tokens": toks.tolist()}, t, [], hooks


def past_key_values(P, cfg):
    """PEFT's get_prompt for one sequence: P (l_p, 2·L·KVD) viewed as (1, l_p, 2L, NKV, HS),
    permuted to (2L, 1, NKV, l_p, HS) and split in pairs: layer l's key is 2l, its value 2l+1.
    Returned as (key, value) per layer, each (l_p, NKV, HS)."""
    nkv, hs = cfg["n_kv_heads"], cfg["dim"] // cfg["n_heads"]
    pkv = P.view(1, P.shape[0], cfg["n_layers"] * 2, nkv, hs).permute([2, 0, 3, 1, 4]).split(2)
    return [(kv[0, 0].transpose(0, 1), kv[1, 0].transpose(0, 1)) for kv in pkv]


def prefix_layer(cfg, w, seed, init=False):
    """Prefix tuning: l_p = 3 keys and values per layer, PEFT's prompt_embeddings (l_p, 2·L·KVD)
    read through PEFT's view and permute; they start as the base's keys and values of 3
    tokens (a capture of the plain forward pass), here moved away by N(0, 0.2²)."""
    toks = init_tokens(cfg, seed)
    kv = {}
    forward(cfg, w, toks[None, :], {"capture": lambda layer, k, v: kv.update({layer: (k[0], v[0])})})
    P = torch.cat([torch.cat([kv[layer][0].reshape(PREFIX_LEN, -1), kv[layer][1].reshape(PREFIX_LEN, -1)], dim=1)
                   for layer in range(cfg["n_layers"])], dim=1).detach()
    torch.manual_seed(seed)
    t = {"prompt_embeddings": P if init else P + 0.2 * torch.randn(P.shape)}

    def hooks(t, w):
        pkv = past_key_values(t["prompt_embeddings"], cfg)
        return {"kv": lambda layer: pkv[layer]}
    return {"prefix_len": PREFIX_LEN, "init_tokens": toks.tolist()}, t, [], hooks


def prefix_layer_projection(cfg, w, seed, init=False):
    """Prefix tuning through PEFT's PrefixEncoder MLP (prefix_projection, encoder_hidden_size 5):
    P = transform(embedding) with transform = Linear(KVD, 5), Tanh, Linear(5, 2·L·KVD),
    token_dim = KVD for grouped-query attention; PEFT's default init (N(0, 1) embedding,
    torch's Linear init), which starts neither at the base nor at tokens."""
    kvd, hidden, width = cfg["dim"] * cfg["n_kv_heads"] // cfg["n_heads"], 5, 2 * cfg["n_layers"] * cfg["dim"] * cfg["n_kv_heads"] // cfg["n_heads"]
    torch.manual_seed(seed)
    t = {"embedding.weight": torch.randn(PREFIX_LEN, kvd)}
    for name, (fan_out, fan_in) in {"transform.0": (hidden, kvd), "transform.2": (width, hidden)}.items():
        bound = 1 / math.sqrt(fan_in)
        t[name + ".weight"] = (torch.rand(fan_out, fan_in) * 2 - 1) * bound
        t[name + ".bias"] = (torch.rand(fan_out) * 2 - 1) * bound

    def hooks(t, w):
        P = F.linear(torch.tanh(F.linear(t["embedding.weight"], t["transform.0.weight"], t["transform.0.bias"])),
                     t["transform.2.weight"], t["transform.2.bias"])
        pkv = past_key_values(P, cfg)
        return {"kv": lambda layer: pkv[layer]}
    return {"prefix_len": PREFIX_LEN, "projection": True, "hidden": hidden}, t, [], hooks


METHODS = {"dora": dora, "top": top, "bitfit": bitfit, "ia3": ia3, "adapter-h": adapter_h, "adapter-l": adapter_l,
           "prefix-embed": prefix_embed, "prefix-layer": prefix_layer, "prefix-layer-projection": prefix_layer_projection}

# The prefix methods' cases: a longer context, so that the batch of 7 fits after the prefix.
CONFIGS = {name: dict(gm.TINY, seq_len=12) for name in ["prefix-embed", "prefix-layer", "prefix-layer-projection"]}


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
    s0, t0, _, _ = make(cfg, w64, seed=11, init=True)  # DoRA's m from the float64 weights' norms
    t0 = {k: v.double() for k, v in t0.items()}
    if s0.get("projection"):
        print("  %s: starts at PEFT's random MLP: neither the base nor tokens" % name)
        return settings, t, base, hooks
    got = forward(cfg, w64, inputs, hooks(t0, w64))
    if "init_tokens" in s0:  # a prefix: the base reading its initial tokens before the input
        toks = torch.tensor(s0["init_tokens"])
        n = len(toks)
        want = forward(cfg, w64, torch.cat([toks.expand(inputs.shape[0], -1), inputs], dim=1), {})[:, n:]
        what = "the base after the prefix's %d initial tokens" % n
    else:
        want, what = forward(cfg, w64, inputs, {}), "the base"
    err = (got - want).abs().max().item()
    assert err < 1e-12, (name, err)
    print("  %s: at init vs %s: max |logit diff| %.2e" % (name, what, err))
    return settings, t, base, hooks


def main():
    os.makedirs(OUT, exist_ok=True)
    names = sys.argv[1:] or list(METHODS)
    for name in names:
        assert name in METHODS, "unknown method %s (want some of %s)" % (name, ", ".join(METHODS))
    for name in names:
        cfg = CONFIGS.get(name, gm.TINY)
        w = gm.init_weights(cfg, seed=1)
        inputs, targets, mask = gm.batch(cfg, 2, 7, masked_prefix=3, seed=2)
        base_logits = forward(cfg, w, inputs, {})
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
