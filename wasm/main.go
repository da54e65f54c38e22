//go:build js && wasm

// Command wasm is golora's WebAssembly binding: built to web/dist/golora.wasm, it runs inside the page's Web Worker
// (web/worker.js) and registers one global object, golora, whose functions decode their input, call core/train and
// return plain JS values. Nothing here trains, tokenizes or formats: that is core/train's job.
//
// Every function returns an object; on failure it is {error: "message"} (plus field: "rank" and fields: {rank: reason,
// ...} when config values are at fault), and a Go panic is recovered into the same shape, so a bad call never kills the instance. Configs cross as
// JSON text (JSON.stringify of the object below); arrays cross with one bulk copy.
//
//	golora.version                                   -> "golora wasm 1"
//	golora.load(bytes: Uint8Array, name: string)     -> {model: {name, params, dim, hiddenDim, layers, heads, kvHeads, vocab, seqLen}}
//	golora.defaults()                                -> {config}                      train.DefaultConfig()
//	golora.validate(config: string, jsonl?: string)  -> {ok: true} | {error, field, fields: {field: reason}}
//	golora.start(config: string, jsonl?: string)     -> {info, shards}                a new train.Session on the loaded base
//	golora.step(n: number)                           -> {step, loss, lr, tokens, tokensPerSec, elapsed, losses: Float32Array(n)}
//	golora.evaluate()                                -> {step, valLoss, accuracy, correct, total, samples: [{prompt, want, got}]}
//	golora.computeShard(part: number)                -> {part, loss, grad: Float32Array}   one part of the next step
//	golora.putShard(part, loss, grad: Float32Array)  -> {ok: true}   a part another worker computed
//	golora.applyShards()                             -> {step, loss, lr, gradNorm, tokens, elapsed}
//	golora.evaluatePart(part, parts)                 -> {part: string}   JSON of a train.EvalPart
//	golora.mergeEval(parts: string[])                -> the same object as evaluate()
//	golora.snapshot()                                -> {snapshot: Uint8Array}   the run's state between steps
//	golora.restore(snapshot: Uint8Array)             -> {step, tokens}   continue a saved run in the session just started
//	golora.generate(prompt, maxTokens, temperature, seed) -> {text}
//	golora.examples(split: string, n: number)        -> {examples: [{prompt, completion}]}
//	golora.info()                                    -> {info: {method, trainableParams, totalParams, trainableBytes, fullBytes}}
//	golora.merge()                                   -> {maxAbsLogitDiff}
//	golora.exportAdapter()                           -> {safetensors: Uint8Array, config: string}   PEFT adapter pair
//
// config is {task, difficulty, facts, method, rank, alpha, rslora, targets: ["q","v"], init, dropout, lr, steps,
// batch, warmup, weightDecay, clip, seed, shards, evalEvery, evalLimit}; missing keys keep train.DefaultConfig()'s values.
// jsonl is the text of the user's JSON Lines file for task "custom".
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"unsafe"

	"golora/core/data"
	"golora/core/model"
	"golora/core/train"
)

// The instance holds one base model and at most one session: the worker runs one thing at a time, and more
// parallel runs mean more workers, each its own Go instance.
var (
	base    *model.Model
	session *train.Session
	// tokenizer is the shipped base's: golora pretrains it on bytes (cmd/golora/pretrain.go).
	tokenizer data.Tokenizer = data.NewByteTokenizer()
)

func main() {
	api := map[string]any{
		"version":       "golora wasm 1",
		"load":          export(load),
		"defaults":      export(defaults),
		"validate":      export(validate),
		"start":         export(start),
		"step":          export(step),
		"evaluate":      export(evaluate),
		"computeShard":  export(computeShard),
		"putShard":      export(putShard),
		"applyShards":   export(applyShards),
		"evaluatePart":  export(evaluatePart),
		"mergeEval":     export(mergeEval),
		"snapshot":      export(snapshot),
		"restore":       export(restore),
		"generate":      export(generate),
		"examples":      export(examples),
		"info":          export(info),
		"merge":         export(merge),
		"exportAdapter": export(exportAdapter),
	}
	js.Global().Set("golora", js.ValueOf(api))
	select {} // keep the instance alive; every call arrives through the functions above
}

