package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/model"
)

// TestPEFTTargets: adapter_config.json's target_modules are matched as PEFT matches them (the end of a module's
// name, case-sensitively): what PEFT would adapt is applied, and a name PEFT would match nothing with is refused
// with the name to write, never silently applied.
func TestPEFTTargets(t *testing.T) {
	c := tinyBase(t).Config // 2 layers
	for _, tc := range []struct {
		names []string
		want  []model.Target
	}{
		{[]string{"q_proj", "v_proj"}, []model.Target{model.TargetQ, model.TargetV}},
		{[]string{"self_attn.q_proj", "mlp.down_proj"}, []model.Target{model.TargetQ, model.TargetDown}},
		{[]string{"down_proj", "gate_proj", "up_proj", "o_proj", "k_proj"},
			[]model.Target{model.TargetK, model.TargetO, model.TargetGate, model.TargetUp, model.TargetDown}},
	} {
		got, err := peftTargets(c, tc.names)
		require.NoError(t, err, "%v", tc.names)
		assert.Equal(t, tc.want, got, "%v", tc.names)
	}
	for _, tc := range []struct {
		names []string
		msg   string
	}{
		{[]string{"q", "v"}, `"q" matches no module of this model the way PEFT matches them`},
		{[]string{"q"}, `write "q_proj"`},
		{[]string{"Q_PROJ"}, `write "q_proj"`},
		{[]string{"attn"}, "write q_proj, k_proj"},
		{[]string{"model.layers.0.self_attn.q_proj"}, "matches q_proj in 1 of the 2 layers"},
		{[]string{"q_proj", "self_attn.q_proj"}, `target "q" listed twice`},
	} {
		_, err := peftTargets(c, tc.names)
		require.Error(t, err, "%v", tc.names)
		assert.Contains(t, err.Error(), tc.msg, "%v", tc.names)
	}
}
