// adapter-h: Houlsby et al. (2019)'s adapters, a bottleneck (down, nonlinearity,
// up, residual) after the attention and after the MLP of every block, at the
// sublayer outputs before each residual add (model.SubAttention, SubMLP):
//
//	x + f(o(attn)),  x + f(down(mlp)),  f(h) = h + up(silu(down(h)))
//
// up starts at zero, so training starts at the base. As Houlsby et al. do,
// the blocks' layer norms train too (here the RMSNorm gains, Llama's norms
// having no bias), unless FrozenNorms. The nonlinearity is swish (SiLU),
// AdapterHub's for its Houlsby configuration. An adapter cannot be merged: it
// adds two small products per sublayer at inference, the latency the LoRA
// paper measures.

package peft

import (
	"fmt"
	"strings"

	"golora/core/model"
	"golora/core/rng"
)

// ---------------------------------------------------------------- config

// AdapterHConfig is Houlsby adapters' size knob and whether the norms train.
type AdapterHConfig struct {
	Width       int  // the bottleneck width r (1..C)
	FrozenNorms bool // keep the blocks' RMSNorm gains frozen (Houlsby et al. train them)
}

// ---------------------------------------------------------------- layer
// The bottleneck layer is bottleneck.go's, with the SiLU nonlinearity and no norm of its own.

// ---------------------------------------------------------------- attach

// AdapterH is every Houlsby adapter of a model: two per block.
type AdapterH struct {
	bottlenecks
	Width int
	norms bool
}

// AddAdapterH attaches Houlsby adapters to m, down drawn from r (zero with a nil r). Errors: a width outside 1..C.
func AddAdapterH(m *model.Model, cfg AdapterHConfig, r *rng.RNG) (*AdapterH, error) {
	if cfg.Width < 1 || cfg.Width > m.Config.Dim {
		return nil, fmt.Errorf("adapter-h: width must be between 1 and %d (the model's width), got %d", m.Config.Dim, cfg.Width)
	}
	a := &AdapterH{Width: cfg.Width, norms: !cfg.FrozenNorms}
	a.build(m, cfg.Width, []int{model.SubAttention, model.SubMLP}, ActSiLU, false, r)
	if err := m.Attach(a); err != nil {
		return nil, err
	}
	return a, nil
}

// Name is "adapter-h".
func (*AdapterH) Name() string { return "adapter-h" }

// TrainsBase is true for the blocks' RMSNorm gains (input_layernorm,
// post_attention_layernorm) unless the norms are frozen.
func (a *AdapterH) TrainsBase(name string) bool {
	return a.norms && strings.HasSuffix(name, "layernorm.weight")
}

// AdapterHParams is the formula adapter-h's trainable count follows on c:
// 2 adapters per block of 2·C·r + r + C (down and up with their biases),
// plus the blocks' 2·L RMSNorm gains of C unless frozen (the LoRA paper's
// |Θ| = L̂_Adpt·(2·d·r + r + d) + L̂_LN·d, with norms that have no bias).
func AdapterHParams(c model.Config, width int, frozenNorms bool) int {
	n := 2 * c.NLayers * (2*c.Dim*width + width + c.Dim)
	if !frozenNorms {
		n += 2 * c.NLayers * c.Dim
	}
	return n
}
