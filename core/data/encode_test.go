package data

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeExamples(t *testing.T) {
	tok := NewByteTokenizer()
	seqs, err := EncodeExamples(tok, []Example{{Prompt: "ab", Completion: "c"}, {Prompt: "é", Completion: "xy"}}, 6, "test")
	require.NoError(t, err)
	b := func(c byte) int { return int(c) + 2 }
	assert.Equal(t, []Sequence{
		{Tokens: []int{0, b('a'), b('b'), b('c'), 1}, PromptLen: 3},
		{Tokens: []int{0, 0xc3 + 2, 0xa9 + 2, b('x'), b('y'), 1}, PromptLen: 3},
	}, seqs)
	assert.Equal(t, []int{0, b('a')}, EncodePrompt(tok, "a"))
}

func TestEncodeExamplesTooLong(t *testing.T) {
	ex := []Example{{Prompt: "ab", Completion: "c"}, {Prompt: "abc", Completion: "defg"}}
	_, err := EncodeExamples(NewByteTokenizer(), ex, 8, "e2e train")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "e2e train example 1 is 9 tokens, more than the context of 8")
	_, err = EncodeExamples(NewByteTokenizer(), ex, 9, "e2e train")
	assert.NoError(t, err, "exactly maxLen fits")
}

// Every default task fits the 128-token context of golora's own models.
func TestTasksFitContext(t *testing.T) {
	for _, name := range TaskNames() {
		task := defaultTask(t, name, 1)
		for split, ex := range map[string][]Example{"train": task.Train, "val": task.Val, "test": task.Test} {
			_, err := EncodeExamples(NewByteTokenizer(), ex, 128, name+" "+split)
			assert.NoError(t, err)
		}
	}
}

// seqOf builds a sequence of n tokens whose values encode (sequence id, position),
// with the given prompt length.
func seqOf(id, n, promptLen int) Sequence {
	s := Sequence{Tokens: make([]int, n), PromptLen: promptLen}
	for i := range s.Tokens {
		s.Tokens[i] = 1000*(id+1) + i
	}
	return s
}

func TestBatcherLayout(t *testing.T) {
	seqs := []Sequence{seqOf(0, 5, 2), seqOf(1, 3, 1), seqOf(2, 8, 4), seqOf(3, 2, 1)}
	bt := NewBatcher(seqs, 2, 9)
	var batch Batch
	seen := map[int]int{}
	for step := range 4 { // two epochs of two batches
		bt.Next(&batch)
		require.Equal(t, 2, batch.B, "step %d B", step)
		longest := 0
		for row := range batch.B {
			id := batch.Inputs[row*batch.T]/1000 - 1
			require.True(t, id >= 0 && id < len(seqs), "step %d row %d starts with %d", step, row, batch.Inputs[row*batch.T])
			seen[id]++
			s := seqs[id]
			longest = max(longest, len(s.Tokens))
			count := 0
			for tt := range batch.T {
				i := row*batch.T + tt
				switch {
				case tt+1 >= len(s.Tokens): // padding
					assert.Equal(t, 0, batch.Inputs[i], "step %d row %d t %d: padded input", step, row, tt)
					assert.Equal(t, -1, batch.Targets[i], "step %d row %d t %d: padded target", step, row, tt)
					assert.Zero(t, batch.Mask[i], "step %d row %d t %d: padded mask", step, row, tt)
				case tt+1 < s.PromptLen: // predicting a prompt token
					assert.Equal(t, s.Tokens[tt], batch.Inputs[i], "step %d row %d t %d: input", step, row, tt)
					assert.Equal(t, -1, batch.Targets[i], "step %d row %d t %d: prompt target", step, row, tt)
					assert.Zero(t, batch.Mask[i], "step %d row %d t %d: prompt mask", step, row, tt)
				default: // predicting completion or End: targets shifted by one
					assert.Equal(t, s.Tokens[tt], batch.Inputs[i], "step %d row %d t %d: input", step, row, tt)
					assert.Equal(t, s.Tokens[tt+1], batch.Targets[i], "step %d row %d t %d: target", step, row, tt)
					assert.InDelta(t, 1, batch.Mask[i], 0, "step %d row %d t %d: mask", step, row, tt)
					count++
				}
			}
			assert.Equal(t, len(s.Tokens)-s.PromptLen, count, "step %d row %d: completion+End positions", step, row)
		}
		assert.Equal(t, longest-1, batch.T, "step %d: T is the batch's longest minus one", step)
		assert.Len(t, batch.Inputs, batch.B*batch.T)
		if step == 1 {
			assert.Equal(t, map[int]int{0: 1, 1: 1, 2: 1, 3: 1}, seen, "one epoch sees each sequence once")
			assert.Equal(t, 0, bt.Epoch())
		}
	}
	assert.Equal(t, map[int]int{0: 2, 1: 2, 2: 2, 3: 2}, seen, "two epochs")
	assert.Equal(t, 1, bt.Epoch())
}

func TestBatcherDeterministicAndReusing(t *testing.T) {
	var seqs []Sequence
	for i := range 10 {
		seqs = append(seqs, seqOf(i, 3+i%4, 1+i%2))
	}
	run := func(seed uint64) [][]int {
		bt := NewBatcher(seqs, 3, seed) // 3 does not divide 10: batches straddle epochs
		var batch Batch
		var out [][]int
		for range 10 {
			bt.Next(&batch)
			require.Equal(t, 3, batch.B)
			out = append(out, append([]int(nil), batch.Inputs...))
		}
		return out
	}
	assert.Equal(t, run(5), run(5), "same seed, same batches")
	assert.NotEqual(t, run(5), run(6), "another seed, another order")

	bt := NewBatcher(seqs, 4, 1)
	batch := Batch{Inputs: make([]int, 100), Targets: make([]int, 100), Mask: make([]float32, 100)}
	p := &batch.Inputs[:1][0]
	bt.Next(&batch)
	assert.Same(t, p, &batch.Inputs[:1][0], "Next reuses dst's slices")
	assert.Equal(t, batch.Count(), sumMask(batch.Mask), "Count is the sum of Mask")

	assert.Panics(t, func() { NewBatcher(nil, 2, 1) })
	assert.Panics(t, func() { NewBatcher(seqs, 0, 1) })
	assert.Panics(t, func() { NewBatcher([]Sequence{{Tokens: []int{0, 1}, PromptLen: 2}}, 1, 1) }, "nothing to predict")
}

