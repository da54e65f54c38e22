package model

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
)

// allocated returns the bytes f allocates.
func allocated(f func()) int64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return int64(b.TotalAlloc - a.TotalAlloc)
}

// TestBuffersBytes: ActsBytes and DecoderBytes are what NewActs and NewDecoder allocate, within 2% (the allocator
// rounds small slices up to its size classes, and the structs and headers add a few KiB).
func TestBuffersBytes(t *testing.T) {
	cfg := Config{Dim: 32, HiddenDim: 80, NLayers: 3, NHeads: 4, NKVHeads: 2, VocabSize: 3000, SeqLen: 64, Tied: true,
		NormEps: 1e-5, RopeBase: 10000}
	m, err := New("m", cfg)
	require.NoError(t, err)
	m.Init(rng.New(1))
	var keep []any
	for _, bt := range [][2]int{{4, 20}, {16, 64}} {
		want := m.ActsBytes(bt[0], bt[1])
		got := allocated(func() { keep = append(keep, m.NewActs(bt[0], bt[1])) })
		assert.InDelta(t, float64(want), float64(got), max(16<<10, 0.02*float64(want)), "NewActs(%d, %d): %d bytes allocated, ActsBytes %d", bt[0], bt[1], got, want)
	}
	for _, b := range []int{1, 8} {
		want := m.DecoderBytes(b)
		got := allocated(func() { keep = append(keep, m.NewDecoder(b)) })
		assert.InDelta(t, float64(want), float64(got), max(16<<10, 0.02*float64(want)), "NewDecoder(%d): %d bytes allocated, DecoderBytes %d", b, got, want)
	}
	runtime.KeepAlive(keep)
}
