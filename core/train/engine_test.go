package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/checkpoint"
	"golora/core/data"
)

// engineCall calls e and decodes its reply into a map, failing on an error reply.
func engineCall(t *testing.T, e *Engine, method string, args any, in Bulk) (map[string]any, Bulk) {
	t.Helper()
	text, err := json.Marshal(args)
	require.NoError(t, err)
	reply, out := e.Call(method, text, in)
	var v map[string]any
	require.NoError(t, json.Unmarshal(reply, &v), "%s: the reply is a JSON object: %s", method, reply)
	require.Nil(t, v["error"], "%s(%s): %s", method, text, reply)
	return v, out
}

// engineError calls e expecting an error reply and returns it.
func engineError(t *testing.T, e *Engine, method, args string, in Bulk) (msg, field string, fields map[string]string) {
	t.Helper()
	reply, out := e.Call(method, []byte(args), in)
	var v struct {
		Error  string            `json:"error"`
		Field  string            `json:"field"`
		Fields map[string]string `json:"fields"`
	}
	require.NoError(t, json.Unmarshal(reply, &v), "%s: %s", method, reply)
	require.NotEmpty(t, v.Error, "%s(%s) fails: %s", method, args, reply)
	assert.Empty(t, out.Bytes, "an error carries no arrays")
	return v.Error, v.Field, v.Fields
}

// loadedEngine is an engine holding tinyBase, loaded from its safetensors bytes as the page loads its base.
func loadedEngine(t *testing.T) *Engine {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, tinyBase(t).Save(&buf, nil))
	e := NewEngine()
	v, _ := engineCall(t, e, "load", map[string]any{"name": "tiny"}, Bulk{Bytes: map[string][]byte{"model": buf.Bytes()}})
	m := v["model"].(map[string]any)
	assert.Equal(t, "tiny", m["name"])
	assert.EqualValues(t, 32, m["dim"])
	assert.EqualValues(t, 128, m["seqLen"])
	return e
}

// pageConfig is tinyConfig(method) as the page sends it.
func pageConfig(t *testing.T, method string) json.RawMessage {
	t.Helper()
	text, err := EncodePageConfig(tinyConfig(method))
	require.NoError(t, err)
	return text
}

