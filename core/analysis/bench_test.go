package analysis

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"golora/core/model"
	"golora/core/peft"
	"golora/core/rng"
)

// BenchmarkFactorize times one thin SVD at the shipped base's weight shapes
// (out x in): q and o 96 x 96, k and v 48 x 96, gate and up 256 x 96, down 96 x 256.
func BenchmarkFactorize(b *testing.B) {
	for _, sh := range [][2]int{{96, 96}, {48, 96}, {256, 96}, {96, 256}} {
		m := gaussian(sh[0], sh[1], rng.New(1))
		b.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(b *testing.B) {
			for b.Loop() {
				if _, err := Factorize(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchInputs is the shipped base's shapes with random weights: adapters of
// rank r on targets, a second adapter of rank r2, and a fully fine-tuned
// copy (every weight moved by 1% noise).
func benchInputs(b *testing.B, r, r2 int, targets []model.Target) Inputs {
	base, err := model.New("bench", model.DefaultConfig())
	require.NoError(b, err)
	base.Init(rng.New(1))
	adapt := func(rank int, seed uint64) *model.Model {
		m := base.Clone()
		lr, err := peft.AddLoRA(m, peft.LoRAConfig{Rank: rank, Alpha: 16, Targets: targets}, rng.New(seed))
		require.NoError(b, err)
		g := rng.New(seed + 1)
		for i := range lr.Params() {
			lr.Params()[i] += 0.01 * g.Normal()
		}
		return m
	}
	full := base.Clone()
	g := rng.New(3)
	for i, v := range full.Params.Data {
		full.Params.Data[i] = v + 0.01*v*g.Normal()
	}
	return Inputs{Base: base, LoRA: adapt(r, 1), Compare: adapt(r2, 2), Full: full}
}

// BenchmarkAnalyze times `golora analyze` on the whole model: LoRA r=8
// against r=48 on q,v (8 modules) and r=8 against r=16 on all seven targets
// (28 modules), each with a fully fine-tuned model, and the same without it.
func BenchmarkAnalyze(b *testing.B) {
	qv := []model.Target{model.TargetQ, model.TargetV}
	for _, c := range []struct {
		name    string
		r, r2   int
		targets []model.Target
		full    bool
	}{
		{"q,v/r=8-vs-48", 8, 48, qv, false},
		{"q,v/r=8-vs-48+full", 8, 48, qv, true},
		{"all/r=8-vs-16", 8, 16, model.AllTargets(), false},
		{"all/r=8-vs-16+full", 8, 16, model.AllTargets(), true},
	} {
		in := benchInputs(b, c.r, c.r2, c.targets)
		if !c.full {
			in.Full = nil
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Analyze(in, DefaultOptions()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAnalyzeVsStep puts the whole analysis beside a baseline timed in
// the same loop, one after the other: the forward and backward pass of LoRA
// r=8 on q,v over the default batch (16 sequences of 115 tokens), the bulk
// of a training step. steps/analysis is the ratio of the two times, which
// survives a shared machine better than either time alone.
func BenchmarkAnalyzeVsStep(b *testing.B) {
	const B, T = 16, 115
	qv := []model.Target{model.TargetQ, model.TargetV}
	for _, c := range []struct {
		name    string
		r2      int
		targets []model.Target
	}{
		{"q,v/r=8-vs-48+full", 48, qv},
		{"all/r=8-vs-16+full", 16, model.AllTargets()},
	} {
		in := benchInputs(b, 8, c.r2, c.targets)
		step := in.Base.Clone()
		_, err := peft.AddLoRA(step, peft.LoRAConfig{Rank: 8, Alpha: 16, Targets: qv}, rng.New(1))
		require.NoError(b, err)
		acts := step.NewActs(B, T)
		g := rng.New(2)
		inputs, targets, mask := make([]int, B*T), make([]int, B*T), make([]float32, B*T)
		for i := range inputs {
			inputs[i], targets[i], mask[i] = g.Intn(step.Config.VocabSize), g.Intn(step.Config.VocabSize), 1
		}
		b.Run(c.name, func(b *testing.B) {
			var analysis, pass time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := Analyze(in, DefaultOptions()); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				step.Forward(acts, inputs, targets, mask, B, T)
				step.Backward(acts, nil)
				analysis, pass = analysis+t1.Sub(t0), pass+time.Since(t1)
			}
			b.ReportMetric(float64(analysis.Milliseconds())/float64(b.N), "ms/analysis")
			b.ReportMetric(float64(pass.Microseconds())/1e3/float64(b.N), "ms/step")
			b.ReportMetric(float64(analysis)/float64(pass), "steps/analysis")
		})
	}
}
