#!/usr/bin/env python3
"""PyTorch reference fixtures for golora's whole model (core/model).

Rerun from the repository root with Debian's interpreter, which has torch
(the python3 first on PATH may be a pyenv one without it):

    /usr/bin/python3 testdata/gen/gen_model.py

It rewrites testdata/model/{tiny,untied,lora,adamw_step}.json; commit the script
and its output. The Go tests only read the files. The format is described in
testdata/model/README.md. Weights and batches come from torch.manual_seed with a
fixed seed per case, so a rerun with the same torch (1.13) reproduces the files.

The model is a Llama-style decoder written out in plain PyTorch (no nn.Module,
no Hugging Face), float32, exactly as /work/shared/DESIGN.md and llama2.c's
run.c describe it:

    x = embed[tokens]
    per block:  h = rmsnorm(x) -> q, k, v = h Wqᵀ, h Wkᵀ, h Wvᵀ
                q, k = rope(q), rope(k)             (pairs (2i, 2i+1) in each head)
                a = causal softmax(q kᵀ / sqrt(HS)) v   (query head h reads kv head h // (NH/NKV))
                x = x + a Woᵀ
                h = rmsnorm(x) -> x = x + (silu(h Wgateᵀ) * (h Wupᵀ)) Wdownᵀ
    logits = rmsnorm(x) lm_headᵀ                    (lm_head = embed when tied)
    loss = sum(mask * CE(logits, targets)) / sum(mask)

Before writing, the script checks its own model and prints the results: a
float64 gradcheck of selected parameters, RoPE against the complex-number form
of Meta's Llama code, GQA attention against a per-head loop, tied against
untied with lm_head = embed, LoRA with B = 0 against the base, LoRA merged
against unmerged, and the masked mean against F.cross_entropy(ignore_index=-1).
It aborts (AssertionError) if any fails.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model")

NORM_EPS = 1e-5
ROPE_BASE = 10000.0

LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


# ---------------------------------------------------------------------------
# The model


def weight_shapes(cfg):
    """Every base parameter's HF name and shape (out, in) in checkpoint order."""
    d, hd, v = cfg["dim"], cfg["hidden_dim"], cfg["vocab_size"]
    kv = d * cfg["n_kv_heads"] // cfg["n_heads"]
    shapes = {"model.embed_tokens.weight": (v, d)}
    for layer in range(cfg["n_layers"]):
        p = "model.layers.%d." % layer
        shapes[p + "input_layernorm.weight"] = (d,)
        shapes[p + "self_attn.q_proj.weight"] = (d, d)
        shapes[p + "self_attn.k_proj.weight"] = (kv, d)
        shapes[p + "self_attn.v_proj.weight"] = (kv, d)
        shapes[p + "self_attn.o_proj.weight"] = (d, d)
        shapes[p + "post_attention_layernorm.weight"] = (d,)
        shapes[p + "mlp.gate_proj.weight"] = (hd, d)
        shapes[p + "mlp.up_proj.weight"] = (hd, d)
        shapes[p + "mlp.down_proj.weight"] = (d, hd)
    shapes["model.norm.weight"] = (d,)
    if not cfg["tied"]:
        shapes["lm_head.weight"] = (v, d)
    return shapes


def init_weights(cfg, seed):
    """Random weights large enough that logits are far from flat: embeddings
    std 0.5, linears std 0.3 (down 0.2: it sums hidden_dim terms), norm
    weights 1 + N(0, 0.1²)."""
    torch.manual_seed(seed)
    w = {}
    for name, shape in weight_shapes(cfg).items():
        if len(shape) == 1:
            w[name] = 1.0 + 0.1 * torch.randn(shape)
        elif "embed" in name or "lm_head" in name:
            w[name] = 0.5 * torch.randn(shape)
        elif "down_proj" in name:
            w[name] = 0.2 * torch.randn(shape)
        else:
            w[name] = 0.3 * torch.randn(shape)
    return w


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * w


def rope_tables(t, hs, dtype):
    """cos and sin of pos * base^(-2i/HS), (T, HS/2). Angles are computed in
    float64 and rounded once, as core/nn's NewRoPE does (llama2.c computes them
    in float32; the difference is below float32 noise for small positions)."""
    i = torch.arange(hs // 2, dtype=torch.float64)
    freq = ROPE_BASE ** (-2.0 * i / hs)
    ang = torch.arange(t, dtype=torch.float64)[:, None] * freq[None, :]
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def rope(x):
    """x (B, T, H, HS): rotate the pairs (2i, 2i+1) of every head by pos*freq_i."""
    b, t, h, hs = x.shape
    cos, sin = rope_tables(t, hs, x.dtype)
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).reshape(b, t, h, hs)


