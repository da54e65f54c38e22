// Package data turns text into what golora trains on: tokenizers, a
// pretraining corpus, the three fine-tuning tasks (e2e data-to-text, a
// letter-substitution cipher, invented facts), bring-your-own JSON Lines
// examples, encoding into sequences, batching, and the exact-match metric.
//
// Conventions:
//   - Everything is deterministic: the same seed gives the same corpus, task,
//     split and batches, natively and in wasm (all randomness comes from
//     golora/core/rng, never math/rand).
//   - An Example is a prompt and a completion. A Sequence is
//     [BOS] + Encode(prompt) + Encode(completion) + [End]; the model predicts
//     token i+1 from tokens 0..i, and the loss counts only predictions of
//     completion and End tokens.
//   - Shapes follow core/nn's legend: B sequences of T tokens, flat row-major
//     (B*T), token t of sequence b at b*T+t.
//   - Functions that take user input (configs, JSONL files, examples) return
//     errors prefixed "task:" or naming the file and line; programmer errors
//     (an empty batcher, a negative batch size) panic with a "data: " prefix.
package data
