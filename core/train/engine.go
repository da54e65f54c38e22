// Engine: the browser page's engine behind one generic call. wasm/ hands every call through as it comes: a method
// name, its arguments as a JSON object, and bulk arrays beside them (a model file, a snapshot, a gradient); the reply
// is a JSON object and its bulk arrays. Everything the page can ask is here, natively testable and fuzzable; wasm/
// only converts JavaScript values.
package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
)

// Bulk holds the arrays that cross beside a call's JSON, by name: bytes (a Uint8Array in the page) and float32s (a
// Float32Array). A reply's arrays may be the session's own buffers: copy them before the next call.
type Bulk struct {
	Bytes  map[string][]byte
	Floats map[string][]float32
}

// Engine holds one base model and at most one session: the page's worker runs one thing at a time, and more runs at
// once mean more workers, each with its own Engine.
type Engine struct {
	base     *model.Model
	baseFile string // the base's file name, as the page gave it (the adapter files' base_model_name_or_path)
	session  *Session
	tok      data.Tokenizer

	sweeper   *Sweeper // a sweep run by sweepStep (engine_analyse.go)
	sweepKind string

	longestCache map[string]int // a task's longest example in tokens (engine_base.go: checkRunMemory)
}

// NewEngine is an engine with no base model yet (the call "load" gives it one). Its tokenizer is the shipped base's:
// golora pretrains on bytes.
func NewEngine() *Engine { return &Engine{tok: data.NewByteTokenizer()} }

// engineMethod is one method of Call: it decodes args itself (strictly, with decodeArgs) and returns the reply's JSON
// value and arrays.
type engineMethod func(e *Engine, args []byte, in Bulk) (any, Bulk, error)

// engineMethods lists every method the page can call. Adding one is a function below and a line here.
var engineMethods = map[string]engineMethod{
	"load":          (*Engine).load,
	"defaults":      (*Engine).defaults,
	"validate":      (*Engine).validate,
	"validateSweep": (*Engine).validateSweep,
	"start":         (*Engine).start,
	"info":          (*Engine).info,
	"examples":      (*Engine).examples,
	"generate":      (*Engine).generate,
	"step":          (*Engine).step,
	"computeShard":  (*Engine).computeShard,
	"putShard":      (*Engine).putShard,
	"applyShards":   (*Engine).applyShards,
	"evaluate":      (*Engine).evaluate,
	"evaluatePart":  (*Engine).evaluatePart,
	"mergeEval":     (*Engine).mergeEval,
	"snapshot":      (*Engine).snapshot,
	"restore":       (*Engine).restore,
	"merge":         (*Engine).merge,
	"exportAdapter": (*Engine).exportAdapter,
	"exportModel":   (*Engine).exportModel,
	"analyse":       (*Engine).analyse,
	"sweepStart":    (*Engine).sweepStart,
	"sweepStep":     (*Engine).sweepStep,
	"unseen":        (*Engine).unseen,
	"chooseTokens":  (*Engine).chooseTokens,
	"checkBase":     (*Engine).checkBase,
	"sweepSummary":  (*Engine).sweepSummary,
}

// EngineMethods lists the names Call answers, sorted.
func EngineMethods() []string { return slices.Sorted(maps.Keys(engineMethods)) }

// Call runs method with args (a JSON object; empty means {}) and the arrays in. It always returns a JSON object: the
// method's reply, or {"error": message} with, when settings are at fault, "field" (the first) and "fields" (each
// field's reason), by the page's names ("weightDecay"). A panic is recovered into an error reply, so that no input
// kills the page's engine.
func (e *Engine) Call(method string, args []byte, in Bulk) (reply []byte, out Bulk) {
	defer func() {
		if r := recover(); r != nil {
			reply, out = errorReply(fmt.Errorf("internal error in %s: %v", method, r)), Bulk{}
		}
	}()
	m, ok := engineMethods[method]
	if !ok {
		return errorReply(fmt.Errorf("unknown method %q (want one of %v)", method, EngineMethods())), Bulk{}
	}
	if len(bytes.TrimSpace(args)) == 0 {
		args = []byte("{}")
	}
	v, out, err := m(e, args, in)
	if err != nil {
		return errorReply(err), Bulk{}
	}
	reply, err = json.Marshal(v)
	if err != nil { // a NaN in a reply, say: the page gets an error, never bad JSON
		return errorReply(fmt.Errorf("%s: the reply cannot be encoded: %w", method, err)), Bulk{}
	}
	return reply, out
}

