// Package data turns text into what golora trains on: tokenizers, a
// pretraining corpus, the three fine-tuning tasks, bring-your-own JSON Lines
// examples, encoding into sequences, batching, and the exact-match metric.
//
// Files:
//
//	tokenizer.go  Tokenizer; ByteTokenizer (golora's own models: bytes, BOS 0, EOS 1)
//	bpe*.go       llama2.c's BPE tokenizer (stories260K and friends)
//	words.go      the small world's word lists, shared by the corpus and the tasks
//	corpus.go     Corpus: the small world's pretraining sentences of 50-120 bytes
//	formats.go    Formats: numbers, dates, prices, records, CSV/JSON, titles, arithmetic, code
//	prose.go      ReadFortunes: real English from Debian's fortunes package
//	exercises.go  Exercises: a prompt and the answer computed from it (lookups, reformatting, sorting, arithmetic)
//	mix.go        BuildCorpus: the parts mixed and held out, LeakFilter (no test answer in the corpus)
//	drill.go      CopyDrills: the copying exercises of pretraining
//	task.go       Example, Task, TaskConfig, NewTask, NewTaskFromExamples
//	e2e.go        data-to-text: "name[The Mill] food[Italian]\n" -> one house-style sentence
//	cipher.go     "cipher: the cat sat\n" -> the sentence under a k-letter substitution
//	facts.go      invented facts: trained as question and statement, tested on the question
//	jsonl.go      ReadJSONL, WriteJSONL, SplitExamples
//	encode.go     Sequence, EncodeExamples, Batch, Batcher, EncodeStream, StreamBatcher
//	metric.go     ExactMatch, Accuracy
//
// Conventions:
//   - Everything is deterministic: the same seed gives the same corpus, task,
//     split and batches, natively and in wasm (all randomness comes from
//     golora/core/rng, never math/rand). The corpus, each task and the split
//     draw from independent streams derived from the seed.
//   - An Example is a prompt and a completion. A Sequence is
//     [BOS] + Encode(prompt) + Encode(completion) + [End]; the model predicts
//     token i+1 from tokens 0..i, and the loss counts only predictions of
//     completion and End tokens. Examples are never truncated: one too long
//     for the context is an error.
//   - Generated tasks are disjoint by prompt across splits (test prompts are
//     combinations never trained), except facts, whose point is memorisation:
//     its Test asks exactly the trained questions (see facts.go).
//   - Exact match is strict byte equality of the generated completion (up to,
//     not including, End) with the expected one.
//   - Shapes follow core/nn's legend: B sequences of T tokens, flat row-major
//     (B*T), token t of sequence b at b*T+t.
//   - Functions that take user input (configs, JSONL files, examples) return
//     errors prefixed "task:" or naming the file and line; programmer errors
//     (an empty batcher, a batch size < 1) panic with a "data: " prefix.
package data
