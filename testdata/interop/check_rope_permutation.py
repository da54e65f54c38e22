"""Checks the q/k row permutation that docs/interop.md tells users to apply when
moving a golora (llama2.c-layout) model and its LoRA adapter to Hugging Face's
LlamaForCausalLM.

golora and llama2.c rotate interleaved pairs (2i, 2i+1) of each head; Hugging
Face Llama rotates halves (i, i + head_size/2) ("rotate_half"). Permuting the
rows of W_q and W_k within each head as llama2.c's export.py (hf_export,
permute_original) does makes the two give identical attention scores; for a
LoRA adapter, W + s*B@A permuted equals permuted W + s*(permuted B)@A, so only
lora_B of q_proj and k_proj is permuted, lora_A never.

Run with Debian's torch: /usr/bin/python3 testdata/interop/check_rope_permutation.py
"""
import torch

torch.manual_seed(0)
dim, n_heads, n_kv_heads, seq, base, r = 64, 8, 4, 12, 10000.0, 4
hs = dim // n_heads
kv_dim = n_kv_heads * hs


def permute(w, heads, rows, cols):
    # llama2.c export.py permute_original (and transformers' convert_llama_weights_to_hf permute).
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def rope_interleaved(x, heads):  # x (seq, heads*hs): llama2.c run.c and golora
    x = x.view(seq, heads, hs // 2, 2)
    i = torch.arange(hs // 2, dtype=torch.float64)
    freq = base ** (-2 * i / hs)
    ang = torch.arange(seq, dtype=torch.float64)[:, None] * freq[None, :]  # (seq, hs/2)
    c, s = ang.cos()[:, None, :], ang.sin()[:, None, :]
    a, b = x[..., 0], x[..., 1]
    return torch.stack([a * c - b * s, a * s + b * c], -1).reshape(seq, heads * hs)


def rope_rotate_half(x, heads):  # x (seq, heads*hs): transformers' LlamaRotaryEmbedding + rotate_half
    x = x.view(seq, heads, hs)
    i = torch.arange(hs // 2, dtype=torch.float64)
    freq = base ** (-2 * i / hs)
    ang = torch.arange(seq, dtype=torch.float64)[:, None] * freq[None, :]
    emb = torch.cat([ang, ang], -1)
    c, s = emb.cos()[:, None, :], emb.sin()[:, None, :]
    rot = torch.cat([-x[..., hs // 2:], x[..., : hs // 2]], -1)
    return (x * c + rot * s).reshape(seq, heads * hs)


def scores(q, k):  # grouped-query attention scores (heads, seq, seq)
    q = q.view(seq, n_heads, hs).transpose(0, 1)
    k = k.view(seq, n_kv_heads, hs).transpose(0, 1).repeat_interleave(n_heads // n_kv_heads, 0)
    return q @ k.transpose(1, 2)


x = torch.randn(seq, dim, dtype=torch.float64)
wq, wk = torch.randn(dim, dim, dtype=torch.float64), torch.randn(kv_dim, dim, dtype=torch.float64)
aq, bq = torch.randn(r, dim, dtype=torch.float64), torch.randn(dim, r, dtype=torch.float64)
ak, bk = torch.randn(r, dim, dtype=torch.float64), torch.randn(kv_dim, r, dtype=torch.float64)
scale = 2.0

# Base weights: interleaved RoPE on W vs rotate_half on permuted W.
ref = scores(rope_interleaved(x @ wq.T, n_heads), rope_interleaved(x @ wk.T, n_kv_heads))
hf = scores(rope_rotate_half(x @ permute(wq, n_heads, dim, dim).T, n_heads),
            rope_rotate_half(x @ permute(wk, n_kv_heads, kv_dim, dim).T, n_kv_heads))
err_base = (ref - hf).abs().max().item()

# Without the permutation the scores differ: the permutation is needed.
err_unpermuted = (ref - scores(rope_rotate_half(x @ wq.T, n_heads), rope_rotate_half(x @ wk.T, n_kv_heads))).abs().max().item()

# Adapter: permute only lora_B's rows.
wq2, wk2 = wq + scale * bq @ aq, wk + scale * bk @ ak
ref2 = scores(rope_interleaved(x @ wq2.T, n_heads), rope_interleaved(x @ wk2.T, n_kv_heads))
hq = x @ permute(wq, n_heads, dim, dim).T + scale * (x @ aq.T) @ permute(bq, n_heads, dim, r).T
hk = x @ permute(wk, n_kv_heads, kv_dim, dim).T + scale * (x @ ak.T) @ permute(bk, n_kv_heads, kv_dim, r).T
err_lora = (ref2 - scores(rope_rotate_half(hq, n_heads), rope_rotate_half(hk, n_kv_heads))).abs().max().item()

print(f"max |score diff| permuted base: {err_base:.2e}; adapter with permuted lora_B: {err_lora:.2e}; "
      f"unpermuted (must be large): {err_unpermuted:.2e}")
assert err_base < 1e-9 and err_lora < 1e-9 and err_unpermuted > 1e-3
print("ok")