// errorReply is {"error", "field"?, "fields"?, "stopped"?, "skip"?} for err; "stopped" marks a run stopped by a
// non-finite loss or gradient (a StopError), which a learning-rate sweep keeps as a result, and "skip" says why a run
// cannot run at its size on its task (a SkipError), which a methods sweep skips.
func errorReply(err error) []byte {
	var stop *StopError
	var skip *SkipError
	r := struct {
		Error   string            `json:"error"`
		Field   string            `json:"field,omitempty"`
		Fields  map[string]string `json:"fields,omitempty"`
		Stopped bool              `json:"stopped,omitempty"`
		Skip    string            `json:"skip,omitempty"`
	}{Error: err.Error(), Stopped: errors.As(err, &stop)}
	if errors.As(err, &skip) {
		r.Skip = skip.Why
	}
	for _, fe := range FieldErrors(err) {
		name := PageField(fe.Field)
		if r.Fields == nil {
			r.Field, r.Fields = name, map[string]string{}
		}
		if _, seen := r.Fields[name]; !seen {
			r.Fields[name] = fe.Reason
		}
	}
	b, _ := json.Marshal(r) // strings only: cannot fail
	return b
}

// decodeArgs reads args into v, refusing unknown keys and trailing data.
func decodeArgs(args []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("arguments: %w", err)
	}
	if dec.More() {
		return errors.New("arguments: data after the JSON object")
	}
	return nil
}

func (e *Engine) needBase() error {
	if e.base == nil {
		return errors.New("no base model loaded: call load first")
	}
	return nil
}

func (e *Engine) needSession() (*Session, error) {
	if e.session == nil {
		return nil, errors.New("no run: call start first")
	}
	return e.session, nil
}

// ---------------------------------------------------------------------------------------------------------------
// The replies, as the page spells them

// PageModel describes the loaded base.
type PageModel struct {
	Name           string `json:"name"`                     // the model's own name (a safetensors file's, else the file's)
	File           string `json:"file"`                     // the file it was read from
	Format         string `json:"format"`                   // "safetensors" or "llama2c"
	Tokenizer      string `json:"tokenizer"`                // "byte", or "bpe:" and the tokenizer file
	TokenizerFile  string `json:"tokenizerFile,omitempty"`  // the tokenizer.bin given with it
	Bytes          int    `json:"bytes"`                    // the file's size
	TokenizerBytes int    `json:"tokenizerBytes,omitempty"` // the tokenizer file's size
	Fingerprint    string `json:"fingerprint"`              // BaseFingerprint: what a run's snapshot checks on resume
	Tied           bool   `json:"tied"`                     // the classifier is the embedding
	Params         int    `json:"params"`
	Dim            int    `json:"dim"`
	HiddenDim      int    `json:"hiddenDim"`
	Layers         int    `json:"layers"`
	Heads          int    `json:"heads"`
	KVHeads        int    `json:"kvHeads"`
	Vocab          int    `json:"vocab"`
	SeqLen         int    `json:"seqLen"`
}

// PageInfo is what a run trains and what that costs (Info).
type PageInfo struct {
	Method          string `json:"method"`
	TrainableParams int    `json:"trainableParams"`
	TotalParams     int    `json:"totalParams"`
	TrainableBytes  int64  `json:"trainableBytes"`
	FullBytes       int64  `json:"fullBytes"`
	// The token rows the run trains (counted above): its train_tokens, and the tokens chosen, as ids and quoted.
	TrainTokens string   `json:"trainTokens,omitempty"`
	TokenIDs    []int    `json:"tokenIds,omitempty"`
	Tokens      []string `json:"tokens,omitempty"`
}

// PageTask is the task a run's session built, with the values a 0 ("the task's default") stood for.
type PageTask struct {
	Name       string `json:"name"`
	Difficulty int    `json:"difficulty,omitempty"` // cipher: letters substituted
	Facts      int    `json:"facts,omitempty"`      // facts: how many
	File       string `json:"file,omitempty"`       // custom: the file's name
	Train      int    `json:"train"`                // examples per split
	Val        int    `json:"val"`
	Test       int    `json:"test"`
}

// PageMetrics is a training step's Metrics.
type PageMetrics struct {
	Step         int     `json:"step"`
	Loss         float32 `json:"loss"`
	LR           float32 `json:"lr"`
	GradNorm     float32 `json:"gradNorm"`
	Tokens       int64   `json:"tokens"`
	TokensPerSec float64 `json:"tokensPerSec"`
	Elapsed      float64 `json:"elapsed"`
}

