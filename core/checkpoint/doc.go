// Package checkpoint reads and writes the file formats golora exchanges with the
// outside world: safetensors (the tensor container of Hugging Face tools), the
// PEFT adapter layout (adapter_model.safetensors plus adapter_config.json) and
// llama2.c's legacy .bin checkpoints.
//
// Conventions: every tensor is float32, row-major, with PyTorch shapes ((out, in)
// for a linear layer's weight); names follow Hugging Face's Llama naming
// (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ...).
// Readers take outside bytes, so they validate everything and return errors that
// name the file and what is wrong ("checkpoint NAME: ..."); they never panic and
// never return a partial result with a nil error.
package checkpoint