def attention(q, k, v, nh, nkv):
    """q (B, T, NH, HS), k and v (B, T, NKV, HS) -> (B, T, NH*HS); causal, GQA."""
    b, t, _, hs = q.shape
    rep = nh // nkv
    # repeat_interleave puts kv head j at query heads j*rep .. j*rep+rep-1: head h reads h // rep.
    k = k.repeat_interleave(rep, dim=2)
    v = v.repeat_interleave(rep, dim=2)
    q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, NH, T, HS)
    scores = q @ k.transpose(-1, -2) / math.sqrt(hs)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    return out.transpose(1, 2).reshape(b, t, nh * hs)


def linear(x, w, module, lora):
    """x Wᵀ, plus scaling * (x Aᵀ) Bᵀ when module has an adapter."""
    y = x @ w.t()
    if lora is not None and module in lora["adapters"]:
        ad = lora["adapters"][module]
        y = y + lora["scaling"] * ((x @ ad["A"].t()) @ ad["B"].t())
    return y


def forward(cfg, w, tokens, lora=None):
    """tokens (B, T) int64 -> logits (B, T, V)."""
    nh, nkv = cfg["n_heads"], cfg["n_kv_heads"]
    hs = cfg["dim"] // nh
    b, t = tokens.shape
    x = w["model.embed_tokens.weight"][tokens]
    for layer in range(cfg["n_layers"]):
        p = "model.layers.%d." % layer
        lin = lambda z, m: linear(z, w[p + m + ".weight"], p + m, lora)  # noqa: E731
        h = rmsnorm(x, w[p + "input_layernorm.weight"])
        q = rope(lin(h, "self_attn.q_proj").view(b, t, nh, hs))
        k = rope(lin(h, "self_attn.k_proj").view(b, t, nkv, hs))
        v = lin(h, "self_attn.v_proj").view(b, t, nkv, hs)
        x = x + lin(attention(q, k, v, nh, nkv), "self_attn.o_proj")
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"])
        x = x + lin(F.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj"), "mlp.down_proj")
    x = rmsnorm(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if cfg["tied"] else w["lm_head.weight"]
    return x @ head.t()


def masked_loss(logits, targets, mask):
    """Mean cross-entropy over positions where mask = 1 (targets there are >= 0)."""
    v = logits.shape[-1]
    ce = F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1).clamp(min=0), reduction="none")
    m = mask.reshape(-1).to(logits.dtype)
    return (ce * m).sum() / m.sum()


# ---------------------------------------------------------------------------
# Cases


def batch(cfg, b, t, masked_prefix, seed):
    """Random next-token batch: inputs (B, T), targets (B, T) with -1 where
    masked, mask (B, T) float; the first masked_prefix positions of each row are masked."""
    g = torch.Generator().manual_seed(seed)
    seq = torch.randint(0, cfg["vocab_size"], (b, t + 1), generator=g)
    inputs, targets = seq[:, :-1].clone(), seq[:, 1:].clone()
    mask = torch.ones(b, t)
    mask[:, :masked_prefix] = 0.0
    targets[mask == 0] = -1
    return inputs, targets, mask


def make_lora(cfg, targets, rank, alpha, seed):
    """Adapters on every layer's target modules, A (r, in) and B (out, r) both
    random (std 0.2), so that B's path and both gradients are exercised."""
    shapes = weight_shapes(cfg)
    torch.manual_seed(seed)
    adapters = {}
    for layer in range(cfg["n_layers"]):
        for m in LINEARS:
            if m.split(".")[1] in targets:
                module = "model.layers.%d.%s" % (layer, m)
                out_f, in_f = shapes[module + ".weight"]
                adapters[module] = {"A": 0.2 * torch.randn(rank, in_f), "B": 0.2 * torch.randn(out_f, rank)}
    return {"rank": rank, "alpha": alpha, "scaling": alpha / rank, "targets": targets, "adapters": adapters}


def flat(x):
    return x.detach().reshape(-1).tolist()


def tensor_doc(x):
    return {"shape": list(x.shape), "data": flat(x)}


def config_doc(cfg):
    return {**cfg, "norm_eps": NORM_EPS, "rope_base": ROPE_BASE}


