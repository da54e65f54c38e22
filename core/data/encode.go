// This file holds encoding examples into token sequences and cutting them
// into batches: Batcher for fine-tuning examples, StreamBatcher for the
// pretraining stream.

package data

import (
	"cmp"
	"fmt"
	"slices"

	"golora/core/rng"
)

// Sequence is one encoded example: Tokens = [BOS] + Encode(prompt) +
// Encode(completion) + [End]. The model predicts Tokens[i+1] from
// Tokens[..i], and the loss counts the prediction only where Tokens[i+1] is
// part of the completion or End, that is i+1 >= PromptLen.
type Sequence struct {
	Tokens    []int
	PromptLen int // 1 + len(Encode(prompt)): BOS and the prompt
}

// EncodeExamples encodes ex with tok. An example of more than maxLen tokens
// (BOS and End included) is an error naming what (e.g. "e2e train"), its
// index and its length: examples are never cut, since a cut completion would
// teach the model to stop early (or never).
func EncodeExamples(tok Tokenizer, ex []Example, maxLen int, what string) ([]Sequence, error) {
	seqs := make([]Sequence, len(ex))
	for i, e := range ex {
		p, c := tok.Encode(e.Prompt), tok.Encode(e.Completion)
		n := 1 + len(p) + len(c) + 1
		if n > maxLen {
			return nil, fmt.Errorf("%s example %s is %d tokens, more than the context of %d (prompt %d, completion %d, plus BOS and End): %s",
				what, e.where(i), n, maxLen, len(p), len(c), describeExample(e))
		}
		t := make([]int, 0, n)
		t = append(t, tok.BOS())
		t = append(t, p...)
		t = append(t, c...)
		t = append(t, tok.End())
		seqs[i] = Sequence{Tokens: t, PromptLen: 1 + len(p)}
	}
	return seqs, nil
}

// EncodePrompt returns what generation starts from: [BOS] + Encode(prompt).
func EncodePrompt(tok Tokenizer, prompt string) []int {
	return append([]int{tok.BOS()}, tok.Encode(prompt)...)
}

// Batch is B rows of T positions, flat (B*T), row b at b*T. Targets[i] is the
// token to predict at position i, -1 where nothing is predicted (prompt and
// padding); Mask[i] is 1 where Targets[i] >= 0, else 0. Padded inputs are 0
// and, coming after every real token, never influence a real one under causal
// attention.
type Batch struct {
	B, T    int
	Inputs  []int
	Targets []int
	Mask    []float32
}

// Count is the number of predicted positions (the sum of Mask), the
// denominator of a per-token mean loss.
func (b *Batch) Count() int {
	n := 0
	for _, t := range b.Targets[:b.B*b.T] {
		if t >= 0 {
			n++
		}
	}
	return n
}

// resize makes dst B x T, reusing its slices when they are big enough.
func (b *Batch) resize(B, T int) {
	b.B, b.T = B, T
	n := B * T
	if cap(b.Inputs) < n {
		b.Inputs = make([]int, n)
		b.Targets = make([]int, n)
		b.Mask = make([]float32, n)
	}
	b.Inputs, b.Targets, b.Mask = b.Inputs[:n], b.Targets[:n], b.Mask[:n]
}

// Rows makes dst a copy of rows [r0, r1) of b, dropping the trailing
// positions where none of those rows predicts anything (their padding):
// nothing is lost, since under causal attention a position never influences
// an earlier one. A step split into parts (train.Config.Shards) computes
// each part on its own rows this way.
func (b *Batch) Rows(r0, r1 int, dst *Batch) {
	if r0 < 0 || r1 > b.B || r0 >= r1 {
		panic(fmt.Sprintf("data: Batch.Rows(%d, %d) of a batch of %d rows", r0, r1, b.B))
	}
	T := 1
	for r := r0; r < r1; r++ {
		T = max(T, b.RowLen(r))
	}
	dst.resize(r1-r0, T)
	for r := r0; r < r1; r++ {
		src, o := r*b.T, (r-r0)*T
		copy(dst.Inputs[o:o+T], b.Inputs[src:src+T])
		copy(dst.Targets[o:o+T], b.Targets[src:src+T])
		copy(dst.Mask[o:o+T], b.Mask[src:src+T])
	}
}

// RowLen is the number of positions row r needs: one past its last
// predicted position (0 for a row that predicts nothing).
func (b *Batch) RowLen(r int) int {
	for t := b.T - 1; t >= 0; t-- {
		if b.Targets[r*b.T+t] >= 0 {
			return t + 1
		}
	}
	return 0
}

// Batcher deals fine-tuning sequences in deterministic epochs: each epoch is
// a permutation (core/rng), consumed in consecutive batches. Every batch has
// exactly batchSize rows: a batch that reaches the end of an epoch continues
// with the start of the next one (so every sequence is seen once per epoch
// and batches never shrink).
type Batcher struct {
	seqs      []Sequence
	batchSize int
	r         *rng.RNG
	order     []int // the current epoch's permutation
	pos       int   // next index into order
	epoch     int
	picked    []Sequence // this batch's rows, reused
}

