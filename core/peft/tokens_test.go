// The token rows' own checks beyond methods_test.go's table: beside LoRA in one run, the ids refused, merging
// into a tied or untied classifier, and the rows' gradients landing only on the rows read or scored.
package peft

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/model"
	"golora/core/rng"
	"golora/internal/ref"
)

// tokenIDs are the rows methods_test.go's case trains (the fixtures' too: gen_tokens.py), out of order.
var tokenIDs = []int{9, 4, 6, 10}

// tokensRef: the reference reads a trained token's embedding row (and its classifier row: the same one when tied,
// the second half of the parameters when untied) from p64.
func tokensRef(r *ref.Model, meth Method, p64 []float64, _ *model.Acts) {
	tk := meth.(*Tokens)
	C, KC := tk.dim, tk.K*tk.dim
	embed, head := r.W["model.embed_tokens.weight"], r.W["lm_head.weight"]
	r.EmbedRow = func(tok int) []float64 {
		if k := tk.slot[tok]; k >= 0 {
			return p64[k*C : (k+1)*C]
		}
		return embed[tok*C : (tok+1)*C]
	}
	if tk.Tied {
		r.HeadRow = r.EmbedRow
		return
	}
	r.HeadRow = func(v int) []float64 {
		if k := tk.slot[v]; k >= 0 && tk.Output {
			return p64[KC+k*C : KC+(k+1)*C]
		}
		return head[v*C : (v+1)*C]
	}
}

// TestTokensBesideLoRA: LoRA on q, v, down and the token rows in one run: each acts at its own places, the run's
// trainable vector joins their parameters (LoRA's, then the rows), and every gradient matches central differences
// of the float64 reference with both methods at their places, for a tied and an untied classifier.
func TestTokensBesideLoRA(t *testing.T) {
	for _, untied := range []bool{false, true} {
		cfg := tinyConfig()
		cfg.Tied = !untied
		m := randomModel(t, cfg, 1)
		lr, err := AddLoRA(m, LoRAConfig{Rank: 2, Alpha: 4, Targets: qvDown}, rng.New(3))
		require.NoError(t, err)
		tk, err := AddTokens(m, TokensConfig{IDs: tokenIDs, Output: true})
		require.NoError(t, err)
		perturb(lr, 5)
		perturb(tk, 6)
		tr := m.Trainable()
		require.Equal(t, 0, tr.BaseLen, "no base tensor trains")
		require.Equal(t, len(lr.Params())+TokensParams(cfg, len(tokenIDs), true), tr.Len)
		require.Len(t, tr.Params, 2)
		assert.Equal(t, &lr.Params()[0], &tr.Params[0][0], "LoRA's parameters first")
		assert.Equal(t, &tk.Params()[0], &tr.Params[1][0], "then the rows")

		bt := randomBatch(cfg, 2, 6, 2)
		acts := m.NewActs(2, 6)
		grad := make([]float32, tr.Len)
		base, methGrads := tr.BindGrads(cfg, grad)
		require.Nil(t, base)
		acts.MethodGrads = methGrads
		loss32 := bt.forward(m, acts)
		m.Backward(acts, base)
		r := newRef(m)
		p64l, p64t := to64(lr.Params()), to64(tk.Params())
		loraRef(r, lr, acts, p64l)
		tokensRef(r, tk, p64t, acts)
		loss := refLoss(t, r, bt, loss32)
		nl := len(lr.Params())
		for _, ts := range lr.Tensors()[:4] {
			ref.GradCheck(t, ts.Name, view64(ts, p64l), ts.View(methGrads[:nl]), loss, 24)
		}
		for _, ts := range tk.Tensors() {
			ref.GradCheck(t, ts.Name, view64(ts, p64t), ts.View(methGrads[nl:]), loss, 24)
		}
	}
}

// TestTokensRefused: the ids are checked (none, outside the vocabulary, twice), and the token rows take their
// place alone: not twice, and not beside a method that trains the embedding or an untied classifier whole.
func TestTokensRefused(t *testing.T) {
	cfg := tinyConfig()
	for _, tc := range []struct {
		ids  []int
		want string
	}{
		{nil, "at least one"},
		{[]int{3, cfg.VocabSize}, "outside the vocabulary"},
		{[]int{-1}, "outside the vocabulary"},
		{[]int{3, 5, 3}, "given twice"},
	} {
		m := randomModel(t, cfg, 1)
		_, err := AddTokens(m, TokensConfig{IDs: tc.ids})
		require.ErrorContains(t, err, tc.want, "ids %v", tc.ids)
		assert.Empty(t, m.Methods(), "nothing attached")
	}
	m := randomModel(t, cfg, 1)
	_, err := AddTokens(m, TokensConfig{IDs: []int{1}})
	require.NoError(t, err)
	_, err = AddTokens(m, TokensConfig{IDs: []int{2}})
	require.ErrorContains(t, err, "both act on the token rows")

	m = randomModel(t, cfg, 1)
	require.NoError(t, m.Attach(Full{}))
	_, err = AddTokens(m, TokensConfig{IDs: []int{1}})
	require.ErrorContains(t, err, "trains model.embed_tokens.weight")

	untied := cfg
	untied.Tied = false
	m = randomModel(t, untied, 1)
	_, err = AddTop(m, TopConfig{Layers: 1}) // trains lm_head, the untied classifier
	require.NoError(t, err)
	_, err = AddTokens(m, TokensConfig{IDs: []int{1}, Output: true})
	require.ErrorContains(t, err, "trains lm_head.weight")
	m = randomModel(t, cfg, 1) // tied: Top trains no classifier of its own
	_, err = AddTop(m, TopConfig{Layers: 1})
	require.NoError(t, err)
	_, err = AddTokens(m, TokensConfig{IDs: []int{1}})
	require.NoError(t, err)
}

