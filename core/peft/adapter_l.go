// adapter-l: Lin et al. (2020)'s adapter, one per block after the MLP, with
// a norm of its own before the bottleneck (the LoRA paper's AdapterL):
//
//	x + f(down(mlp)),  f(h) = h + up(relu(down(RMSNorm(h)·g)))
//
// It sits at the MLP's sublayer output before the residual add
// (model.SubMLP), as the LoRA paper describes it ("after the MLP module and
// after a LayerNorm"; Lin et al. put it on the block's output, after the
// add). The norm is an RMSNorm, Llama's, with its own gain g starting at 1;
// up starts at zero, so training starts at the base. Lin et al.'s
// nonlinearity, ReLU. The base weights stay frozen; it cannot be merged.

package peft

import (
	"fmt"

	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// AdapterLConfig is Lin adapters' size knob.
type AdapterLConfig struct {
	Width int // the bottleneck width r (1..C)
}

// ---------------------------------------------------------------- layer
// The bottleneck layer is bottleneck.go's, with the ReLU nonlinearity and its own RMSNorm.

// ---------------------------------------------------------------- attach

// AdapterL is every Lin adapter of a model: one per block.
type AdapterL struct {
	bottlenecks
	Width int
}

// AddAdapterL attaches Lin adapters to m, down drawn from r (zero with a nil r). Errors: a width outside 1..C.
func AddAdapterL(m *model.Model, cfg AdapterLConfig, r *rng.RNG) (*AdapterL, error) {
	if cfg.Width < 1 || cfg.Width > m.Config.Dim {
		return nil, fmt.Errorf("adapter-l: width must be between 1 and %d (the model's width), got %d", m.Config.Dim, cfg.Width)
	}
	a := &AdapterL{Width: cfg.Width}
	a.build(m, cfg.Width, []int{model.SubMLP}, ActReLU, true, r)
	if err := m.Attach(a); err != nil {
		return nil, err
	}
	return a, nil
}

// Name is "adapter-l".
func (*AdapterL) Name() string { return "adapter-l" }

// TrainsBase is false: every base weight stays frozen.
func (*AdapterL) TrainsBase(string) bool { return false }

// AdapterLParams is the formula adapter-l's trainable count follows on c:
// one adapter per block of 2·C·r + r + C (down and up with their biases)
// plus its norm's gain C.
func AdapterLParams(c model.Config, width int) int {
	return c.NLayers * (2*c.Dim*width + width + 2*c.Dim)
}
