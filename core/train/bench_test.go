package train

import (
	"testing"

	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/model"
	"golora/core/rng"
)

// BenchmarkStep times one optimizer step on an e2e batch of 16 for LoRA
// (r=8 on q,v, the benchmark shape) and for full fine-tuning, on a
// random model of the shipped base's shape (step times depend on shapes,
// not on weight values). `golora bench -only train` reports the same pair
// on the shipped base.
func BenchmarkStep(b *testing.B) {
	base, err := model.New("bench", model.DefaultConfig())
	require.NoError(b, err)
	base.Init(rng.New(1))
	for _, method := range []string{MethodLoRA, MethodFull} {
		b.Run(method, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Method, cfg.LR = method, DefaultLR(method)
			cfg.Rank, cfg.Alpha, cfg.Batch, cfg.Steps = 8, 16, 16, 1_000_000
			s, err := New(base, data.NewByteTokenizer(), cfg)
			require.NoError(b, err)
			batch := s.NextBatch()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.StepBatch(&batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch.B*batch.T)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