// PageEval is an evaluation (Eval).
type PageEval struct {
	Step     int      `json:"step"`
	ValLoss  float32  `json:"valLoss"`
	Accuracy float32  `json:"accuracy"`
	Correct  int      `json:"correct"`
	Total    int      `json:"total"`
	Samples  []Sample `json:"samples"`
	Seconds  float64  `json:"seconds"`
}

func pageInfo(i Info) PageInfo {
	return PageInfo{Method: i.Method, TrainableParams: i.TrainableParams, TotalParams: i.TotalParams,
		TrainableBytes: i.TrainableBytes, FullBytes: i.FullBytes, TrainTokens: i.TrainTokens, TokenIDs: i.TokenIDs}
}

// sessionInfo is s's Info for the page, the token rows quoted by the engine's tokenizer.
func (e *Engine) sessionInfo(s *Session) PageInfo {
	pi := pageInfo(s.Info())
	if len(pi.TokenIDs) > 0 {
		pi.Tokens = tokenTexts(e.tok, pi.TokenIDs)
	}
	return pi
}

func pageMetrics(m Metrics) PageMetrics {
	return PageMetrics{Step: m.Step, Loss: m.Loss, LR: m.LR, GradNorm: m.GradNorm, Tokens: m.Tokens,
		TokensPerSec: m.TokensPerSec, Elapsed: m.Elapsed}
}

func pageEval(ev Eval) PageEval {
	samples := ev.Samples
	if samples == nil {
		samples = []Sample{}
	}
	return PageEval{Step: ev.Step, ValLoss: ev.ValLoss, Accuracy: ev.Accuracy, Correct: ev.Correct, Total: ev.Total,
		Samples: samples, Seconds: ev.Seconds}
}

// pageTask resolves cfg's task settings as buildTask does.
func pageTask(cfg Config, file string, i Info) PageTask {
	t := PageTask{Name: cfg.Task, Train: i.TrainExamples, Val: i.ValExamples, Test: i.TestExamples}
	if tc, err := data.DefaultTaskConfig(cfg.Task); err == nil {
		switch cfg.Task {
		case "cipher":
			t.Difficulty = cmpOr(cfg.Difficulty, tc.Difficulty)
		case "facts":
			t.Facts = cmpOr(cfg.Facts, tc.Facts)
		}
	}
	if cfg.Task == "custom" {
		t.File = file
	}
	return t
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// ---------------------------------------------------------------------------------------------------------------
// The methods

// configArgs are the arguments of every method that takes the page's settings: the config object (ParsePageConfig's
// keys) and, for the task "custom", the file's name, its bytes in the bulk array "file".
type configArgs struct {
	Config   json.RawMessage `json:"config"`
	FileName string          `json:"fileName"`
}

// config decodes the page's settings (and the custom file, when in carries one).
func (a configArgs) config(in Bulk) (Config, error) {
	if len(a.Config) == 0 {
		a.Config = []byte("{}")
	}
	var file *PageFile
	if b, ok := in.Bytes["file"]; ok {
		file = &PageFile{Name: a.FileName, Data: b}
	}
	return ParsePageConfig(a.Config, file)
}

// baseConfig is the page's settings (and file) as a Config, on the loaded base: what every call that builds a run
// reads first.
func (e *Engine) baseConfig(a configArgs, in Bulk) (Config, error) {
	if err := e.needBase(); err != nil {
		return Config{}, err
	}
	return a.config(in)
}

// runConfig is baseConfig for a run about to start: valid on the loaded base (Validate), and within what a worker
// can hold (checkRunMemory).
func (e *Engine) runConfig(a configArgs, in Bulk) (Config, error) {
	c, err := e.baseConfig(a, in)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(e.base); err != nil {
		return Config{}, err
	}
	return c, e.checkRunMemory(c)
}

// defaults {} -> {config, lrs, methods}: DefaultConfig as the page spells it (EncodePageConfig), each method's default
// learning rate by name (the page moves the rate along when the method changes), and the methods table (Methods: each
// method's size knob, ladder, rate, whether it merges and what files it writes), which the page's method choice and
// methods sweep are built from.
func (e *Engine) defaults(args []byte, _ Bulk) (any, Bulk, error) {
	if err := decodeArgs(args, &struct{}{}); err != nil {
		return nil, Bulk{}, err
	}
	text, err := EncodePageConfig(DefaultConfig())
	lrs := map[string]float32{}
	for _, name := range MethodNames() {
		lrs[name] = DefaultLR(name)
	}
	return map[string]any{"config": json.RawMessage(text), "lrs": lrs, "methods": Methods()}, Bulk{}, err
}

// validate {config, fileName?} (+ "file") -> {ok: true}, or every invalid field.
func (e *Engine) validate(args []byte, in Bulk) (any, Bulk, error) {
	var a configArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	c, err := e.runConfig(a, in)
	if err != nil {
		return nil, Bulk{}, err
	}
	if err := prefixFits(c, e.base, e.tok); err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"ok": true}, Bulk{}, nil
}