// export wraps fn as a JS function: the result is converted, an error becomes {error, field?}, a panic is recovered.
func export(fn func(args []js.Value) (map[string]any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				out = errorResult(fmt.Errorf("internal error: %v", r))
			}
		}()
		res, err := fn(args)
		if err != nil {
			return errorResult(err)
		}
		return js.ValueOf(res)
	})
}

// fieldError marks an error in the page's input (the custom file), so that the page can show it next to that field.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }

// configFields are the JSON names of config values; Validate's messages start with the field they are about.
var configFields = map[string]bool{
	"task": true, "difficulty": true, "facts": true, "custom": true, "method": true, "rank": true, "alpha": true,
	"rslora": true, "targets": true, "init": true, "dropout": true, "lr": true, "steps": true, "batch": true,
	"warmup": true, "weightDecay": true, "clip": true, "seed": true, "shards": true, "evalEvery": true, "evalLimit": true,
}

// errorResult is {error, field?, fields?: {field: reason}}: Validate reports every invalid field at once.
func errorResult(err error) js.Value {
	res := map[string]any{"error": err.Error()}
	var fe *fieldError
	if errors.As(err, &fe) {
		res["field"] = fe.field
		res["fields"] = map[string]any{fe.field: err.Error()}
	} else if fes := train.FieldErrors(err); len(fes) > 0 {
		fields := map[string]any{}
		for _, f := range fes {
			fields[jsonName(f.Field)] = f.Reason
		}
		res["field"] = jsonName(fes[0].Field)
		res["fields"] = fields
	}
	return js.ValueOf(res)
}

// jsonName maps a field name as train spells it ("weight_decay") to the page's JSON name ("weightDecay").
func jsonName(s string) string {
	k := strings.ToLower(strings.ReplaceAll(s, "_", ""))
	for name := range configFields {
		if strings.ToLower(name) == k {
			return name
		}
	}
	return s
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding input

func argString(args []js.Value, i int, what string) (string, error) {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return "", fmt.Errorf("argument %d (%s): want a string", i+1, what)
	}
	return args[i].String(), nil
}

// argFloat32Array copies a Float32Array argument into Go in one bulk copy.
func argFloat32Array(args []js.Value, i int, what string) ([]float32, error) {
	if i >= len(args) || !args[i].InstanceOf(js.Global().Get("Float32Array")) {
		return nil, fmt.Errorf("argument %d (%s): want a Float32Array", i+1, what)
	}
	a := args[i]
	f := make([]float32, a.Get("length").Int())
	if len(f) > 0 {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
		js.CopyBytesToGo(raw, js.Global().Get("Uint8Array").New(a.Get("buffer"), a.Get("byteOffset"), 4*len(f)))
	}
	return f, nil
}

func argOptString(args []js.Value, i int) string {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return ""
	}
	return args[i].String()
}

func argNumber(args []js.Value, i int, what string) (float64, error) {
	if i >= len(args) || args[i].Type() != js.TypeNumber {
		return 0, fmt.Errorf("argument %d (%s): want a number", i+1, what)
	}
	return args[i].Float(), nil
}

// wireConfig is train.Config as the page spells it. Pointers tell "absent" (keep the default) from zero.
type wireConfig struct {
	Task        *string  `json:"task"`
	Difficulty  *int     `json:"difficulty"`
	Facts       *int     `json:"facts"`
	Method      *string  `json:"method"`
	Rank        *int     `json:"rank"`
	Alpha       *float32 `json:"alpha"`
	RSLoRA      *bool    `json:"rslora"`
	Targets     []string `json:"targets"`
	Init        *string  `json:"init"`
	Dropout     *float32 `json:"dropout"`
	LR          *float32 `json:"lr"`
	Steps       *int     `json:"steps"`
	Batch       *int     `json:"batch"`
	Warmup      *int     `json:"warmup"`
	WeightDecay *float32 `json:"weightDecay"`
	Clip        *float32 `json:"clip"`
	Seed        *uint64  `json:"seed"`
	Shards      *int     `json:"shards"`
	EvalEvery   *int     `json:"evalEvery"`
	EvalLimit   *int     `json:"evalLimit"`
}

