"""Converts a llama2.c legacy checkpoint (stories260K.bin, or one golora wrote
with `golora export -llama2c` / `golora merge -llama2c`) and, optionally, a
golora PEFT adapter to Hugging Face Llama layout.

  /usr/bin/python3 testdata/interop/llama2c_to_hf.py --check MODEL.bin TOKENIZER.bin [GOLDEN.txt]
      converts, then runs a Hugging Face-style forward pass (rotate_half RoPE,
      written out here in plain torch) greedily from BOS and prints the text;
      with GOLDEN it must equal llama2.c's reference output byte for byte.
  python3 testdata/interop/llama2c_to_hf.py --out HF_DIR [--adapter DIR --adapter-out DIR2] MODEL.bin
      writes HF_DIR (LlamaForCausalLM.save_pretrained; needs transformers) and
      DIR2, the adapter with lora_B of q_proj/k_proj permuted to match (needs
      safetensors). Then peft.PeftModel.from_pretrained(model, DIR2) loads it.

llama2.c (and golora) rotate interleaved pairs (2i, 2i+1) in each head; HF
Llama rotates halves. llama2.c's export.py (hf_export, permute_original)
permutes q and k rows per head for HF; we do the same, and for an adapter
permute only lora_B's rows (W + s*B@A permuted = perm(W) + s*perm(B)@A).
"""
import argparse
import json
import os
import struct
import sys

import torch


def permute(w, heads):  # llama2.c export.py permute_original: interleaved -> rotate_half rows
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def read_llama2c(path):
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hs, kv_dim = dim // n_heads, dim * n_kv // n_heads
    data = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32)
    off = 0

    def take(*shape):
        nonlocal off
        n = 1
        for s in shape:
            n *= s
        t = data[off:off + n].reshape(shape).clone()
        off += n
        return t

    emb = take(vocab, dim)
    att_norm, wq, wk = take(n_layers, dim), take(n_layers, dim, dim), take(n_layers, kv_dim, dim)
    wv, wo = take(n_layers, kv_dim, dim), take(n_layers, dim, dim)
    ffn_norm, w1 = take(n_layers, dim), take(n_layers, hidden, dim)
    w2, w3 = take(n_layers, dim, hidden), take(n_layers, hidden, dim)
    norm = take(dim)
    off += seq_len * hs  # the two unused RoPE tables, seq_len*hs/2 floats each
    head = emb if shared else take(vocab, dim)
    assert off == data.numel(), f"{path}: {data.numel() - off} floats left over"
    sd = {"model.embed_tokens.weight": emb, "model.norm.weight": norm, "lm_head.weight": head}
    for l in range(n_layers):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = att_norm[l]
        sd[p + "self_attn.q_proj.weight"] = permute(wq[l], n_heads)
        sd[p + "self_attn.k_proj.weight"] = permute(wk[l], n_kv)
        sd[p + "self_attn.v_proj.weight"] = wv[l]
        sd[p + "self_attn.o_proj.weight"] = wo[l]
        sd[p + "post_attention_layernorm.weight"] = ffn_norm[l]
        sd[p + "mlp.gate_proj.weight"] = w1[l]
        sd[p + "mlp.down_proj.weight"] = w2[l]
        sd[p + "mlp.up_proj.weight"] = w3[l]
    # LlamaConfig fields; llama2.c fixes eps 1e-5 (HF's default is 1e-6) and RoPE base 10000.
    cfg = dict(vocab_size=vocab, hidden_size=dim, intermediate_size=hidden, num_hidden_layers=n_layers,
               num_attention_heads=n_heads, num_key_value_heads=n_kv, max_position_embeddings=seq_len,
               rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=shared, hidden_act="silu",
               bos_token_id=1, eos_token_id=2)
    return cfg, sd


