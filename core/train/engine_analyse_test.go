package train

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/analysis"
)

// runSweep steps the engine's sweep to its end in chunks of n and returns every reply.
func runEngineSweep(t *testing.T, e *Engine, n int) []sweepStepReply {
	t.Helper()
	var replies []sweepStepReply
	for range 1000 {
		text, err := json.Marshal(map[string]any{"n": n})
		require.NoError(t, err)
		reply, _ := e.Call("sweepStep", text, Bulk{})
		var r sweepStepReply
		require.NoError(t, json.Unmarshal(reply, &r), "%s", reply)
		require.NotContains(t, string(reply), `"error"`)
		replies = append(replies, r)
		if r.Done {
			return replies
		}
	}
	t.Fatal("the sweep never finished")
	return nil
}

// TestEngineSweeps: the page's intrinsic-dimension and learning-rate sweeps through sweepStart and sweepStep, a
// chunk per call, end with d90 and LoRA's sizes, or the best rates and their ratio, and give Sweep's results.
func TestEngineSweeps(t *testing.T) {
	e := loadedEngine(t)
	cfg := tinyIntrinsic(20)
	cfg.Steps, cfg.Warmup, cfg.EvalEvery = 4, 0, 0
	text, err := EncodePageConfig(cfg)
	require.NoError(t, err)
	v, _ := engineCall(t, e, "sweepStart", map[string]any{"config": json.RawMessage(text), "kind": "dims", "values": []int{5, 20}, "full": true}, Bulk{})
	require.Len(t, v["configs"], 3, "two dimensions and full fine-tuning")
	replies := runEngineSweep(t, e, 3)
	last := replies[len(replies)-1]
	require.NotNil(t, last.Intrinsic, "d90 at the end")
	require.NotEmpty(t, last.LoRASizes)
	var results []Result
	for _, r := range replies {
		if r.Result != nil {
			results = append(results, *r.Result)
		}
	}
	require.Len(t, results, 3)
	assert.Equal(t, []int{5, 20}, []int{results[0].Size, results[1].Size})
	assert.Equal(t, MethodFull, results[2].Method)
	whole, err := Sweep(tinyBase(t), e.tok, IntrinsicSweepConfigs(cfg, []int{5, 20}, DefaultLR(MethodFull), true), nil)
	require.NoError(t, err)
	for i := range whole {
		assert.Equal(t, whole[i].ValLoss, results[i].ValLoss, "run %d as Sweep runs it", i)
	}
	want, _ := D90(whole, 0.9)
	assert.Equal(t, want, *last.Intrinsic)

	lcfg := tinyConfig(MethodLoRA)
	lcfg.Steps, lcfg.Warmup, lcfg.EvalEvery = 3, 0, 2
	text, err = EncodePageConfig(lcfg)
	require.NoError(t, err)
	v, _ = engineCall(t, e, "sweepStart", map[string]any{"config": json.RawMessage(text), "kind": "lrs", "values": []float64{1e-3, 3e-2}, "full": true}, Bulk{})
	require.Len(t, v["configs"], 4)
	replies = runEngineSweep(t, e, 5)
	last = replies[len(replies)-1]
	require.NotNil(t, last.LRs)
	assert.Greater(t, last.LRs.Ratio, 0.0)
	evals := 0
	for _, r := range replies {
		if r.Eval != nil {
			evals++
		}
	}
	assert.Equal(t, 8, evals, "each run evaluated at step 2 and at its end")

	msg, _, _ := engineError(t, NewEngine(), "sweepStep", `{"n": 1}`, Bulk{})
	assert.Contains(t, msg, "no sweep")
	_, field, _ := engineError(t, e, "sweepStart", `{"kind": "ranks", "values": [1.5]}`, Bulk{})
	assert.Equal(t, "values", field)
	_, field, _ = engineError(t, e, "sweepStart", `{"kind": "widths", "values": [1]}`, Bulk{})
	assert.Equal(t, "kind", field)
	_, field, _ = engineError(t, e, "sweepStart", `{"kind": "dims", "values": [0]}`, Bulk{})
	assert.Equal(t, "values", field)
}

// TestEngineAnalyse: the Analyse panel's call on two LoRA runs (their exported PEFT files) and on a full run (its
// exported model) gives the report Analyse gives.
func TestEngineAnalyse(t *testing.T) {
	e := loadedEngine(t)
	files := map[string][]byte{}
	for i, method := range []string{MethodLoRA, MethodLoRA, MethodFull} {
		c := tinyConfig(method)
		c.Steps, c.Rank, c.Seed = 4, 2*(i+1), uint64(i+1)
		text, err := EncodePageConfig(c)
		require.NoError(t, err)
		engineCall(t, e, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
		engineCall(t, e, "step", map[string]any{"n": 4}, Bulk{})
		slot := []string{"a", "b", "c"}[i]
		if method == MethodFull {
			_, out := engineCall(t, e, "exportModel", map[string]any{}, Bulk{})
			files[slot+".model"] = out.Bytes["safetensors"]
			continue
		}
		v, out := engineCall(t, e, "exportAdapter", map[string]any{}, Bulk{})
		files[slot+".adapter"] = out.Bytes["safetensors"]
		files[slot+".adapterConfig"] = []byte(v["config"].(string))
	}
	reply, _ := e.Call("analyse", []byte(`{"a": {"name": "r2"}, "b": {"name": "r4"}}`), Bulk{Bytes: files})
	var rep analysis.Report
	require.NoError(t, json.Unmarshal(reply, &rep), "%s", reply[:min(len(reply), 300)])
	direct, err := Analyse(e.base, RunWeights{Name: "r2", AdapterWeights: files["a.adapter"], AdapterConfig: files["a.adapterConfig"]},
		&RunWeights{Name: "r4", AdapterWeights: files["b.adapter"], AdapterConfig: files["b.adapterConfig"]}, analysis.DefaultOptions())
	require.NoError(t, err)
	want, err := json.Marshal(direct)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(reply))
	assert.Equal(t, 2, rep.Rank)
	assert.Equal(t, 4, rep.CompareRank)
	require.NotNil(t, rep.Modules[0].Compare)

	full := map[string][]byte{"a.model": files["c.model"]}
	reply, _ = e.Call("analyse", []byte(`{"a": {"name": "full"}, "options": {"fullRank": 3}}`), Bulk{Bytes: full})
	require.NoError(t, json.Unmarshal(reply, &rep), "%s", reply[:min(len(reply), 300)])
	require.NotEmpty(t, rep.Modules)
	assert.Equal(t, 3, rep.Modules[0].Full.Projection.R)

	msg, _, _ := engineError(t, e, "analyse", `{"a": {"name": "x"}}`, Bulk{})
	assert.Contains(t, msg, "nothing kept")
	engineCall(t, e, "start", map[string]any{"config": pageConfig(t, MethodLoRA)}, Bulk{})
	msg, _, _ = engineError(t, e, "exportModel", `{}`, Bulk{})
	assert.Contains(t, msg, "export its adapter", "a LoRA run keeps its adapter, not a model")
}