// decodeConfig reads args[0] (config JSON) and args[1] (optional JSON Lines text) into a train.Config.
func decodeConfig(args []js.Value) (train.Config, error) {
	text, err := argString(args, 0, "config JSON")
	if err != nil {
		return train.Config{}, err
	}
	var w wireConfig
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return train.Config{}, fmt.Errorf("config: %w", err)
	}
	c := train.DefaultConfig()
	set(&c.Task, w.Task)
	set(&c.Difficulty, w.Difficulty)
	set(&c.Facts, w.Facts)
	set(&c.Method, w.Method)
	set(&c.Rank, w.Rank)
	set(&c.Alpha, w.Alpha)
	set(&c.RSLoRA, w.RSLoRA)
	if w.Targets != nil {
		c.Targets = w.Targets
	}
	set(&c.Init, w.Init)
	set(&c.Dropout, w.Dropout)
	set(&c.LR, w.LR)
	set(&c.Steps, w.Steps)
	set(&c.Batch, w.Batch)
	set(&c.Warmup, w.Warmup)
	set(&c.WeightDecay, w.WeightDecay)
	set(&c.Clip, w.Clip)
	set(&c.Seed, w.Seed)
	set(&c.Shards, w.Shards)
	set(&c.EvalEvery, w.EvalEvery)
	set(&c.EvalLimit, w.EvalLimit)
	if jsonl := argOptString(args, 1); c.Task == "custom" {
		if jsonl == "" {
			return c, &fieldError{"custom", errors.New("custom: choose a JSON Lines file of {\"prompt\", \"completion\"} lines")}
		}
		ex, err := data.ReadJSONL(strings.NewReader(jsonl), "your file")
		if err != nil {
			return c, &fieldError{"custom", err}
		}
		c.Custom = ex
	}
	return c, nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func needModel() error {
	if base == nil {
		return errors.New("no base model loaded: call golora.load first")
	}
	return nil
}

func needSession() error {
	if session == nil {
		return errors.New("no run: call golora.start first")
	}
	return nil
}

// ---------------------------------------------------------------------------------------------------------------
// The functions

func load(args []js.Value) (map[string]any, error) {
	buf, err := argBytes(args, 0, "model bytes")
	if err != nil {
		return nil, err
	}
	name := argOptString(args, 1)
	m, _, err := model.Load(bytes.NewReader(buf), name)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	base, session = m, nil
	return map[string]any{"model": jsModel(m)}, nil
}

// argBytes copies argument i, a Uint8Array, into Go memory.
func argBytes(args []js.Value, i int, what string) ([]byte, error) {
	if len(args) <= i || args[i].Type() != js.TypeObject || args[i].Get("byteLength").Type() != js.TypeNumber {
		return nil, fmt.Errorf("argument %d (%s): want a Uint8Array", i+1, what)
	}
	buf := make([]byte, args[i].Get("byteLength").Int())
	js.CopyBytesToGo(buf, args[i])
	return buf, nil
}

// snapshot saves the session's run between two steps (train.Session.Snapshot).
func snapshot(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	b, err := session.Snapshot()
	if err != nil {
		return nil, err
	}
	return map[string]any{"snapshot": uint8Array(b)}, nil
}

// restore continues a saved run in the session that start has just made (train.Session.Restore).
func restore(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	b, err := argBytes(args, 0, "snapshot")
	if err != nil {
		return nil, err
	}
	if err := session.Restore(b); err != nil {
		return nil, err
	}
	m := session.Metrics()
	return map[string]any{"step": m.Step, "tokens": float64(m.Tokens)}, nil
}

func defaults(args []js.Value) (map[string]any, error) {
	return map[string]any{"config": jsConfig(train.DefaultConfig())}, nil
}

func validate(args []js.Value) (map[string]any, error) {
	if err := needModel(); err != nil {
		return nil, err
	}
	c, err := decodeConfig(args)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(base); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true}, nil
}

