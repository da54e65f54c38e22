// Top: fine-tune only the last k blocks, the final norm and (when untied) the
// classifier: the paper's FT-Top2 baseline, and "fine-tune the last layer".
// Nothing is added; below the lowest trained block no gradient is computed at
// all (model.Backward stops there), which is where its speed comes from.

package peft

import (
	"fmt"
	"strings"

	"golora/core/model"
)

// ---------------------------------------------------------------- config

// TopConfig is how many of the last blocks train.
type TopConfig struct {
	Layers int // k, 1..NLayers
}

// ---------------------------------------------------------------- attach

// Top trains the last K blocks, the final RMSNorm and an untied classifier.
type Top struct {
	K      int
	first  int    // the lowest trained block, NLayers-K
	prefix string // "model.layers." (the blocks' tensor names start with it)
	count  int
}

// AddTop attaches Top to m. Errors: k outside 1..NLayers.
func AddTop(m *model.Model, cfg TopConfig) (*Top, error) {
	L := m.Config.NLayers
	if cfg.Layers < 1 || cfg.Layers > L {
		return nil, fmt.Errorf("top: layers must be between 1 and %d (the base's blocks), got %d", L, cfg.Layers)
	}
	t := &Top{K: cfg.Layers, first: L - cfg.Layers, prefix: "model.layers."}
	if err := m.Attach(t); err != nil {
		return nil, err
	}
	return t, nil
}

// Name is "top".
func (*Top) Name() string { return "top" }

// Params is empty: Top trains base weights only.
func (*Top) Params() []float32 { return nil }

// Grads is empty too.
func (*Top) Grads() []float32 { return nil }

// TrainsBase is true for the last K blocks' tensors, model.norm.weight and lm_head.weight.
func (t *Top) TrainsBase(name string) bool {
	if name == "model.norm.weight" || name == "lm_head.weight" {
		return true
	}
	rest, ok := strings.CutPrefix(name, t.prefix)
	if !ok {
		return false
	}
	var l int
	if _, err := fmt.Sscanf(rest, "%d.", &l); err != nil {
		return false
	}
	return l >= t.first
}

// NewPass has no hooks: the trained blocks run plainly.
func (*Top) NewPass(int) *model.Pass { return &model.Pass{} }

// TopParams is the formula Top's trainable count follows on c: k blocks of
// 2C (norms) + 2C² (q, o) + 2·C·KVD (k, v) + 3·C·H (gate, up, down), the
// final norm's C, and V·C for an untied classifier.
func TopParams(c model.Config, k int) int {
	C, KVD, H := c.Dim, c.KVDim(), c.HiddenDim
	n := k*(2*C+2*C*C+2*C*KVD+3*C*H) + C
	if !c.Tied {
		n += c.VocabSize * C
	}
	return n
}