// prefixFits refuses, under its own field, a prefix that leaves the task's longest example no room in the context
// (New would refuse the run under "task" once started): the page marks l_p while it is typed. It builds the task,
// a few milliseconds for the generated ones, and only for the prefix methods.
func prefixFits(c Config, base *model.Model, tok data.Tokenizer) error {
	if spec, _ := LookupMethod(c.Method); spec.Size != SizePrefixLen {
		return nil
	}
	task, err := buildTask(c)
	if err != nil {
		return nil // New reports it, under "task"
	}
	longest := 0
	for _, set := range [][]data.Example{task.Train, task.Val, task.Test} {
		for _, ex := range set {
			longest = max(longest, 1+len(tok.Encode(ex.Prompt))+len(tok.Encode(ex.Completion))+1) // BOS, End
		}
	}
	if room := base.Config.SeqLen - c.PrefixLen; longest > room {
		return &FieldError{Field: SizePrefixLen, Reason: fmt.Sprintf("at most %d, got %d: %s's longest example takes %d of "+
			"the context's %d positions", max(base.Config.SeqLen-longest, 0), c.PrefixLen, task.Name, longest, base.Config.SeqLen)}
	}
	return nil
}

// validateSweep {config, fileName?, ranks, full, trainTokens?} (+ "file") -> {configs}: the sweep's runs (SweepConfigs:
// LoRA at each rank with the config's alpha, each once per trainTokens value when given (TokenSweepConfigs), then full
// fine-tuning at its default learning rate when full is set), each checked (ValidateSweep) before the first starts, as
// the page's settings to start them with. With methods instead of ranks, a methods sweep (MethodSweepConfigs): each
// method at each of its sizes (sizes[method], else its ladder) and at its own default rate, a rank method's alpha
// keeping the config's alpha/r. With kind "lrs" or "dims" and values instead of ranks, the learning-rate or
// intrinsic-dimension sweep (pageSweepConfigs).
func (e *Engine) validateSweep(args []byte, in Bulk) (any, Bulk, error) {
	var a struct {
		configArgs
		Ranks   []int            `json:"ranks"`
		Full    bool             `json:"full"`
		Methods []string         `json:"methods"`
		Sizes   map[string][]int `json:"sizes"`
		// TrainTokens runs each rank once per value ("none": without rows), as sweep -train-tokens does.
		TrainTokens []string `json:"trainTokens"`
		pageSweepArgs
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	c, err := e.baseConfig(a.configArgs, in)
	if err != nil {
		return nil, Bulk{}, err
	}
	var cfgs []Config
	if a.Methods != nil {
		if a.Ranks != nil || a.Full {
			return nil, Bulk{}, errors.New("validateSweep: a methods sweep takes methods and sizes, not ranks or full (list full among the methods)")
		}
		if cfgs, err = MethodSweepConfigs(c, a.Methods, a.Sizes, false); err != nil { // alpha fixed, as the rank sweep
			return nil, Bulk{}, err
		}
		for i := range cfgs {
			cfgs[i] = ownOptions(cfgs[i])
		}
	} else {
		if a.Sizes != nil {
			return nil, Bulk{}, errors.New("validateSweep: sizes belong to a methods sweep: give methods too")
		}
		var fullLR float32
		if a.Full {
			fullLR = DefaultLR(MethodFull)
		}
		cfgs = SweepConfigs(c, a.Ranks, false, fullLR)
		if len(a.TrainTokens) > 0 && a.Kind == "" {
			cfgs = TokenSweepConfigs(cfgs, a.TrainTokens)
		}
	}
	if a.Kind != "" {
		if a.Methods != nil {
			return nil, Bulk{}, errors.New("validateSweep: a methods sweep has no kind")
		}
		if cfgs, err = a.configs(c, a.Full); err != nil {
			return nil, Bulk{}, err
		}
	}
	if err := ValidateSweep(e.base, cfgs); err != nil {
		return nil, Bulk{}, err
	}
	for i, c := range cfgs {
		if err := e.checkRunMemory(c); err != nil {
			return nil, Bulk{}, fmt.Errorf("sweep run %d (%s): %w", i+1, c.Label(), err)
		}
	}
	out := make([]json.RawMessage, len(cfgs))
	for i, c := range cfgs {
		if out[i], err = EncodePageConfig(c); err != nil {
			return nil, Bulk{}, err
		}
	}
	return map[string]any{"configs": out}, Bulk{}, nil
}

// ownOptions drops the options of c that its method does not read, for a methods sweep built from the form of
// another method: LoRA+, token rows (LoRA and DoRA), PiSSA (LoRA), the prefix's MLP (prefix-layer). Each method then
// runs as it would by default, instead of being refused for an option the form set for another.
func ownOptions(c Config) Config {
	if !usesLoRA(c.Method) {
		c.LRRatioB, c.TrainTokens, c.TokensLR = 0, "", 0
	}
	if c.Method != MethodLoRA && c.Init == string(peft.InitPiSSA) {
		c.Init = string(peft.InitKaiming)
	}
	if c.Method != MethodPrefixLayer {
		c.PrefixProjection = false
	}
	return c
}

// start {config, fileName?} (+ "file") -> {info, shards, task}: a new session on the loaded base (the old one is
// dropped first, so that its buffers can go).
func (e *Engine) start(args []byte, in Bulk) (any, Bulk, error) {
	var a configArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	c, err := e.runConfig(a, in)
	if err != nil {
		return nil, Bulk{}, err
	}
	e.session, e.sweeper = nil, nil
	s, err := New(e.base, e.tok, c)
	if err != nil {
		if why, ok := Skippable(c, err); ok { // a methods sweep skips the run: the reply says why ("skip")
			err = &SkipError{Why: why, Err: err}
		}
		return nil, Bulk{}, err
	}
	e.session = s
	return map[string]any{"info": e.sessionInfo(s), "shards": s.Config().Shards,
		"task": pageTask(s.Config(), a.FileName, s.Info())}, Bulk{}, nil
}

// noArgs is the session-method pattern: {} -> the session or an error.
func (e *Engine) noArgs(args []byte) (*Session, error) {
	if err := decodeArgs(args, &struct{}{}); err != nil {
		return nil, err
	}
	return e.needSession()
}

// info {} -> {info}.
func (e *Engine) info(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"info": e.sessionInfo(s)}, Bulk{}, nil
}