// NewBatcher returns a batcher over seqs. It panics on an empty seqs or a
// batchSize < 1 (programmer errors: tasks are validated before).
func NewBatcher(seqs []Sequence, batchSize int, seed uint64) *Batcher {
	if len(seqs) == 0 {
		panic("data: NewBatcher with no sequences")
	}
	if batchSize < 1 {
		panic(fmt.Sprintf("data: NewBatcher with batch size %d", batchSize))
	}
	for i, s := range seqs {
		if len(s.Tokens) < 2 || s.PromptLen < 1 || s.PromptLen >= len(s.Tokens) {
			panic(fmt.Sprintf("data: NewBatcher sequence %d has %d tokens and PromptLen %d", i, len(s.Tokens), s.PromptLen))
		}
	}
	b := &Batcher{seqs: seqs, batchSize: batchSize, r: rng.New(seed)}
	b.order = b.r.Perm(len(seqs))
	return b
}

// Epoch is the number of completed passes over the sequences.
func (b *Batcher) Epoch() int { return b.epoch }

// Next fills dst with the next batch, reusing dst's slices. T is the longest
// sequence of this batch minus one: rows are padded to the batch's longest,
// not to the model's context. The rows are sorted by length, shortest first
// (in the order drawn among equal lengths), so that a batch split into parts
// of consecutive rows wastes little on padding: each part is only as long as
// its own longest row.
func (b *Batcher) Next(dst *Batch) {
	b.picked = b.picked[:0]
	for range b.batchSize {
		if b.pos == len(b.order) {
			b.order = b.r.Perm(len(b.seqs))
			b.pos = 0
			b.epoch++
		}
		b.picked = append(b.picked, b.seqs[b.order[b.pos]])
		b.pos++
	}
	slices.SortStableFunc(b.picked, func(x, y Sequence) int { return cmp.Compare(len(x.Tokens), len(y.Tokens)) })
	layout(dst, b.picked)
}

// layout makes dst the batch of seqs in order: row r is seqs[r], T the longest
// minus one, Inputs Tokens[t], Targets Tokens[t+1] where t+1 >= PromptLen, and
// 0 / -1 / 0 on padding.
func layout(dst *Batch, seqs []Sequence) {
	T := 1
	for _, s := range seqs {
		T = max(T, len(s.Tokens)-1)
	}
	dst.resize(len(seqs), T)
	for row, s := range seqs {
		in := dst.Inputs[row*T : (row+1)*T]
		tg := dst.Targets[row*T : (row+1)*T]
		mk := dst.Mask[row*T : (row+1)*T]
		for t := range T {
			in[t], tg[t], mk[t] = 0, -1, 0
			if t+1 < len(s.Tokens) {
				in[t] = s.Tokens[t]
				if t+1 >= s.PromptLen {
					tg[t], mk[t] = s.Tokens[t+1], 1
				}
			}
		}
	}
}

// EncodeStream encodes pretraining text as one stream: [BOS] s1 [End] [BOS]
// s2 [End] ... A sentence starts after BOS, as every fine-tuning sequence
// does, and ends with End, so that a base model already knows to stop after
// a finished sentence (a base that never saw End is slow to learn it; see
// FACTS.md on stories260K). When End is BOS it is written once.
func EncodeStream(tok Tokenizer, text []string) []int {
	var out []int
	for _, s := range text {
		out = append(out, tok.BOS())
		out = append(out, tok.Encode(s)...)
		if tok.End() != tok.BOS() {
			out = append(out, tok.End())
		}
	}
	return out
}

// StreamBatcher takes random windows of a token stream for pretraining: each
// row is seqLen inputs at a uniform random offset and the same window shifted
// by one as targets, all predicted (Mask 1).
type StreamBatcher struct {
	tokens            []int
	batchSize, seqLen int
	r                 *rng.RNG
}

// NewStreamBatcher returns a batcher over tokens. It panics if the stream is
// shorter than seqLen+1 or a size is < 1.
func NewStreamBatcher(tokens []int, batchSize, seqLen int, seed uint64) *StreamBatcher {
	if batchSize < 1 || seqLen < 1 {
		panic(fmt.Sprintf("data: NewStreamBatcher with batch size %d, sequence length %d", batchSize, seqLen))
	}
	if len(tokens) < seqLen+1 {
		panic(fmt.Sprintf("data: NewStreamBatcher with %d tokens, fewer than sequence length %d + 1", len(tokens), seqLen))
	}
	return &StreamBatcher{tokens: tokens, batchSize: batchSize, seqLen: seqLen, r: rng.New(seed)}
}

// Next fills dst with batchSize random windows of seqLen tokens (T = seqLen).
func (s *StreamBatcher) Next(dst *Batch) {
	T := s.seqLen
	dst.resize(s.batchSize, T)
	for row := range s.batchSize {
		o := s.r.Intn(len(s.tokens) - T)
		copy(dst.Inputs[row*T:(row+1)*T], s.tokens[o:o+T])
		copy(dst.Targets[row*T:(row+1)*T], s.tokens[o+1:o+T+1])
		mk := dst.Mask[row*T : (row+1)*T]
		for t := range mk {
			mk[t] = 1
		}
	}
}
