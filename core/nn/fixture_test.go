// This file holds the loader for the PyTorch fixtures in testdata/nn and the tolerance they are compared with.

package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is one case written by testdata/gen/gen_nn.py (its docstring gives the format).
type fixture struct {
	Kernel  string               `json:"kernel"`
	Case    string               `json:"case"`
	Sizes   map[string]int       `json:"sizes"`
	Scalars map[string]float64   `json:"scalars"`
	Ints    map[string][]int     `json:"ints"`
	Inputs  map[string][]float32 `json:"inputs"`
	Outputs map[string][]float32 `json:"outputs"`
	Grads   map[string][]float32 `json:"grads"`
}

// loadFixtures reads every testdata/nn/<kernel>_*.json case.
func loadFixtures(t *testing.T, kernel string) []*fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "nn", kernel+"_*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no fixtures for %s: run /usr/bin/python3 testdata/gen/gen_nn.py", kernel)
	var fs []*fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		f := new(fixture)
		require.NoError(t, json.Unmarshal(b, f), p)
		require.Equal(t, kernel, f.Kernel, p)
		fs = append(fs, f)
	}
	return fs
}

// fixtureRTol is the tolerance against PyTorch. Both sides compute in float32
// but sum in different orders (and golora sums some reductions in float64,
// with its own exp/log), so each element can differ by a few ulps of the
// terms it sums; float32's ulp is 1.2e-7 relative, so 1e-5 leaves room for
// about 80 ulps, while any error in a formula shows up at 1e-3 or above. An
// element that is a small difference of large terms (a gradient near 0) can
// only be held relative to the size of those terms, so the tolerance of each
// element is fixtureRTol * (|want| + max |want| over the tensor).
const fixtureRTol = 1e-5

// assertClose compares got with want element by element at tolerance
// rtol*(|want_i| + max_j |want_j|) and reports the worst element, by name and
// index. It returns the worst error in units of that scale (want <= rtol).
func assertClose(t *testing.T, what string, want, got []float32, rtol float64) float64 {
	t.Helper()
	if !assert.Len(t, got, len(want), what) {
		return math.Inf(1)
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst, wi := 0.0, 0
	for i, w := range want {
		e := math.Abs(float64(got[i])-float64(w)) / (math.Abs(float64(w)) + scale + 1e-30)
		if e > worst || math.IsNaN(e) {
			worst, wi = e, i
		}
	}
	if len(want) > 0 {
		w := float64(want[wi])
		assert.InDelta(t, w, float64(got[wi]), rtol*(math.Abs(w)+scale),
			fmt.Sprintf("%s[%d] (worst element, error %.3g of scale)", what, wi, worst))
	}
	return worst
}

// floats returns a zeroed buffer of n float32s.
func floats(n int) []float32 { return make([]float32, n) }