// TestTokensMergeExact: merged, the model computes exactly (bit for bit) what the rows compute beside it, tied or
// untied, with or without the untied classifier's rows; non-finite rows are not merged, and unmerging restores
// the base's rows exactly.
func TestTokensMergeExact(t *testing.T) {
	for _, tc := range []struct {
		untied, output bool
	}{{false, false}, {true, false}, {true, true}} {
		cfg := tinyConfig()
		cfg.Tied = !tc.untied
		m := randomModel(t, cfg, 1)
		before := append([]float32(nil), m.Params.Data...)
		tk, err := AddTokens(m, TokensConfig{IDs: tokenIDs, Output: tc.output})
		require.NoError(t, err)
		assert.Equal(t, TokensParams(cfg, len(tokenIDs), tc.output), len(tk.Params()))
		perturb(tk, 8)
		bt := randomBatch(cfg, 2, 7, 2)
		acts := m.NewActs(2, 7)
		bt.forward(m, acts)
		n := 2 * 7 * cfg.VocabSize
		unmerged := append([]float32(nil), acts.Logits[:n]...)
		require.NoError(t, m.Merge())
		bt.forward(m, acts)
		requireSameBits(t, "merged logits", unmerged, acts.Logits[:n])
		C := cfg.Dim
		for k, id := range tokenIDs {
			requireSameBits(t, "embedding row", tk.Params()[k*C:(k+1)*C], m.Params.Embed[id*C:(id+1)*C])
		}
		require.NoError(t, m.Unmerge())
		requireSameBits(t, "base after unmerge", before, m.Params.Data)

		tk.Params()[3] = float32(math.NaN())
		require.ErrorContains(t, m.Merge(), "holds NaN")
		requireSameBits(t, "base after a refused merge", before, m.Params.Data)
	}
}

// TestTokensPyTorchFixtures: gen_tokens.py's untied case (the classifier's own rows) and the rows beside LoRA,
// against PyTorch: logits, loss and every gradient.
func TestTokensPyTorchFixtures(t *testing.T) {
	for _, name := range []string{"tokens-untied", "tokens-lora"} {
		t.Run(name, func(t *testing.T) {
			fx, m := loadFixture(t, "methods", name)
			var settings struct {
				IDs    []int `json:"ids"`
				Output bool  `json:"output"`
				LoRA   *struct {
					Rank    int      `json:"rank"`
					Alpha   float32  `json:"alpha"`
					Targets []string `json:"targets"`
				} `json:"lora"`
			}
			require.NoError(t, json.Unmarshal(fx.Method, &settings))
			var meths []Method
			if s := settings.LoRA; s != nil {
				targets, err := model.ParseTargets(s.Targets)
				require.NoError(t, err)
				lr, err := AddLoRA(m, LoRAConfig{Rank: s.Rank, Alpha: s.Alpha, Targets: targets}, nil)
				require.NoError(t, err)
				meths = append(meths, lr)
			}
			tk, err := AddTokens(m, TokensConfig{IDs: settings.IDs, Output: settings.Output})
			require.NoError(t, err)
			meths = append(meths, tk)
			tensors := fx.methodTensors(t)
			tr := m.Trainable()
			grad := make([]float32, tr.Len)
			_, methGrads := tr.BindGrads(m.Config, grad)
			type at struct {
				ts   Tensor
				meth Method
				off  int
			}
			byName := map[string]at{}
			off := 0
			for _, meth := range meths {
				for _, ts := range meth.Tensors() {
					byName[ts.Name] = at{ts, meth, off}
				}
				off += len(meth.Params())
			}
			require.Len(t, tensors, len(byName), "the fixture's tensors are the methods'")
			for name, data := range tensors {
				a, ok := byName[name]
				require.True(t, ok, "no tensor %s", name)
				copy(a.ts.View(a.meth.Params()), f32(data.Data))
			}
			acts := m.NewActs(fx.B, fx.T)
			acts.MethodGrads = methGrads
			loss := m.Forward(acts, fx.Inputs, fx.Targets, fx.Mask, fx.B, fx.T)
			assert.InDelta(t, fx.Loss, float64(loss), 1e-5, "loss")
			worst := assertScaled(t, "logits", fx.Logits, acts.Logits[:len(fx.Logits)], 1e-5)
			m.Backward(acts, nil)
			for name, a := range byName {
				g := a.ts.View(methGrads[a.off:])
				worst = math.Max(worst, assertScaled(t, name+" grad", fx.Grads[name], g, 1e-4))
			}
			assert.Len(t, fx.Grads, len(byName), "every gradient in the fixture was compared")
			t.Logf("%s: loss %.7f (torch %.7f), worst scaled difference %.2g", name, loss, fx.Loss, worst)
		})
	}
}
