// Tests of the llama2.c conversion: our model -> Llama2C -> checkpoint bytes ->
// ReadLlama2C -> FromLlama2C gives the same weights and logits, bit for bit.

package model

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
)

// roundTripLlama2C writes m as a llama2.c checkpoint and reads it back.
func roundTripLlama2C(t *testing.T, m *Model) (*Model, []byte) {
	t.Helper()
	lc, tensors, ok := m.Llama2C()
	require.True(t, ok, "Llama2C: eps 1e-5 and RoPE base 10000 are exportable")
	var buf bytes.Buffer
	require.NoError(t, checkpoint.WriteLlama2C(&buf, lc, tensors))
	raw := buf.Bytes()
	assert.Equal(t, lc.FileSize(), int64(len(raw)), "WriteLlama2C wrote FileSize() bytes")
	lc2, tensors2, err := checkpoint.ReadLlama2C(bytes.NewReader(raw), "roundtrip.bin", int64(len(raw)))
	require.NoError(t, err)
	assert.Equal(t, lc, lc2, "llama2.c header after the round trip")
	back, err := FromLlama2C("roundtrip.bin", lc2, tensors2)
	require.NoError(t, err)
	return back, raw
}

func TestLlama2CRoundTripExact(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tied GQA", Config{Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 11, SeqLen: 8, Tied: true, NormEps: 1e-5, RopeBase: 10000}},
		{"untied MHA", Config{Dim: 12, HiddenDim: 20, NLayers: 3, NHeads: 2, NKVHeads: 2, VocabSize: 13, SeqLen: 9, Tied: false, NormEps: 1e-5, RopeBase: 10000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := randomModel(t, tc.cfg, 7)
			back, raw := roundTripLlama2C(t, m)
			assert.Equal(t, m.Config, back.Config, "config after the round trip")
			require.Equal(t, len(m.Params.Data), len(back.Params.Data), "parameter count")
			for i, v := range m.Params.Data {
				require.Equal(t, math.Float32bits(v), math.Float32bits(back.Params.Data[i]), "weight %d after the round trip", i)
			}
			if !tc.cfg.Tied {
				assert.NotSame(t, &back.Params.LMHead[0], &back.Params.Embed[0], "an untied classifier stays separate")
			}

			bt := randomBatch(tc.cfg, 2, tc.cfg.SeqLen, 3)
			a1, a2 := m.NewActs(bt.b, bt.t), back.NewActs(bt.b, bt.t)
			l1 := m.Forward(a1, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			l2 := back.Forward(a2, bt.inputs, bt.targets, bt.mask, bt.b, bt.t)
			assert.Equal(t, math.Float32bits(l1), math.Float32bits(l2), "loss after the round trip")
			for i := range bt.b * bt.t * tc.cfg.VocabSize {
				require.Equal(t, math.Float32bits(a1.Logits[i]), math.Float32bits(a2.Logits[i]), "logit %d after the round trip", i)
			}

			// Writing the read-back model gives the same bytes: nothing drifts.
			_, raw2 := roundTripLlama2C(t, back)
			assert.True(t, bytes.Equal(raw, raw2), "a second round trip writes identical bytes")
		})
	}
}

// TestLlama2CNotExportable: llama2.c's runner fixes eps and the RoPE base, so
// a model with other values is reported as not faithfully exportable.
func TestLlama2CNotExportable(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"norm eps", func(c *Config) { c.NormEps = 1e-6 }},
		{"rope base", func(c *Config) { c.RopeBase = 500000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			tc.edit(&cfg)
			m, err := New("odd", cfg)
			require.NoError(t, err)
			_, _, ok := m.Llama2C()
			assert.False(t, ok, "Llama2C ok for %s", tc.name)
		})
	}
}

// TestFromLlama2CRejects: a checkpoint's tensors that do not fit its header are
// an error, never a half-built model.
func TestFromLlama2CRejects(t *testing.T) {
	m := randomModel(t, tinyConfig(), 1)
	lc, tensors, _ := m.Llama2C()
	cases := []struct {
		name    string
		edit    func([]checkpoint.Tensor) []checkpoint.Tensor
		wantErr string
	}{
		{"missing tensor", func(ts []checkpoint.Tensor) []checkpoint.Tensor { return ts[:len(ts)-1] }, "missing"},
		{"wrong shape", func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			ts[1] = checkpoint.Tensor{Name: ts[1].Name, Shape: []int{len(ts[1].Data) - 1}, Data: ts[1].Data[1:]}
			return ts
		}, "shape"},
		{"unknown tensor", func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			return append(ts, checkpoint.Tensor{Name: "lm_head.weight", Shape: []int{11, 16}, Data: make([]float32, 11*16)})
		}, "unexpected tensor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.edit(append([]checkpoint.Tensor(nil), tensors...))
			got, err := FromLlama2C("bad.bin", lc, ts)
			assert.ErrorContains(t, err, tc.wantErr, "FromLlama2C with a %s", tc.name)
			assert.Nil(t, got, "no model on error")
		})
	}
}