def run(cfg, w, inputs, targets, mask, lora=None):
    """Forward and backward: base weights get gradients unless lora is given,
    in which case only the adapters do."""
    w = {k: v.detach().clone().requires_grad_(lora is None) for k, v in w.items()}
    if lora is not None:
        lora = {**lora, "adapters": {m: {k: t.detach().clone().requires_grad_(True) for k, t in ad.items()}
                                     for m, ad in lora["adapters"].items()}}
    logits = forward(cfg, w, inputs, lora)
    loss = masked_loss(logits, targets, mask)
    loss.backward()
    return w, lora, logits, loss


def base_doc(name, cfg, inputs, targets, mask, w):
    b, t = inputs.shape
    return {"case": name, "config": config_doc(cfg), "B": b, "T": t,
            "inputs": flat(inputs), "targets": flat(targets), "mask": flat(mask),
            "weights": {k: tensor_doc(v) for k, v in w.items()}}


def write(name, doc):
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


# ---------------------------------------------------------------------------
# Self-checks


def to64(w):
    return {k: v.detach().double() for k, v in w.items()}


def lora64(lora):
    return {**lora, "adapters": {m: {k: t.detach().double() for k, t in ad.items()} for m, ad in lora["adapters"].items()}}


def check_gradcheck(cfg, w, inputs, targets, mask, lora):
    """float64 gradcheck of the loss against a few parameters at a time."""
    w64, l64 = to64(w), lora64(lora)
    names = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
             "model.layers.1.self_attn.k_proj.weight", "model.layers.0.input_layernorm.weight",
             "model.layers.1.mlp.down_proj.weight", "model.norm.weight"]
    for name in names:
        def f(p, name=name):
            return masked_loss(forward(cfg, {**w64, name: p}, inputs), targets, mask)
        ok = torch.autograd.gradcheck(f, (w64[name].clone().requires_grad_(True),), eps=1e-6, atol=1e-7, rtol=1e-5)
        assert ok
        print("  gradcheck float64 %-45s ok" % name)
    for module in ["model.layers.0.self_attn.v_proj", "model.layers.1.mlp.down_proj"]:
        for part in ["A", "B"]:
            def f(p, module=module, part=part):
                ads = {**l64["adapters"], module: {**l64["adapters"][module], part: p}}
                return masked_loss(forward(cfg, w64, inputs, {**l64, "adapters": ads}), targets, mask)
            ok = torch.autograd.gradcheck(f, (l64["adapters"][module][part].clone().requires_grad_(True),),
                                          eps=1e-6, atol=1e-7, rtol=1e-5)
            assert ok
            print("  gradcheck float64 %-45s ok" % (module + ".lora_" + part))


def check_rope():
    """The (2i, 2i+1) rotation equals Meta's complex form: view pairs as complex, multiply by e^{i pos freq}."""
    torch.manual_seed(99)
    x = torch.randn(2, 6, 3, 8, dtype=torch.float64)
    i = torch.arange(4, dtype=torch.float64)
    freq = ROPE_BASE ** (-2 * i / 8)
    cis = torch.polar(torch.ones(6, 4, dtype=torch.float64), torch.arange(6, dtype=torch.float64)[:, None] * freq)
    ref = torch.view_as_real(torch.view_as_complex(x.reshape(2, 6, 3, 4, 2)) * cis[None, :, None, :]).reshape(x.shape)
    err = (rope(x) - ref).abs().max().item()
    assert err < 1e-12, err
    print("  rope vs complex form: max |diff| %.2e" % err)


def check_attention():
    """GQA attention against an explicit loop over batch, head and query position."""
    torch.manual_seed(98)
    b, t, nh, nkv, hs = 2, 5, 4, 2, 3
    q, k, v = torch.randn(b, t, nh, hs, dtype=torch.float64), torch.randn(b, t, nkv, hs, dtype=torch.float64), \
        torch.randn(b, t, nkv, hs, dtype=torch.float64)
    out = attention(q, k, v, nh, nkv).view(b, t, nh, hs)
    err = 0.0
    for bi in range(b):
        for h in range(nh):
            kvh = h // (nh // nkv)
            for ti in range(t):
                s = torch.stack([q[bi, ti, h] @ k[bi, tj, kvh] / math.sqrt(hs) for tj in range(ti + 1)])
                p = torch.softmax(s, dim=0)
                ref = sum(p[tj] * v[bi, tj, kvh] for tj in range(ti + 1))
                err = max(err, (out[bi, ti, h] - ref).abs().max().item())
    assert err < 1e-12, err
    print("  GQA attention vs per-head loop: max |diff| %.2e" % err)