func sumMask(m []float32) int {
	n := 0
	for _, v := range m {
		n += int(v)
	}
	return n
}

func TestEncodeStream(t *testing.T) {
	tok := NewByteTokenizer()
	assert.Equal(t, []int{0, 'a' + 2, 1, 0, 'b' + 2, 'c' + 2, 1}, EncodeStream(tok, []string{"a", "bc"}))
}

func TestStreamBatcherWindows(t *testing.T) {
	stream := make([]int, 50)
	for i := range stream {
		stream[i] = 100 + i // the value tells the position
	}
	const B, T = 4, 7
	sb := NewStreamBatcher(stream, B, T, 3)
	var batch Batch
	starts := map[int]bool{}
	for step := range 200 {
		sb.Next(&batch)
		require.Equal(t, B, batch.B)
		require.Equal(t, T, batch.T)
		for row := range B {
			o := batch.Inputs[row*T] - 100
			starts[o] = true
			require.True(t, o >= 0 && o+T+1 <= len(stream), "step %d row %d window at %d", step, row, o)
			for tt := range T {
				i := row*T + tt
				assert.Equal(t, stream[o+tt], batch.Inputs[i], "step %d row %d t %d input", step, row, tt)
				assert.Equal(t, stream[o+tt+1], batch.Targets[i], "step %d row %d t %d target", step, row, tt)
				assert.InDelta(t, 1, batch.Mask[i], 0, "step %d row %d t %d mask", step, row, tt)
			}
		}
	}
	assert.True(t, starts[0], "the first window is reachable")
	assert.True(t, starts[len(stream)-T-1], "the last window is reachable")
	assert.Len(t, starts, len(stream)-T, "every offset drawn over 800 windows")

	a, b := NewStreamBatcher(stream, B, T, 3), NewStreamBatcher(stream, B, T, 3)
	var x, y Batch
	a.Next(&x)
	b.Next(&y)
	assert.Equal(t, x, y, "deterministic")
	assert.Panics(t, func() { NewStreamBatcher(stream[:T], B, T, 1) })
	assert.Panics(t, func() { NewStreamBatcher(stream, 0, T, 1) })
}

// FillBatch (evaluation batches, in order) lays rows out as Batcher.Next does.
func TestFillBatchMatchesBatcherLayout(t *testing.T) {
	seqs := []Sequence{seqOf(0, 5, 2), seqOf(1, 3, 1), seqOf(2, 8, 4)}
	var got, want Batch
	FillBatch(&got, seqs)
	layout(&want, seqs)
	assert.Equal(t, want, got)
	assert.Equal(t, 3, got.B)
	assert.Equal(t, 7, got.T)
}

// TestBatchRows: a part of a batch is its rows, laid out as if batched alone.
func TestBatchRows(t *testing.T) {
	seqs := []Sequence{seqOf(0, 5, 2), seqOf(1, 3, 1), seqOf(2, 8, 4), seqOf(3, 2, 1)}
	var whole, part, alone Batch
	FillBatch(&whole, seqs)
	require.Equal(t, 7, whole.T)
	for _, r := range [][2]int{{0, 2}, {2, 4}, {1, 2}, {0, 4}, {3, 4}} {
		whole.Rows(r[0], r[1], &part)
		FillBatch(&alone, seqs[r[0]:r[1]])
		assert.Equal(t, alone.B, part.B, "rows %v", r)
		assert.Equal(t, alone.T, part.T, "rows %v: T trimmed to the rows' longest", r)
		assert.Equal(t, alone.Inputs, part.Inputs, "rows %v", r)
		assert.Equal(t, alone.Targets, part.Targets, "rows %v", r)
		assert.Equal(t, alone.Mask, part.Mask, "rows %v", r)
	}
	assert.Panics(t, func() { whole.Rows(2, 2, &part) })
	assert.Panics(t, func() { whole.Rows(0, 5, &part) })
}

// TestBatcherSortsRows: a batch's rows come shortest first, rows of equal
// length in the order they were drawn, and RowLen is each row's length.
func TestBatcherSortsRows(t *testing.T) {
	seqs := []Sequence{seqOf(0, 5, 2), seqOf(1, 3, 1), seqOf(2, 8, 4), seqOf(3, 3, 2), seqOf(4, 2, 1)}
	bt := NewBatcher(seqs, len(seqs), 9)
	drawn := append([]int(nil), bt.order...) // the epoch's permutation: the order rows are drawn in
	var b, want Batch
	bt.Next(&b)
	var ordered []Sequence
	for _, n := range []int{2, 3, 5, 8} { // by length; equal lengths (3) as drawn
		for _, i := range drawn {
			if len(seqs[i].Tokens) == n {
				ordered = append(ordered, seqs[i])
			}
		}
	}
	FillBatch(&want, ordered)
	assert.Equal(t, want, b)
	for r, s := range ordered {
		assert.Equal(t, len(s.Tokens)-1, b.RowLen(r), "row %d: one past its last target", r)
	}
}
