package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sweepConfigsOf decodes validateSweep's configs.
func sweepConfigsOf(t *testing.T, v map[string]any) []Config {
	t.Helper()
	var cfgs []Config
	for _, raw := range v["configs"].([]any) {
		text, err := json.Marshal(raw)
		require.NoError(t, err)
		c, err := ParsePageConfig(text, nil)
		require.NoError(t, err)
		cfgs = append(cfgs, c)
	}
	return cfgs
}

// TestEnginePageSweeps: validateSweep expands the page's learning-rate sweep (LoRA then full fine-tuning at each rate)
// and intrinsic-dimension sweep (each d at intrinsic's rate scaled to it, full fine-tuning, and the form's LoRA run
// as the reference), and refuses what is wrong by the field at fault.
func TestEnginePageSweeps(t *testing.T) {
	e := loadedEngine(t)
	v, _ := engineCall(t, e, "validateSweep", map[string]any{"config": pageConfig(t, MethodLoRA), "kind": "lrs",
		"values": []float64{1e-3, 3e-2}, "full": true}, Bulk{})
	cfgs := sweepConfigsOf(t, v)
	require.Len(t, cfgs, 4)
	for i, want := range []struct {
		method string
		lr     float32
	}{{MethodLoRA, 1e-3}, {MethodLoRA, 3e-2}, {MethodFull, 1e-3}, {MethodFull, 3e-2}} {
		assert.Equal(t, want.method, cfgs[i].Method, "run %d", i+1)
		assert.Equal(t, want.lr, cfgs[i].LR, "run %d", i+1)
	}

	v, _ = engineCall(t, e, "validateSweep", map[string]any{"config": pageConfig(t, MethodLoRA), "kind": "dims",
		"values": []int{5, 20}, "full": true, "lora": true}, Bulk{})
	cfgs = sweepConfigsOf(t, v)
	require.Len(t, cfgs, 4)
	assert.Equal(t, []string{MethodIntrinsic, MethodIntrinsic, MethodFull, MethodLoRA},
		[]string{cfgs[0].Method, cfgs[1].Method, cfgs[2].Method, cfgs[3].Method})
	assert.Equal(t, []int{5, 20}, []int{cfgs[0].IntrinsicDim, cfgs[1].IntrinsicDim})
	ref := DefaultConfig().IntrinsicDim
	assert.Equal(t, IntrinsicLR(DefaultLR(MethodIntrinsic), ref, 5), cfgs[0].LR, "d=5 at intrinsic's rate scaled to it")
	assert.Equal(t, DefaultLR(MethodFull), cfgs[2].LR)
	assert.Equal(t, tinyConfig(MethodLoRA).Rank, cfgs[3].Rank, "the form's LoRA run")
	assert.Equal(t, DefaultLR(MethodLoRA), cfgs[3].LR)

	for _, c := range []struct{ args, field string }{
		{`{"config": {}, "kind": "widths", "values": [1]}`, "kind"},
		{`{"config": {}, "kind": "lrs", "values": []}`, "values"},
		{`{"config": {}, "kind": "lrs", "values": [2]}`, "values"},
		{`{"config": {}, "kind": "dims", "values": [0.5]}`, "values"},
		{`{"config": {}, "kind": "lrs", "values": [0.01], "lora": true}`, "lora"},
	} {
		_, field, _ := engineError(t, e, "validateSweep", c.args, Bulk{})
		assert.Equal(t, c.field, field, c.args)
	}
	msg, _, _ := engineError(t, e, "validateSweep", `{"config": {"batch": 0}, "kind": "lrs", "values": [0.01]}`, Bulk{})
	assert.Contains(t, msg, "sweep run 1", "every run is checked before the first starts")
}

// TestEngineSweepSummary: sweepSummary gives SummarizeLRs and D90 (with LoRA's sizes) from results as the page keeps
// them, a diverged rate left out.
func TestEngineSweepSummary(t *testing.T) {
	e := loadedEngine(t)
	lrs := []map[string]any{
		{"method": "lora", "rank": 4, "lr": 1e-3, "val_loss": 0.9, "accuracy": 0.2},
		{"method": "lora", "rank": 4, "lr": 1e-2, "val_loss": 0.3, "accuracy": 0.8},
		{"method": "lora", "rank": 4, "lr": 1e-1, "val_loss": 0, "accuracy": 0, "diverged": "train: step 3: loss is NaN"},
		{"method": "full", "lr": 1e-3, "val_loss": 0.2, "accuracy": 0.9},
		{"method": "full", "lr": 1e-2, "val_loss": 0.5, "accuracy": 0.6},
	}
	v, _ := engineCall(t, e, "sweepSummary", map[string]any{"kind": "lrs", "results": lrs}, Bulk{})
	var got struct{ LRs LRSummary }
	text, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(text, &got))
	assert.Equal(t, LRSummary{Rank: 4, BestLoRA: 1e-2, BestFull: 1e-3, Ratio: float64(float32(1e-2)) / float64(float32(1e-3))}, got.LRs)

	dims := []map[string]any{
		{"method": "intrinsic", "size": 10, "lr": 0.9, "accuracy": 0.1},
		{"method": "intrinsic", "size": 100, "lr": 0.3, "accuracy": 0.7},
		{"method": "intrinsic", "size": 1000, "lr": 0.1, "accuracy": 0.95},
		{"method": "full", "lr": 1e-3, "accuracy": 1},
	}
	v, _ = engineCall(t, e, "sweepSummary", map[string]any{"kind": "dims", "results": dims, "targets": []string{"q"}}, Bulk{})
	text, err = json.Marshal(v)
	require.NoError(t, err)
	var d struct {
		Intrinsic *IntrinsicSummary
		LoRASizes []LoRASize
	}
	require.NoError(t, json.Unmarshal(text, &d))
	require.NotNil(t, d.Intrinsic)
	assert.Equal(t, 1000, d.Intrinsic.D90, "the smallest d at 90% of full fine-tuning's 100%")
	assert.Equal(t, LoRASizes(e.base.Config, []string{"q"}), d.LoRASizes)

	v, _ = engineCall(t, e, "sweepSummary", map[string]any{"kind": "dims", "results": dims[:3]}, Bulk{})
	assert.Nil(t, v["intrinsic"], "no d90 without full fine-tuning's accuracy")
	_, field, _ := engineError(t, e, "sweepSummary", `{"kind": "ranks", "results": []}`, Bulk{})
	assert.Equal(t, "kind", field)
}

// TestErrorReplyStopped: an error reply says "stopped" for a run stopped by a non-finite loss or gradient, however
// wrapped, and for no other error; the page's learning-rate sweep keeps such a run as a diverged rate.
func TestErrorReplyStopped(t *testing.T) {
	stop := &StopError{Step: 3, What: "loss", Value: 0}
	for _, c := range []struct {
		err  error
		want bool
	}{{stop, true}, {fmt.Errorf("sweep run 2: %w", stop), true}, {errors.New("train: step 3: loss is NaN"), false}} {
		var r struct {
			Error   string
			Stopped bool
		}
		require.NoError(t, json.Unmarshal(errorReply(c.err), &r))
		assert.Equal(t, c.want, r.Stopped, "%v", c.err)
		assert.Equal(t, c.err.Error(), r.Error)
	}
}