// TestEngineTrainsAsSession: a run through the engine's calls (start, step, evaluate) gives the losses and the
// evaluation of the same run through Session directly, bit for bit; the two-part step through two engines
// (computeShard, putShard, applyShards) and the split evaluation (evaluatePart, mergeEval) give them too, as the
// page's two workers do.
func TestEngineTrainsAsSession(t *testing.T) {
	cfg := tinyConfig(MethodLoRA)
	cfg.Steps = 6
	want := losses(t, tinyBase(t), cfg, 6)
	s, err := New(tinyBase(t), data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(6)
	require.NoError(t, err)
	wantEval, err := s.Evaluate()
	require.NoError(t, err)
	text, err := EncodePageConfig(cfg)
	require.NoError(t, err)

	e := loadedEngine(t)
	v, _ := engineCall(t, e, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
	assert.EqualValues(t, 2, v["shards"])
	info := v["info"].(map[string]any)
	assert.Equal(t, "lora", info["method"])
	assert.EqualValues(t, s.Info().TrainableParams, info["trainableParams"])
	assert.Equal(t, map[string]any{"name": "facts", "facts": 16.0, "train": 32.0, "val": 16.0, "test": 16.0}, v["task"],
		"the task as built, with the facts it holds")
	v, out := engineCall(t, e, "step", map[string]any{"n": 4}, Bulk{})
	assert.EqualValues(t, 4, v["step"])
	got := out.Floats["losses"]
	v, out = engineCall(t, e, "step", map[string]any{"n": 2}, Bulk{})
	got = append(got, out.Floats["losses"]...)
	assert.Equal(t, want, got, "the engine's losses are Session's")
	assert.Equal(t, want[5], float32(v["loss"].(float64)), "the reply's loss is the last step's (float32s cross as float32s)")
	v, _ = engineCall(t, e, "evaluate", map[string]any{}, Bulk{})
	assert.Equal(t, wantEval.ValLoss, float32(v["valLoss"].(float64)))
	assert.EqualValues(t, wantEval.Correct, v["correct"])
	assert.Len(t, v["samples"], len(wantEval.Samples))

	// Two engines, one part each, exchanging parts as the page's workers do.
	a, b := loadedEngine(t), loadedEngine(t)
	for _, x := range []*Engine{a, b} {
		engineCall(t, x, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
	}
	var shared []float32
	for range 6 {
		pa, ga := engineCall(t, a, "computeShard", map[string]any{"part": 0}, Bulk{})
		pb, gb := engineCall(t, b, "computeShard", map[string]any{"part": 1}, Bulk{})
		gradA := append([]float32(nil), ga.Floats["grad"]...) // the session's buffer: copied as wasm copies it
		gradB := append([]float32(nil), gb.Floats["grad"]...)
		engineCall(t, a, "putShard", map[string]any{"part": 1, "loss": pb["loss"]}, Bulk{Floats: map[string][]float32{"grad": gradB}})
		engineCall(t, b, "putShard", map[string]any{"part": 0, "loss": pa["loss"]}, Bulk{Floats: map[string][]float32{"grad": gradA}})
		ma, _ := engineCall(t, a, "applyShards", map[string]any{}, Bulk{})
		mb, _ := engineCall(t, b, "applyShards", map[string]any{}, Bulk{})
		assert.Equal(t, ma["loss"], mb["loss"], "both engines take the same step")
		shared = append(shared, float32(ma["loss"].(float64)))
	}
	assert.Equal(t, want, shared, "two engines with a part each give the one-engine losses")
	p0, _ := engineCall(t, a, "evaluatePart", map[string]any{"part": 0, "parts": 2}, Bulk{})
	p1, _ := engineCall(t, b, "evaluatePart", map[string]any{"part": 1, "parts": 2}, Bulk{})
	v, _ = engineCall(t, a, "mergeEval", map[string]any{"parts": []any{p0["part"], p1["part"]}}, Bulk{})
	assert.Equal(t, wantEval.ValLoss, float32(v["valLoss"].(float64)), "a split evaluation is the whole one")
	assert.EqualValues(t, wantEval.Correct, v["correct"])
}

// TestEngineSnapshotExportMerge: snapshot and restore continue a run bit for bit; exportAdapter gives PEFT's pair,
// which reads back against the base; merge reports a small logit difference.
func TestEngineSnapshotExportMerge(t *testing.T) {
	cfg := pageConfig(t, MethodLoRA)
	want := losses(t, tinyBase(t), tinyConfig(MethodLoRA), 5)
	e := loadedEngine(t)
	engineCall(t, e, "start", map[string]any{"config": cfg}, Bulk{})
	_, out := engineCall(t, e, "step", map[string]any{"n": 3}, Bulk{})
	first := out.Floats["losses"]
	_, snap := engineCall(t, e, "snapshot", map[string]any{}, Bulk{})
	require.NotEmpty(t, snap.Bytes["snapshot"])

	f := loadedEngine(t)
	engineCall(t, f, "start", map[string]any{"config": cfg}, Bulk{})
	v, _ := engineCall(t, f, "restore", map[string]any{}, Bulk{Bytes: map[string][]byte{"snapshot": snap.Bytes["snapshot"]}})
	assert.EqualValues(t, 3, v["step"])
	_, out = engineCall(t, f, "step", map[string]any{"n": 2}, Bulk{})
	assert.Equal(t, want, append(first, out.Floats["losses"]...), "a restored run goes on as if never stopped")

	v, ad := engineCall(t, f, "exportAdapter", map[string]any{}, Bulk{})
	m, err := ReadAdapter(tinyBase(t), strings.NewReader(v["config"].(string)), "adapter_config.json",
		bytes.NewReader(ad.Bytes["safetensors"]), "adapter_model.safetensors")
	require.NoError(t, err, "the exported pair reads back")
	assert.NotNil(t, m)
	tensors, _, err := checkpoint.ReadSafetensors(bytes.NewReader(ad.Bytes["safetensors"]), "adapter")
	require.NoError(t, err)
	assert.Len(t, tensors, 2*2*2, "A and B of q and v in each of the 2 layers")

	v, _ = engineCall(t, f, "merge", map[string]any{}, Bulk{})
	assert.Less(t, v["maxAbsLogitDiff"].(float64), 1e-4)
	v, _ = engineCall(t, f, "generate", map[string]any{"prompt": "Q", "maxTokens": 4, "temperature": 0, "seed": 1}, Bulk{})
	assert.IsType(t, "", v["text"])
	v, _ = engineCall(t, f, "examples", map[string]any{"split": "train", "n": 2}, Bulk{})
	assert.Len(t, v["examples"], 2)
}

// TestEngineErrors: every failure is one JSON object naming what is wrong, by the page's field names.
func TestEngineErrors(t *testing.T) {
	e := NewEngine()
	msg, _, _ := engineError(t, e, "nope", `{}`, Bulk{})
	assert.Contains(t, msg, `unknown method "nope"`)
	msg, _, _ = engineError(t, e, "validate", `{}`, Bulk{})
	assert.Contains(t, msg, "no base model loaded")
	msg, _, _ = engineError(t, e, "load", `{"name": "x"}`, Bulk{})
	assert.Contains(t, msg, `bulk bytes "model"`)
	msg, _, _ = engineError(t, e, "load", `{"name": "x"}`, Bulk{Bytes: map[string][]byte{"model": []byte("nonsense")}})
	assert.Contains(t, msg, "checkpoint x: truncated")

	e = loadedEngine(t)
	v, _ := engineCall(t, e, "defaults", map[string]any{}, Bulk{})
	lrs := v["lrs"].(map[string]any)
	assert.Equal(t, DefaultLR(MethodFull), float32(lrs["full"].(float64)), "each method's default learning rate")
	assert.Equal(t, DefaultLR(MethodLoRA), float32(lrs["lora"].(float64)))
	msg, _, _ = engineError(t, e, "step", `{"n": 1}`, Bulk{})
	assert.Contains(t, msg, "no run: call start first")
	msg, _, _ = engineError(t, e, "validate", `{"config": {}, "extra": 1}`, Bulk{})
	assert.Contains(t, msg, `unknown field "extra"`)
	msg, _, _ = engineError(t, e, "validate", `{"config": {}} {}`, Bulk{})
	assert.Contains(t, msg, "data after the JSON object")

	_, field, fields := engineError(t, e, "validate", `{"config": {"rank": 0, "weightDecay": 2}}`, Bulk{})
	assert.Equal(t, "rank", field)
	assert.Contains(t, fields["rank"], "must be between 1 and")
	assert.Contains(t, fields["weightDecay"], "must be in [0, 1)", "Validate's weight_decay is the page's weightDecay")

	// The custom file: missing, empty (one message about that file), then accepted.
	_, field, fields = engineError(t, e, "validate", `{"config": {"task": "custom"}}`, Bulk{})
	assert.Equal(t, "custom", field)
	assert.Contains(t, fields["custom"], "choose a JSON Lines file")
	msg, field, fields = engineError(t, e, "validate", `{"config": {"task": "custom"}, "fileName": "mine.jsonl"}`,
		Bulk{Bytes: map[string][]byte{"file": {}}})
	assert.Equal(t, "custom", field)
	assert.True(t, strings.HasPrefix(fields["custom"], "mine.jsonl: no examples"), fields["custom"])
	assert.Equal(t, 1, strings.Count(msg, "custom:"), "the field is named once: %s", msg)
	engineCall(t, e, "validate", map[string]any{"config": map[string]any{"task": "custom", "rank": 2},
		"fileName": "mine.jsonl"}, Bulk{Bytes: map[string][]byte{"file": []byte(`{"prompt": "a", "completion": "b"}` + "\n")}})
	msg, _, _ = engineError(t, e, "validate", `{"config": {"task": "custom"}, "fileName": "bad.jsonl"}`,
		Bulk{Bytes: map[string][]byte{"file": []byte("{\"prompt\": \"\xff\", \"completion\": \"b\"}\n")}})
	assert.Contains(t, msg, "bad.jsonl:1", "invalid UTF-8 is refused, naming the line")

	// A sweep is checked whole before it starts.
	_, field, fields = engineError(t, e, "validateSweep", `{"config": {}, "ranks": [2, 100], "full": false}`, Bulk{})
	assert.Equal(t, "rank", field)
	assert.Contains(t, fields["rank"], "got 100")
	msg, _, _ = engineError(t, e, "validateSweep", `{"config": {}, "ranks": [2, 100]}`, Bulk{})
	assert.Contains(t, msg, "sweep run 2 (lora r=100)")
	_, field, _ = engineError(t, e, "validateSweep", `{"config": {}, "ranks": []}`, Bulk{})
	assert.Equal(t, "ranks", field)
}

// TestEngineSweepConfigs: validateSweep returns each run's settings: the form's LoRA settings at each rank, then full
// fine-tuning at its own default learning rate.
func TestEngineSweepConfigs(t *testing.T) {
	e := loadedEngine(t)
	v, _ := engineCall(t, e, "validateSweep", map[string]any{"config": map[string]any{"alpha": 8}, "ranks": []int{1, 2},
		"full": true}, Bulk{})
	cfgs := sweepConfigsOf(t, v)
	require.Len(t, cfgs, 3)
	assert.Equal(t, []int{1, 2}, []int{cfgs[0].Rank, cfgs[1].Rank})
	assert.Equal(t, []float32{8, 8}, []float32{cfgs[0].Alpha, cfgs[1].Alpha}, "the form's alpha at every rank")
	assert.Equal(t, []string{MethodLoRA, MethodLoRA, MethodFull}, []string{cfgs[0].Method, cfgs[1].Method, cfgs[2].Method})
	assert.Equal(t, DefaultLR(MethodFull), cfgs[2].LR, "full fine-tuning at its own learning rate")
	assert.Equal(t, DefaultLR(MethodLoRA), cfgs[0].LR)
}

// TestEngineMethodsSweep: defaults carries the methods table; validateSweep with methods returns each method at each of
// its sizes (its ladder unless sizes says otherwise) at its own rate, with only the options it reads, and refuses a bad
// size naming the run; exportAdapter names the config file of each method's own format.
func TestEngineMethodsSweep(t *testing.T) {
	e := loadedEngine(t)
	v, _ := engineCall(t, e, "defaults", map[string]any{}, Bulk{})
	var specs []MethodSpec
	text, err := json.Marshal(v["methods"])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(text, &specs))
	require.Len(t, specs, len(Methods()))
	for i, s := range Methods() {
		assert.Equal(t, s.Name, specs[i].Name)
		assert.Equal(t, s.Size, specs[i].Size, s.Name)
		assert.Equal(t, s.Ladder, specs[i].Ladder, s.Name)
		assert.Equal(t, s.Files, specs[i].Files, s.Name)
	}

	// The form is a LoRA run with PiSSA and LoRA+, and prefix-layer's MLP on: each applies only where it is read.
	form := map[string]any{"rank": 4, "alpha": 8, "init": "pissa", "lrRatioB": 4, "prefixProjection": true}
	v, _ = engineCall(t, e, "validateSweep", map[string]any{"config": form,
		"methods": []string{MethodLoRA, MethodDoRA, MethodTop, MethodIA3, MethodFull}, "sizes": map[string][]int{MethodLoRA: {1, 2}}}, Bulk{})
	cfgs := sweepConfigsOf(t, v)
	var labels []string
	for _, c := range cfgs {
		labels = append(labels, c.Label())
		assert.Equal(t, DefaultLR(c.Method), c.LR, "%s at its own rate", c.Label())
		assert.False(t, c.PrefixProjection, c.Label())
	}
	assert.Equal(t, []string{"lora r=1", "lora r=2", "dora r=1", "dora r=4", "dora r=16", "top k=1", "top k=2", "ia3", "full"}, labels)
	assert.Equal(t, []float32{8, 8, 8, 8, 8}, []float32{cfgs[0].Alpha, cfgs[1].Alpha, cfgs[2].Alpha, cfgs[3].Alpha, cfgs[4].Alpha},
		"every rank keeps the form's alpha, as the rank sweep does (the LoRA paper fixes alpha across ranks)")
	assert.Equal(t, "pissa", cfgs[0].Init)
	assert.Equal(t, float32(4), cfgs[0].LRRatioB)
	assert.Equal(t, "kaiming", cfgs[2].Init, "DoRA has no PiSSA init")
	assert.Equal(t, float32(4), cfgs[2].LRRatioB, "LoRA+ applies to DoRA's B")
	assert.Zero(t, cfgs[5].LRRatioB, "top has no B")

	msg, field, _ := engineError(t, e, "validateSweep", `{"config": {}, "methods": ["lora", "top"], "sizes": {"top": [1, 9]}}`, Bulk{})
	assert.Contains(t, msg, "(top k=9): layers: must be between 1 and 2")
	assert.Equal(t, "layers", field)
	_, field, _ = engineError(t, e, "validateSweep", `{"config": {}, "methods": ["lora", "nope"]}`, Bulk{})
	assert.Equal(t, "methods", field)
	_, field, _ = engineError(t, e, "validateSweep", `{"config": {}, "methods": []}`, Bulk{})
	assert.Equal(t, "methods", field)
	msg, _, _ = engineError(t, e, "validateSweep", `{"config": {}, "methods": ["lora"], "ranks": [1]}`, Bulk{})
	assert.Contains(t, msg, "not ranks or full")

	// A prefix too long for the task is refused under l_p, with the most that fits: exactly where New starts refusing it.
	pre := tinyConfig(MethodPrefixEmbed)
	pre.PrefixLen = 120
	text, err = EncodePageConfig(pre)
	require.NoError(t, err)
	msg, field, _ = engineError(t, e, "validate", `{"config": `+string(text)+`}`, Bulk{})
	assert.Equal(t, "prefixLen", field)
	var most int
	_, err = fmt.Sscanf(msg[strings.Index(msg, "at most "):], "at most %d", &most)
	require.NoError(t, err, msg)
	require.Greater(t, most, 0, msg)
	pre.PrefixLen = most
	text, err = EncodePageConfig(pre)
	require.NoError(t, err)
	engineCall(t, e, "validate", map[string]any{"config": json.RawMessage(text)}, Bulk{})
	engineCall(t, e, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
	pre.PrefixLen = most + 1
	text, err = EncodePageConfig(pre)
	require.NoError(t, err)
	_, field, _ = engineError(t, e, "start", `{"config": `+string(text)+`}`, Bulk{})
	assert.Equal(t, "task", field, "New refuses one position more")

	for _, c := range []struct{ method, name string }{{MethodLoRA, PEFTConfigName}, {MethodIA3, PEFTConfigName},
		{MethodTop, GoloraConfigName}, {MethodAdapterL, GoloraConfigName}} {
		cfg := tinyConfig(c.method)
		cfg.Steps, cfg.Layers, cfg.Bottleneck = 2, 1, 2
		text, err := EncodePageConfig(cfg)
		require.NoError(t, err)
		engineCall(t, e, "start", map[string]any{"config": json.RawMessage(text)}, Bulk{})
		engineCall(t, e, "step", map[string]any{"n": 2}, Bulk{})
		v, ad := engineCall(t, e, "exportAdapter", map[string]any{}, Bulk{})
		assert.Equal(t, c.name, v["configName"], c.method)
		m, err := ReadAdapter(tinyBase(t), strings.NewReader(v["config"].(string)), c.name,
			bytes.NewReader(ad.Bytes["safetensors"]), AdapterWeightsName)
		require.NoError(t, err, "%s: the exported files read back", c.method)
		if c.method != MethodTop { // top's files replace base tensors; the others attach a method
			assert.Len(t, m.Methods(), 1, c.method)
		}
	}
}

// FuzzEngineCall: whatever the page (or anything posing as it) sends, Call answers with one JSON object, never with a
// panic (Call recovers panics into "internal error" replies, which the fuzzer treats as failures).
func FuzzEngineCall(f *testing.F) {
	var buf bytes.Buffer
	if err := tinyBase(f).Save(&buf, nil); err != nil {
		f.Fatal(err)
	}
	model := buf.Bytes()
	def, err := EncodePageConfig(tinyConfig(MethodLoRA))
	if err != nil {
		f.Fatal(err)
	}
	start := []byte(`{"config": ` + string(def) + `}`)
	methods := EngineMethods()
	for i := range methods {
		f.Add(uint8(i), []byte(`{}`), []byte(nil), []byte(nil))
		f.Add(uint8(i), start, []byte(`{"prompt": "a", "completion": "b"}`), []byte{0, 0, 128, 63})
	}
	f.Add(uint8(0), []byte(`{"n": -1, "part": 7, "parts": 0, "split": "x"}`), []byte("\xff"), []byte{1, 2, 3})
	f.Add(uint8(0), []byte(`{"parts": [{"step": 1, "part": 0, "parts": 2, "got": ["x"], "val_num": [1], "val_count": [0]}]}`),
		[]byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, which uint8, args, blob, floats []byte) {
		e := NewEngine()
		e.Call("load", []byte(`{"name": "tiny"}`), Bulk{Bytes: map[string][]byte{"model": model}})
		e.Call("start", start, Bulk{})
		in := Bulk{Bytes: map[string][]byte{"file": blob, "snapshot": blob, "model": blob, "tokenizer": blob}, Floats: map[string][]float32{}}
		fl := make([]float32, len(floats)/4)
		for i := range fl {
			fl[i] = float32(int8(floats[4*i])) / 8
		}
		in.Floats["grad"] = fl
		method := methods[int(which)%len(methods)]
		reply, _ := e.Call(method, args, in)
		var v map[string]any
		if err := json.Unmarshal(reply, &v); err != nil {
			t.Fatalf("%s(%s): the reply is not a JSON object: %s", method, args, reply)
		}
		if msg, _ := v["error"].(string); strings.HasPrefix(msg, "internal error") {
			t.Fatalf("%s(%s) panicked: %s", method, args, msg)
		}
	})
}

// TestEngineSkip: a run that cannot run at its size on its task (train.SkipError) starts with an error whose reply
// says why under "skip", which the page's methods sweep skips, as the CLI's does: a prefix that leaves the examples
// no room; any other refused run has no "skip".
func TestEngineSkip(t *testing.T) {
	e := loadedEngine(t)
	c := tinyConfig(MethodPrefixEmbed)
	c.Task, c.PrefixLen = "e2e", 100 // e2e's longest example takes 122 of the 128 positions
	text, err := EncodePageConfig(c)
	require.NoError(t, err)
	reply, _ := e.Call("start", []byte(`{"config": `+string(text)+`}`), Bulk{})
	var r map[string]any
	require.NoError(t, json.Unmarshal(reply, &r))
	require.Contains(t, r, "error", "%s", reply)
	assert.Contains(t, r["skip"], "prefix", "%s", reply)
	assert.Contains(t, r["fields"], "task", "the field errors stay beside it")

	reply, _ = e.Call("start", []byte(`{"config": {"rank": 0}}`), Bulk{})
	r = nil
	require.NoError(t, json.Unmarshal(reply, &r))
	assert.NotContains(t, r, "skip", "an invalid setting is no skip: %s", reply)

	why, ok := Skippable(Config{Method: MethodTokens}, &FieldError{Field: "train_tokens", Reason: "auto " + noTokensChosen + ": the base knows them"})
	assert.True(t, ok)
	assert.Contains(t, why, noTokensChosen)
	_, ok = Skippable(Config{Method: MethodLoRA}, &FieldError{Field: "task", Reason: "too long"})
	assert.False(t, ok, "a LoRA run's task error is no skip")
}