def hf_forward(cfg, sd, tokens):
    """Logits of the last position, computed as transformers' LlamaForCausalLM does (rotate_half)."""
    C, NH, NKV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hs, T = C // NH, len(tokens)

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"]) * w

    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

    def rope(x):  # (heads, T, hs)
        rot = torch.cat([-x[..., hs // 2:], x[..., :hs // 2]], -1)
        return x * cos + rot * sin

    x = sd["model.embed_tokens.weight"][tokens]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, sd[p + "input_layernorm.weight"])
        q = rope((h @ sd[p + "self_attn.q_proj.weight"].T).view(T, NH, hs).transpose(0, 1))
        k = rope((h @ sd[p + "self_attn.k_proj.weight"].T).view(T, NKV, hs).transpose(0, 1))
        v = (h @ sd[p + "self_attn.v_proj.weight"].T).view(T, NKV, hs).transpose(0, 1)
        k, v = k.repeat_interleave(NH // NKV, 0), v.repeat_interleave(NH // NKV, 0)
        att = torch.softmax(q @ k.transpose(1, 2) / hs ** 0.5 + mask, -1)
        x = x + (att @ v).transpose(0, 1).reshape(T, C) @ sd[p + "self_attn.o_proj.weight"].T
        h = rms(x, sd[p + "post_attention_layernorm.weight"])
        g = h @ sd[p + "mlp.gate_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * (h @ sd[p + "mlp.up_proj.weight"].T)) @ sd[p + "mlp.down_proj.weight"].T
    return rms(x, sd["model.norm.weight"])[-1] @ sd["lm_head.weight"].T


def read_pieces(path, vocab):
    raw = open(path, "rb").read()
    off, pieces = 4, []
    for _ in range(vocab):
        _, n = struct.unpack("<fi", raw[off:off + 8])
        pieces.append(raw[off + 8:off + 8 + n])
        off += 8 + n
    return pieces


def decode(pieces, prev, tok):  # run.c's decode + safe_printf
    p = pieces[tok]
    if prev == 1 and p.startswith(b" "):
        p = p[1:]
    if p.startswith(b"<0x") and len(p) == 6:
        p = bytes([int(p[3:5], 16)])
    if len(p) == 1 and not (0x20 <= p[0] <= 0x7E or p[0] in b"\t\n\v\f\r"):
        p = b""
    return p


def check(model, tokenizer, golden, steps=200):
    cfg, sd = read_llama2c(model)
    pieces = read_pieces(tokenizer, cfg["vocab_size"])
    tokens, out = [1], b""
    with torch.no_grad():
        while len(tokens) <= steps:  # run.c feeds steps positions and prints the token each one predicts
            nxt = int(torch.argmax(hf_forward(cfg, sd, tokens)))
            if nxt == 1:
                break
            out += decode(pieces, tokens[-1], nxt)
            tokens.append(nxt)
    out += b"\n"
    sys.stdout.write(out.decode("utf-8", "replace"))
    if golden:
        want = open(golden, "rb").read()
        print("matches" if out == want else "DIFFERS from", golden)
        return out == want
    return True


def convert_adapter(src, dst, cfg):
    from safetensors.torch import load_file, save_file
    sd = load_file(os.path.join(src, "adapter_model.safetensors"))
    with open(os.path.join(src, "adapter_config.json")) as f:
        peft_type = json.load(f).get("peft_type")
    for key, w in sd.items():
        if key == "prompt_embeddings" and peft_type == "PREFIX_TUNING":
            # (l_p, L*2*KVD): [k_0, v_0, k_1, v_1, ...] per virtual token; each key (NKV, HS) meets the permuted queries
            n_kv, layers = cfg["num_key_value_heads"], cfg["num_hidden_layers"]
            kv = w.reshape(w.shape[0], layers, 2, -1).clone()
            for t in range(kv.shape[0]):
                for l in range(layers):
                    kv[t, l, 0] = permute(kv[t, l, 0].reshape(-1, 1), n_kv).reshape(-1)
            sd[key] = kv.reshape(w.shape).contiguous()
            continue
        heads = None
        if ".q_proj." in key:
            heads = cfg["num_attention_heads"]
        elif ".k_proj." in key:
            heads = cfg["num_key_value_heads"]
        if heads is None:
            continue
        if key.endswith("lora_B.weight") or key.endswith("ia3_l") and w.shape[-1] == 1:  # (out, r), (out, 1): rows
            sd[key] = permute(w, heads).contiguous()
        elif key.endswith("lora_magnitude_vector"):  # DoRA (out): one value per row
            sd[key] = permute(w.reshape(-1, 1), heads).reshape(-1).contiguous()
    os.makedirs(dst, exist_ok=True)
    save_file(sd, os.path.join(dst, "adapter_model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(src, "adapter_config.json")) as f:
        conf = json.load(f)
    with open(os.path.join(dst, "adapter_config.json"), "w") as f:
        json.dump(conf, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tokenizer", nargs="?")
    ap.add_argument("golden", nargs="?")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--adapter")
    ap.add_argument("--adapter-out")
    a = ap.parse_args()
    if a.check:
        sys.exit(0 if check(a.model, a.tokenizer, a.golden) else 1)
    cfg, sd = read_llama2c(a.model)
    if a.out:
        from transformers import LlamaConfig, LlamaForCausalLM
        m = LlamaForCausalLM(LlamaConfig(**cfg))
        m.load_state_dict(sd, strict=False)  # strict=False: a tied lm_head is not a separate entry in newer versions
        m.save_pretrained(a.out)
    if a.adapter:
        convert_adapter(a.adapter, a.adapter_out or a.adapter + "-hf", cfg)