// examples {split, n} -> {examples: [{prompt, completion}]}.
func (e *Engine) examples(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Split string `json:"split"`
		N     int    `json:"n"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	if a.N < 0 {
		return nil, Bulk{}, fmt.Errorf("examples: n must be >= 0, got %d", a.N)
	}
	out := []map[string]string{}
	for _, ex := range s.Examples(a.Split, a.N) {
		out = append(out, map[string]string{"prompt": ex.Prompt, "completion": ex.Completion})
	}
	return map[string]any{"examples": out}, Bulk{}, nil
}

// generate {prompt, maxTokens, temperature, seed} -> {text}.
func (e *Engine) generate(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Prompt      string  `json:"prompt"`
		MaxTokens   int     `json:"maxTokens"`
		Temperature float32 `json:"temperature"`
		Seed        uint64  `json:"seed"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	if !finite(a.Temperature) || a.Temperature < 0 || a.Temperature > 100 {
		return nil, Bulk{}, fmt.Errorf("generate: temperature must be in [0, 100], got %g", a.Temperature)
	}
	if a.MaxTokens > 1<<16 {
		return nil, Bulk{}, fmt.Errorf("generate: maxTokens must be at most %d, got %d", 1<<16, a.MaxTokens)
	}
	text, err := s.Generate(a.Prompt, a.MaxTokens, a.Temperature, a.Seed)
	return map[string]any{"text": text}, Bulk{}, err
}

