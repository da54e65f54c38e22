package train

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
)

// A learning-rate sweep runs each method at each rate and picks each method's best rate by final validation
// loss among the runs that did not diverge.
func TestLRSweep(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	cfg.Steps, cfg.Warmup = 6, 0
	lrs := []float32{1e-3, 3e-2}
	cfgs := LRSweepConfigs(cfg, lrs, []string{MethodLoRA, MethodFull})
	require.Len(t, cfgs, 4)
	assert.Equal(t, []string{MethodLoRA, MethodLoRA, MethodFull, MethodFull}, []string{cfgs[0].Method, cfgs[1].Method, cfgs[2].Method, cfgs[3].Method})
	assert.Equal(t, float32(3e-2), cfgs[3].LR)
	res, err := LRSweep(base, data.NewByteTokenizer(), cfgs, nil)
	require.NoError(t, err)
	require.Len(t, res, 4)
	for i, r := range res {
		assert.Equal(t, cfgs[i].LR, r.LR, "run %d's lr", i+1)
		assert.Equal(t, cfgs[i].Method, r.Method, "run %d's method", i+1)
		assert.Empty(t, r.Diverged, "run %d", i+1)
	}
	for _, m := range []string{MethodLoRA, MethodFull} {
		best, ok := BestLR(res, m)
		require.True(t, ok, m)
		for _, r := range res {
			if r.Method == m {
				assert.LessOrEqual(t, best.ValLoss, r.ValLoss, "%s: the best has the lowest validation loss", m)
			}
		}
	}
}

// A diverged run is kept as a Result that says why and is never the best; other errors are not.
func TestLRSweepDiverged(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodFull)
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(2)
	require.NoError(t, err)
	s.Model().Params.Norm[0] = float32(math.Inf(1)) // as a rate too high would leave it
	_, stepErr := s.Step(1)
	require.Error(t, stepErr)
	d, ok := DivergedResult(s, fmt.Errorf("sweep: %w", stepErr))
	require.True(t, ok, "a wrapped StopError is a divergence")
	assert.Contains(t, d.Diverged, "stopped, keeping the weights")
	assert.Equal(t, 2, d.Steps)
	assert.Equal(t, cfg.LR, d.LR)
	assert.Equal(t, MethodFull, d.Method)
	_, ok = DivergedResult(s, errors.New("disk full"))
	assert.False(t, ok, "other errors still end a sweep")

	fine := Result{Method: MethodFull, LR: 1e-3, ValLoss: 0.5}
	best, ok := BestLR([]Result{{Method: MethodFull, LR: 1e-2, Diverged: d.Diverged}, fine, {Method: MethodLoRA, LR: 1e-2, ValLoss: 0.1}}, MethodFull)
	require.True(t, ok)
	assert.Equal(t, fine, best, "the diverged run, though its loss is 0, and the other method's are not picked")
	_, ok = BestLR([]Result{{Method: MethodFull, Diverged: "x"}}, MethodFull)
	assert.False(t, ok, "only diverged runs: no best rate")
}