func start(args []js.Value) (map[string]any, error) {
	if err := needModel(); err != nil {
		return nil, err
	}
	c, err := decodeConfig(args)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(base); err != nil {
		return nil, err
	}
	session = nil // let the old session's buffers go before the new one allocates
	s, err := train.New(base, tokenizer, c)
	if err != nil {
		return nil, err
	}
	session = s
	return map[string]any{"info": jsInfo(s.Info()), "shards": s.Config().Shards}, nil
}

// step runs n optimizer steps one at a time, so that the page gets every step's loss for its curve.
func step(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	f, err := argNumber(args, 0, "steps")
	if err != nil {
		return nil, err
	}
	n := int(f)
	if n < 1 || n > 1_000_000 {
		return nil, fmt.Errorf("steps: want 1..1000000, got %v", f)
	}
	losses := make([]float32, 0, n)
	var last train.Metrics
	var tps float64
	for range n {
		m, err := session.Step(1)
		if err != nil {
			return nil, err
		}
		losses = append(losses, m.Loss)
		tps += m.TokensPerSec
		last = m
	}
	return map[string]any{
		"step": last.Step, "loss": last.Loss, "lr": last.LR, "elapsed": last.Elapsed, "tokens": float64(last.Tokens),
		"tokensPerSec": tps / float64(n), "losses": float32Array(losses),
	}, nil
}

func evaluate(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	e, err := session.Evaluate()
	if err != nil {
		return nil, err
	}
	return jsEval(e), nil
}

// computeShard computes one part of the next training step (train.Session.ComputeShard).
func computeShard(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	part, err := argNumber(args, 0, "part")
	if err != nil {
		return nil, err
	}
	sh, err := session.ComputeShard(int(part))
	if err != nil {
		return nil, err
	}
	return map[string]any{"part": sh.Part, "loss": sh.Loss, "grad": float32Array(sh.Grad)}, nil
}

// putShard hands the session a part of the current step that another worker computed.
func putShard(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	part, err := argNumber(args, 0, "part")
	if err != nil {
		return nil, err
	}
	loss, err := argNumber(args, 1, "loss")
	if err != nil {
		return nil, err
	}
	grad, err := argFloat32Array(args, 2, "grad")
	if err != nil {
		return nil, err
	}
	if err := session.PutShard(train.Shard{Part: int(part), Loss: loss, Grad: grad}); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true}, nil
}

// applyShards takes the step whose parts are all in.
func applyShards(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	m, err := session.ApplyShards()
	if err != nil {
		return nil, err
	}
	return map[string]any{"step": m.Step, "loss": m.Loss, "lr": m.LR, "gradNorm": m.GradNorm,
		"tokens": float64(m.Tokens), "elapsed": m.Elapsed}, nil
}

// evaluatePart computes one part of an evaluation and returns it as JSON, for mergeEval in the worker that reports.
func evaluatePart(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	part, err := argNumber(args, 0, "part")
	if err != nil {
		return nil, err
	}
	parts, err := argNumber(args, 1, "parts")
	if err != nil {
		return nil, err
	}
	p, err := session.EvaluatePart(int(part), int(parts))
	if err != nil {
		return nil, err
	}
	text, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return map[string]any{"part": string(text)}, nil
}

// mergeEval assembles evaluatePart's results (JSON strings) into the evaluation.
func mergeEval(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	if len(args) < 1 || args[0].Type() != js.TypeObject || args[0].Get("length").Type() != js.TypeNumber {
		return nil, errors.New("argument 1 (parts): want an array of strings")
	}
	n := args[0].Get("length").Int()
	parts := make([]train.EvalPart, n)
	for i := range n {
		v := args[0].Index(i)
		if v.Type() != js.TypeString {
			return nil, fmt.Errorf("argument 1 (parts): element %d is not a string", i)
		}
		if err := json.Unmarshal([]byte(v.String()), &parts[i]); err != nil {
			return nil, fmt.Errorf("evaluation part %d: %w", i, err)
		}
	}
	e, err := session.MergeEval(parts)
	if err != nil {
		return nil, err
	}
	return jsEval(e), nil
}