// step {n} -> metrics of the last step with tokensPerSec averaged over the n, and the bulk floats "losses": every
// step's loss (the steps are taken one at a time for that).
func (e *Engine) step(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		N int `json:"n"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	if a.N < 1 || a.N > 1_000_000 {
		return nil, Bulk{}, fmt.Errorf("step: n must be 1..1000000, got %d", a.N)
	}
	losses := make([]float32, 0, a.N)
	var last Metrics
	var tps float64
	for range a.N {
		m, err := s.Step(1)
		if err != nil {
			return nil, Bulk{}, err
		}
		losses = append(losses, m.Loss)
		tps += m.TokensPerSec
		last = m
	}
	pm := pageMetrics(last)
	pm.TokensPerSec = tps / float64(a.N)
	return pm, Bulk{Floats: map[string][]float32{"losses": losses}}, nil
}

// computeShard {part} -> {part, loss} and the bulk floats "grad": one part of the next step (Session.ComputeShard).
func (e *Engine) computeShard(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Part int `json:"part"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	sh, err := s.ComputeShard(a.Part)
	if err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"part": sh.Part, "loss": sh.Loss}, Bulk{Floats: map[string][]float32{"grad": sh.Grad}}, nil
}

// putShard {part, loss} with the bulk floats "grad" -> {ok: true}: a part that another worker computed.
func (e *Engine) putShard(args []byte, in Bulk) (any, Bulk, error) {
	var a struct {
		Part int     `json:"part"`
		Loss float64 `json:"loss"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	grad, ok := in.Floats["grad"]
	if !ok {
		return nil, Bulk{}, errors.New("putShard: the gradient goes in the bulk floats \"grad\"")
	}
	if err := s.PutShard(Shard{Part: a.Part, Loss: a.Loss, Grad: grad}); err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"ok": true}, Bulk{}, nil
}

// applyShards {} -> metrics: the step whose parts are all in.
func (e *Engine) applyShards(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	m, err := s.ApplyShards()
	return pageMetrics(m), Bulk{}, err
}

// evaluate {} -> the evaluation.
func (e *Engine) evaluate(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	ev, err := s.Evaluate()
	return pageEval(ev), Bulk{}, err
}

// evaluatePart {part, parts} -> {part: EvalPart}, for mergeEval in the worker that reports.
func (e *Engine) evaluatePart(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Part  int `json:"part"`
		Parts int `json:"parts"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	p, err := s.EvaluatePart(a.Part, a.Parts)
	return map[string]any{"part": p}, Bulk{}, err
}

// mergeEval {parts: [EvalPart]} -> the evaluation assembled from evaluatePart's results.
func (e *Engine) mergeEval(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Parts []EvalPart `json:"parts"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	s, err := e.needSession()
	if err != nil {
		return nil, Bulk{}, err
	}
	ev, err := s.MergeEval(a.Parts)
	return pageEval(ev), Bulk{}, err
}

// snapshot {} -> {} and the bulk bytes "snapshot": the run between two steps (Session.Snapshot).
func (e *Engine) snapshot(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	b, err := s.Snapshot()
	if err != nil {
		return nil, Bulk{}, err
	}
	return struct{}{}, Bulk{Bytes: map[string][]byte{"snapshot": b}}, nil
}

// restore {} with the bulk bytes "snapshot" -> {step, tokens}: continue a saved run in the session just started.
func (e *Engine) restore(args []byte, in Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	b, ok := in.Bytes["snapshot"]
	if !ok {
		return nil, Bulk{}, errors.New("restore: the snapshot goes in the bulk bytes \"snapshot\"")
	}
	if err := s.Restore(b); err != nil {
		return nil, Bulk{}, err
	}
	m := s.Metrics()
	return map[string]any{"step": m.Step, "tokens": m.Tokens}, Bulk{}, nil
}

// merge {} -> {maxAbsLogitDiff}: the adapters folded into the weights, and how far the merged model's logits are
// from the unmerged one's.
func (e *Engine) merge(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	d, err := s.Merge()
	return map[string]any{"maxAbsLogitDiff": d}, Bulk{}, err
}

// exportAdapter {} -> {config, configName} and the bulk bytes "safetensors": the run's adapter files (ExportFiles): the
// tensors, and the config's text and file name, PEFT's adapter_config.json for lora, dora, ia3 and the prefixes,
// golora_adapter.json for top, bitfit and the adapters. Full fine-tuning's result is the whole model (exportModel).
func (e *Engine) exportAdapter(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	f, err := s.ExportFiles(e.baseFile)
	if err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"config": string(f.Config), "configName": f.ConfigName},
		Bulk{Bytes: map[string][]byte{"safetensors": f.Weights}}, nil
}