def check_tied_untied(cfg, w, inputs, targets, mask):
    """Tied equals untied with lm_head = embed; the tied embedding's gradient
    is the sum of the untied embedding's and lm_head's."""
    w64 = to64(w)
    untied_cfg = {**cfg, "tied": False}
    untied = {**w64, "lm_head.weight": w64["model.embed_tokens.weight"].clone()}
    wt, _, lt, _ = run(cfg, w64, inputs, targets, mask)
    wu, _, lu, _ = run(untied_cfg, untied, inputs, targets, mask)
    e1 = (lt - lu).abs().max().item()
    e2 = (wt["model.embed_tokens.weight"].grad
          - wu["model.embed_tokens.weight"].grad - wu["lm_head.weight"].grad).abs().max().item()
    assert e1 < 1e-12 and e2 < 1e-12, (e1, e2)
    print("  tied vs untied (lm_head = embed): logits %.2e, embed grad %.2e" % (e1, e2))


def check_lora(cfg, w, inputs, lora):
    """LoRA with B = 0 is the base; merged W + scaling B A equals unmerged."""
    w64, l64 = to64(w), lora64(lora)
    base = forward(cfg, w64, inputs)
    zero_b = {**l64, "adapters": {m: {"A": ad["A"], "B": torch.zeros_like(ad["B"])} for m, ad in l64["adapters"].items()}}
    e1 = (forward(cfg, w64, inputs, zero_b) - base).abs().max().item()
    merged = dict(w64)
    for m, ad in l64["adapters"].items():
        merged[m + ".weight"] = merged[m + ".weight"] + l64["scaling"] * ad["B"] @ ad["A"]
    with_lora = forward(cfg, w64, inputs, l64)
    e2 = (forward(cfg, merged, inputs) - with_lora).abs().max().item()
    delta = (with_lora - base).abs().max().item()
    assert e1 == 0.0 and e2 < 1e-12 and delta > 0.1, (e1, e2, delta)
    print("  LoRA: B=0 vs base %.2e, merged vs unmerged %.2e, adapters move logits by up to %.3f" % (e1, e2, delta))


def check_loss(logits, targets, mask):
    """The masked mean equals F.cross_entropy with ignore_index=-1 (mask is binary here)."""
    v = logits.shape[-1]
    ref = F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1), ignore_index=-1)
    err = abs(masked_loss(logits, targets, mask).item() - ref.item())
    assert err < 1e-6, err
    print("  masked mean vs cross_entropy(ignore_index=-1): |diff| %.2e" % err)


def float32_noise(cfg, w, inputs, targets, mask):
    """How far PyTorch's own float32 results are from float64: a floor for the Go side's tolerance."""
    w32, _, l32, loss32 = run(cfg, w, inputs, targets, mask)
    w64, _, l64, loss64 = run(cfg, to64(w), inputs, targets, mask)
    gerr = max(((w32[k].grad.double() - w64[k].grad).abs().max() / w64[k].grad.abs().max()).item() for k in w)
    print("  float32 vs float64: logits max |diff| %.2e, loss |diff| %.2e, grads max |diff|/max|grad| %.2e"
          % ((l32.double() - l64).abs().max().item(), abs(loss32.item() - loss64.item()), gerr))
    # AdamW's first step moves each weight by about lr*sign(grad): the adamw_step case is only
    # robust if no gradient is so small that float32 noise could flip its sign.
    margin = min((w64[k].grad.abs() / ((w32[k].grad.double() - w64[k].grad).abs() + 1e-30)).min().item() for k in w)
    assert margin > 20, margin
    print("  smallest |grad| / float32 noise over all elements: %.0f (sign of every gradient is robust)" % margin)


# ---------------------------------------------------------------------------


TINY = {"dim": 16, "hidden_dim": 40, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
        "vocab_size": 23, "seq_len": 8, "tied": True}
UNTIED = {"dim": 12, "hidden_dim": 24, "n_layers": 2, "n_heads": 3, "n_kv_heads": 3,
          "vocab_size": 17, "seq_len": 6, "tied": False}
def plain_case(name, cfg, weight_seed, b, t, masked_prefix, batch_seed):
    """A base-model case: random weights and batch, logits, loss and every parameter's gradient."""
    w = init_weights(cfg, seed=weight_seed)
    inputs, targets, mask = batch(cfg, b, t, masked_prefix=masked_prefix, seed=batch_seed)
    wg, _, logits, loss = run(cfg, w, inputs, targets, mask)
    check_loss(logits, targets, mask)
    print("%s: loss %.6f, logits std %.3f" % (name, loss.item(), logits.std().item()))
    doc = base_doc(name, cfg, inputs, targets, mask, w)
    doc.update({"logits": flat(logits), "loss": loss.item(), "grads": {k: flat(v.grad) for k, v in wg.items()}})
    write(name, doc)