func jsEval(e train.Eval) map[string]any {
	samples := make([]any, len(e.Samples))
	for i, s := range e.Samples {
		samples[i] = map[string]any{"prompt": s.Prompt, "want": s.Want, "got": s.Got}
	}
	return map[string]any{
		"step": e.Step, "valLoss": e.ValLoss, "accuracy": e.Accuracy, "correct": e.Correct, "total": e.Total,
		"samples": samples,
	}
}

func generate(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	prompt, err := argString(args, 0, "prompt")
	if err != nil {
		return nil, err
	}
	maxTokens, err := argNumber(args, 1, "maxTokens")
	if err != nil {
		return nil, err
	}
	temp, err := argNumber(args, 2, "temperature")
	if err != nil {
		return nil, err
	}
	seed, err := argNumber(args, 3, "seed")
	if err != nil {
		return nil, err
	}
	text, err := session.Generate(prompt, int(maxTokens), float32(temp), uint64(seed))
	if err != nil {
		return nil, err
	}
	return map[string]any{"text": text}, nil
}

func examples(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	split, err := argString(args, 0, "split")
	if err != nil {
		return nil, err
	}
	n, err := argNumber(args, 1, "n")
	if err != nil {
		return nil, err
	}
	ex := session.Examples(split, int(n))
	out := make([]any, len(ex))
	for i, e := range ex {
		out[i] = map[string]any{"prompt": e.Prompt, "completion": e.Completion}
	}
	return map[string]any{"examples": out}, nil
}

func info(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	return map[string]any{"info": jsInfo(session.Info())}, nil
}

func merge(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	d, err := session.Merge()
	if err != nil {
		return nil, err
	}
	return map[string]any{"maxAbsLogitDiff": d}, nil
}

func exportAdapter(args []js.Value) (map[string]any, error) {
	if err := needSession(); err != nil {
		return nil, err
	}
	st, cfg, err := session.ExportAdapter(base.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"safetensors": uint8Array(st), "config": string(cfg)}, nil
}

// ---------------------------------------------------------------------------------------------------------------
// Converting results

func jsModel(m *model.Model) map[string]any {
	c := m.Config
	return map[string]any{
		"name": m.Name, "params": m.NumParams(), "dim": c.Dim, "hiddenDim": c.HiddenDim, "layers": c.NLayers,
		"heads": c.NHeads, "kvHeads": c.NKVHeads, "vocab": c.VocabSize, "seqLen": c.SeqLen,
	}
}

func jsInfo(i train.Info) map[string]any {
	return map[string]any{
		"method": i.Method, "trainableParams": i.TrainableParams, "totalParams": i.TotalParams,
		"trainableBytes": i.TrainableBytes, "fullBytes": i.FullBytes,
	}
}

func jsConfig(c train.Config) map[string]any {
	targets := make([]any, len(c.Targets))
	for i, t := range c.Targets {
		targets[i] = t
	}
	return map[string]any{
		"task": c.Task, "difficulty": c.Difficulty, "facts": c.Facts, "method": c.Method, "rank": c.Rank,
		"alpha": c.Alpha, "rslora": c.RSLoRA, "targets": targets, "init": c.Init, "dropout": c.Dropout, "lr": c.LR,
		"steps": c.Steps, "batch": c.Batch, "warmup": c.Warmup, "weightDecay": c.WeightDecay, "clip": c.Clip,
		"seed": float64(c.Seed), "shards": c.Shards, "evalEvery": c.EvalEvery, "evalLimit": c.EvalLimit,
	}
}

// uint8Array copies b into a new Uint8Array in one bulk copy.
func uint8Array(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// float32Array copies f into a new Float32Array: one bulk copy of its bytes (wasm is little-endian, as is JS).
func float32Array(f []float32) js.Value {
	if len(f) == 0 {
		return js.Global().Get("Float32Array").New(0)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
	return js.Global().Get("Float32Array").New(uint8Array(raw).Get("buffer"))
}
