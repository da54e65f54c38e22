// Package peft holds golora's fine-tuning methods, one type per file, each
// with its config, its hand-written forward and backward side by side, and
// how it attaches to a model: Hugging Face PEFT's tuners/<method>/{config,
// layer, model}.py in Go's terms, one file with three sections.
//
// A method acts on the model only at the places core/model offers (see
// model.Method): a linear layer's weight or output, which base weights
// train, the input embeddings (rows before every sequence's tokens), the
// attention's keys and values (leading ones every query attends to), and a
// block's sublayer outputs (a transform of the attention's and the MLP's
// output before each residual add). The model's Forward and Backward, and
// the KV-cache Decoder that evaluation decodes through, call those places in
// order and do no method's work of their own; this package imports
// core/model, never the other way round, and core/train imports both.
//
// Positions: what a method places before the tokens takes the first
// positions of the context (Model.Context is SeqLen less them), as Hugging
// Face PEFT's prompt and prefix tuning do with a Llama model: a prefix's keys
// and values first (read without rotation, as a cache holds rotated keys),
// then a prompt's rows, then the tokens, whose positions count from there.
// Attention stays causal; no logits or loss are computed at a prompt's rows.
//
// Every method's trainable parameters are one flat buffer (Params and Grads
// of the same layout); a run's optimizer, clipping, parts of a step and
// snapshots see the model's Trainable vector, which joins them to the base
// weights a method trains. Frozen weights have no gradient and no optimizer
// state, and their weight-gradient products are skipped.
//
// The methods: lora.go (LoRA), dora.go (DoRA: LoRA's direction with a
// learned magnitude per output row), ia3.go ((IA)³: learned scales of the
// keys, values and MLP activation), bitfit.go (the RMSNorm gains and added
// biases), top.go (the last k blocks), full.go (full fine-tuning, and frozen:
// the base as it is), adapter_h.go (Houlsby adapters after the attention and
// the MLP) and adapter_l.go (Lin's adapter after the MLP, with its own norm),
// both on bottleneck.go's layer, prefix_embed.go (prompt tuning: trainable
// rows before the input) and prefix_layer.go (prefix tuning: trainable keys
// and values in every layer, optionally through an MLP). method.go names each
// method's tensors; the adapters and prefixes name theirs in their files.
// Only LoRA, DoRA and (IA)³ merge into a Llama checkpoint; the others refuse
// Merge, saying why (model.Unmergeable).
package peft