LONG = {"dim": 16, "hidden_dim": 24, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
        "vocab_size": 13, "seq_len": 160, "tied": True}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    # (a) tiny, tied, GQA; B=2, T=7, first 3 positions of each row masked.
    w_tiny = init_weights(TINY, seed=1)
    inputs, targets, mask = batch(TINY, 2, 7, masked_prefix=3, seed=2)
    lora = make_lora(TINY, ["q_proj", "v_proj", "down_proj"], rank=2, alpha=4.0, seed=3)

    print("self-checks:")
    check_rope()
    check_attention()
    check_gradcheck(TINY, w_tiny, inputs, targets, mask, lora)
    check_tied_untied(TINY, w_tiny, inputs, targets, mask)
    check_lora(TINY, w_tiny, inputs, lora)
    float32_noise(TINY, w_tiny, inputs, targets, mask)

    wg, _, logits, loss = run(TINY, w_tiny, inputs, targets, mask)
    check_loss(logits, targets, mask)
    grads = {k: v.grad for k, v in wg.items()}
    gmin = min(g.abs().min().item() for g in grads.values())
    print("tiny: loss %.6f, logits std %.3f, smallest |grad| %.3e" % (loss.item(), logits.std().item(), gmin))
    doc = base_doc("tiny", TINY, inputs, targets, mask, w_tiny)
    doc.update({"logits": flat(logits), "loss": loss.item(), "grads": {k: flat(g) for k, g in grads.items()}})
    write("tiny", doc)

    # (b) untied classifier, multi-head (NH == NKV), B=1, T=5, no position masked.
    plain_case("untied", UNTIED, weight_seed=4, b=1, t=5, masked_prefix=0, batch_seed=5)

    # (c) the tiny model and batch of (a) with LoRA on q, v and down; base frozen.
    _, lg, ll, lossl = run(TINY, w_tiny, inputs, targets, mask, lora)
    print("lora: loss %.6f (base %.6f)" % (lossl.item(), loss.item()))
    doc = base_doc("lora", TINY, inputs, targets, mask, w_tiny)
    doc["lora"] = {"rank": lora["rank"], "alpha": lora["alpha"], "scaling": lora["scaling"], "targets": lora["targets"],
                   "adapters": {m: {"A": tensor_doc(ad["A"]), "B": tensor_doc(ad["B"])} for m, ad in lora["adapters"].items()}}
    lgrads = {}
    for m, ad in lg["adapters"].items():
        lgrads[m + ".lora_A"] = flat(ad["A"].grad)
        lgrads[m + ".lora_B"] = flat(ad["B"].grad)
    doc.update({"logits": flat(ll), "loss": lossl.item(), "grads": lgrads})
    write("lora", doc)

    # (d) one AdamW step of full fine-tuning on (a), then the loss on the same batch.
    opt_cfg = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
    params = {k: v.detach().clone().requires_grad_(True) for k, v in w_tiny.items()}
    opt = torch.optim.AdamW(list(params.values()), lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]),
                            eps=opt_cfg["eps"], weight_decay=opt_cfg["weight_decay"], foreach=False)
    loss0 = masked_loss(forward(TINY, params, inputs), targets, mask)
    loss0.backward()
    opt.step()
    with torch.no_grad():
        loss1 = masked_loss(forward(TINY, params, inputs), targets, mask)
    print("adamw_step: loss %.6f -> %.6f" % (loss0.item(), loss1.item()))
    shown = ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
             "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight"]
    doc = base_doc("adamw_step", TINY, inputs, targets, mask, w_tiny)
    doc.update({"optimizer": opt_cfg, "loss": loss0.item(), "loss_after_step": loss1.item(),
                "updated": {k: tensor_doc(params[k]) for k in shown}})
    write("adamw_step", doc)

    # (e) a context longer than one matmul block (128 rows): attention and
    # RoPE at far positions, where tiny cases cannot reach. B=1, T=150.
    plain_case("long", LONG, weight_seed=6, b=1, t=150, masked_prefix=10, batch_seed=7)

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("testdata/model: %d bytes in all" % total)


if __name__ == "__main__":
    main()
