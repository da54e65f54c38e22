#!/usr/bin/env python3
"""PyTorch reference fixtures for golora's trainable token rows (core/peft/tokens.go).

Rerun from the repository root with Debian's interpreter, which has torch:

    /usr/bin/python3 testdata/gen/gen_tokens.py

It rewrites testdata/methods/tokens.json, tokens-untied.json and tokens-lora.json;
commit the script and its output. The Go tests only read the files. The format is
gen_methods.py's (testdata/methods/README.md): the tiny model and batch of
gen_model.py, the method's settings and tensors, the logits, the loss and the
gradient of every tensor it trains.

The rows act as Hugging Face PEFT's TrainableTokensLayer computes them
(src/peft/tuners/trainable_tokens/layer.py, get_merged_weights): the model reads
W.index_copy(0, token_indices, trainable_tokens_delta) in place of the embedding
W, and a tied classifier (PEFT's tied adapter) reads the same matrix. With an
untied classifier, its own rows of the same tokens train too (PEFT's dict form,
{"embed_tokens": ids, "lm_head": ids}). The rows are drawn away from the base's
(base + N(0, 0.2²)) so that their gradients are not those of the base rows.

  tokens.json        tied classifier: one (K, C) tensor serves both places
  tokens-untied.json untied: the embedding's rows and lm_head's rows, each (K, C)
  tokens-lora.json   the rows of tokens.json beside LoRA on q_proj, v_proj (r = 2,
                     alpha 4, A and B random): the two methods in one run

Before writing, the script checks in float64: gradcheck of the rows (and of the
LoRA matrices), and that the rows at their initial values (copies of the base's)
give the base's logits exactly.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model as gm  # noqa: E402
import gen_methods as gmeth  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "methods")

IDS = [9, 4, 6, 10]  # out of order; in the batch: 9 and 6 read only, 4 read and scored, 10 scored only
EMBED = "model.embed_tokens.token_adapter.trainable_tokens_delta"
HEAD = "lm_head.token_adapter.trainable_tokens_delta"


def with_rows(cfg, w, t):
    """The weights the model reads: the trained rows index_copied into the embedding (and lm_head)."""
    idx = torch.tensor(IDS)
    w = dict(w)
    w["model.embed_tokens.weight"] = w["model.embed_tokens.weight"].index_copy(0, idx, t[EMBED])
    if not cfg["tied"]:
        w["lm_head.weight"] = w["lm_head.weight"].index_copy(0, idx, t[HEAD])
    return w


def lora_hook(t, rank, alpha):
    s = alpha / rank

    def linear(mod, x, W):
        y = x @ W.t()
        if mod + ".lora_A" in t:
            y = y + s * (x @ t[mod + ".lora_A"].t()) @ t[mod + ".lora_B"].t()
        return y
    return {"linear": linear}


def make(cfg, w, lora, seed, init=False):
    torch.manual_seed(seed)
    idx = torch.tensor(IDS)
    t = {}
    for name, base in [(EMBED, "model.embed_tokens.weight"), (HEAD, "lm_head.weight")]:
        if base in w:
            rows = w[base][idx].clone()
            t[name] = rows if init else rows + 0.2 * torch.randn(rows.shape)
    settings = {"ids": IDS, "output": True}
    if lora:
        rank, alpha = 2, 4.0
        shapes = gm.weight_shapes(cfg)
        for mod in gmeth.modules(cfg, ["q_proj", "v_proj"]):
            out_f, in_f = shapes[mod + ".weight"]
            t[mod + ".lora_A"] = 0.3 * torch.randn(rank, in_f)
            t[mod + ".lora_B"] = torch.zeros(out_f, rank) if init else 0.3 * torch.randn(out_f, rank)
        dtype = w["model.embed_tokens.weight"].dtype
        t = {k: v.to(dtype) for k, v in t.items()}
        settings["lora"] = {"rank": rank, "alpha": alpha, "targets": ["q", "v"]}
    return settings, t


def logits_of(cfg, w, inputs, t, settings):
    hooks = {}
    if "lora" in settings:
        hooks = lora_hook(t, settings["lora"]["rank"], settings["lora"]["alpha"])
    return gmeth.forward(cfg, with_rows(cfg, w, t), inputs, hooks)


def check(name, cfg, w, inputs, targets, mask, lora):
    settings, t = make(cfg, w, lora, seed=11)
    w64 = gm.to64(w)
    t64 = {k: v.double() for k, v in t.items()}
    for k in [EMBED, HEAD] + sorted(k for k in t64 if "lora" in k)[:2]:
        if k not in t64:
            continue

        def f(p, k=k):
            tt = dict(t64)
            tt[k] = p
            return gm.masked_loss(logits_of(cfg, w64, inputs, tt, settings), targets, mask)
        assert torch.autograd.gradcheck(f, (t64[k].clone().requires_grad_(True),), eps=1e-6, atol=1e-7, rtol=1e-5)
        print("  %s: gradcheck float64 %-55s ok" % (name, k))
    _, t0 = make(cfg, w64, lora, seed=11, init=True)
    err = (logits_of(cfg, w64, inputs, t0, settings) - gmeth.forward(cfg, w64, inputs, {})).abs().max().item()
    assert err == 0, (name, err)
    print("  %s: at init vs the base: max |logit diff| %.2e" % (name, err))
    return settings, t


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, tied, lora in [("tokens", True, False), ("tokens-untied", False, False), ("tokens-lora", True, True)]:
        cfg = dict(gm.TINY, tied=tied)
        w = gm.init_weights(cfg, seed=1)
        inputs, targets, mask = gm.batch(cfg, 2, 7, masked_prefix=3, seed=2)
        for tok in IDS:
            assert (inputs == tok).any() or (targets == tok).any(), "token %d is neither read nor scored" % tok
        settings, t = check(name, cfg, w, inputs, targets, mask, lora)
        t = {k: v.detach().clone().requires_grad_(True) for k, v in t.items()}
        logits = logits_of(cfg, w, inputs, t, settings)
        loss = gm.masked_loss(logits, targets, mask)
        loss.backward()
        moved = (logits - gmeth.forward(cfg, w, inputs, {})).abs().max().item()
        assert moved > 0.05, (name, moved)
        print("%s: loss %.6f, the rows move the logits by up to %.3f" % (name, loss.item(), moved))
        doc = gm.base_doc(name, cfg, inputs, targets, mask, w)
        doc["method"] = {"name": "tokens", **settings, "tensors": {k: gm.tensor_doc(v) for k, v in t.items()}}
        doc.update({"logits": gm.flat(logits), "loss": loss.item(), "grads": {k: gm.flat(v.grad) for k, v in t.items()}})
        path = os.path.join(OUT, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
            f.write("\n")
        print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
