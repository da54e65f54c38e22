// Package train is the one training API that the CLI and the browser both
// call: a Session fine-tunes a copy of a base model on a task with LoRA or
// full fine-tuning, step by step, and evaluates it; Sweep runs a Session per
// rank; Pretrainer trains a base model from scratch on the generated corpus.
// Callers drive the pace (Step(n) returns after n steps), so a browser worker
// can train in chunks and report between them.
package train

import (
	"fmt"
	"strings"
	"time"

	"golora/core/data"
	"golora/core/model"
	"golora/core/optim"
	"golora/core/peft"
	"golora/core/rng"
)

// Metrics is what a chunk of training steps reports.
type Metrics struct {
	Step         int     `json:"step"`         // optimizer steps taken so far
	Loss         float32 `json:"loss"`         // mean training loss over the chunk's steps
	LR           float32 `json:"lr"`           // learning rate of the chunk's last step
	GradNorm     float32 `json:"grad_norm"`    // global gradient norm of the last step, before clipping
	Tokens       int64   `json:"tokens"`       // tokens processed so far (B*T per step, padding included)
	TokensPerSec float64 `json:"tokens_per_s"` // over the chunk
	Elapsed      float64 `json:"elapsed_s"`    // seconds spent training so far (evaluation excluded)
}

// Sample is one test prompt with the expected and the generated completion.
type Sample struct {
	Prompt string `json:"prompt"`
	Want   string `json:"want"`
	Got    string `json:"got"`
}

// Eval is a validation loss and an exact-match test accuracy.
type Eval struct {
	Step     int      `json:"step"`
	ValLoss  float32  `json:"val_loss"`
	Accuracy float32  `json:"accuracy"` // fraction of test prompts whose greedy completion matches exactly
	Correct  int      `json:"correct"`
	Total    int      `json:"total"`
	Samples  []Sample `json:"samples"` // the first few test prompts
	Seconds  float64  `json:"seconds"`
}

// Info describes what a run trains and what that costs in memory.
type Info struct {
	Method string `json:"method"`
	MethodSettings
	TrainableParams int   `json:"trainable_params"`
	TotalParams     int   `json:"total_params"`    // base parameters
	TrainableBytes  int64 `json:"trainable_bytes"` // trainable weights + their gradients + AdamW's two moments
	FullBytes       int64 `json:"full_bytes"`      // the same for full fine-tuning of this base
	TrainExamples   int   `json:"train_examples"`
	ValExamples     int   `json:"val_examples"`
	TestExamples    int   `json:"test_examples"`

	// The token rows the run trains beside its adapters (counted in TrainableParams and TrainableBytes).
	TrainTokens string `json:"train_tokens,omitempty"` // Config.TrainTokens
	TokenIDs    []int  `json:"token_ids,omitempty"`    // the tokens whose rows train (ChooseTokens)
	TokenRows   int    `json:"token_rows,omitempty"`   // how many
}

// bytesPerTrainable: a float32 weight, its gradient, and AdamW's m and v.
const bytesPerTrainable = 4 * 4

// Session is one fine-tuning run on its own copy of the base model.
type Session struct {
	cfg   Config
	model *model.Model
	tok   data.Tokenizer
	task  *data.Task

	train, val []data.Sequence
	batcher    *data.Batcher
	batches    int    // batches drawn from batcher: where a resumed run picks up (snapshot.go)
	cfgSum     uint64 // fingerprints of the settings and of the base's weights, so that a snapshot
	baseSum    uint64 // resumes only the run it was made from (snapshot.go)
	acts       *model.Acts
	loop       *loop

	start *model.Model // the base as given (never modified): what a stopped run is compared with (finite.go)

	pissaInit []float32   // a PiSSA run: its adapters' initial values, for exporting it as a plain LoRA on the base
	tokens    TokenChoice // the token rows the run trains (Config.TrainTokens)
}

// New prepares a run of cfg on a copy of base (base itself is never modified).
// tok must be the base's tokenizer. Every invalid setting is reported, by field.
func New(base *model.Model, tok data.Tokenizer, cfg Config) (*Session, error) {
	if base == nil || tok == nil {
		return nil, fmt.Errorf("train: a base model and its tokenizer are required")
	}
	if tok.VocabSize() != base.Config.VocabSize {
		return nil, fmt.Errorf("train: tokenizer %s has %d tokens but the model's vocabulary is %d",
			tok.Name(), tok.VocabSize(), base.Config.VocabSize)
	}
	if base.Merged() {
		return nil, fmt.Errorf("train: the base model's adapters are merged; load the adapter unmerged to continue training")
	}
	importedTokens := peft.TokensOf(base)
	if importedTokens != nil {
		// An imported adapter's token rows go on with it: its ids are the run's.
		if cfg.TrainTokens != "" && cfg.TrainTokens != TokensNone {
			return nil, &FieldError{Field: "train_tokens", Reason: fmt.Sprintf("the adapter carries the rows of %d tokens already", importedTokens.K)}
		}
		if cfg.Method != MethodFrozen { // evaluated as they are, else trained on
			cfg.TrainTokens = TokensIDs + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(importedTokens.IDs)), ","), "[]")
		}
	}
	if cfg.Method == MethodTokens && cfg.TrainTokens == "" {
		cfg.TrainTokens = TokensAuto // rows alone: the ones the base cannot tell apart or never produces
	}
	imported, err := importedMethod(base)
	if err != nil {
		return nil, err
	}
	if imported != nil { // an adapter read from files: continue training it, or evaluate it (frozen)
		if cfg, err = cfg.withImported(imported); err != nil {
			return nil, err
		}
	}
	if cfg.Init == "" {
		cfg.Init = string(peft.InitKaiming)
	}
	if err := cfg.Validate(base); err != nil {
		return nil, err
	}
	if err := checkWeights(base); err != nil {
		return nil, err
	}
	cfg.Shards = min(cfg.Shards, cfg.Batch) // a part has at least one row
	task, err := buildTask(cfg)
	if err != nil {
		return nil, &FieldError{Field: "task", Reason: err.Error()}
	}
	s := &Session{cfg: cfg, tok: tok, task: task, model: base.Clone(), start: base}
	if cfg.Method != MethodFrozen { // only a trained run is ever saved (Snapshot)
		if s.cfgSum, err = cfg.fingerprint(); err != nil {
			return nil, err
		}
		s.baseSum = weightsSum(base.Params.Data)
	}
	if imported != nil {
		if err := reattach(s.model, imported); err != nil {
			return nil, err
		}
	}
	if importedTokens != nil && imported == nil && cfg.Method != MethodTokens && cfg.Method != MethodFrozen {
		return nil, &FieldError{Field: "method", Reason: fmt.Sprintf("the base carries token rows alone: continue training "+
			"them with method %s, evaluate them with frozen, or merge them first", MethodTokens)}
	}
	if spec, _ := LookupMethod(cfg.Method); imported == nil && spec.attach != nil {
		meth, err := spec.attach(s.model, cfg, rng.New(cfg.Seed))
		if err != nil {
			return nil, &FieldError{Field: spec.sizeField(), Reason: err.Error()}
		}
		if cfg.Init == string(peft.InitPiSSA) && usesLoRA(cfg.Method) {
			s.pissaInit = append([]float32(nil), meth.Params()...)
		}
	}
	// The examples must fit the context the methods leave (a prefix takes l_p of its positions).
	ctx := s.model.Context()
	fit := func(err error) error {
		if ctx < base.Config.SeqLen {
			return &FieldError{Field: "task", Reason: fmt.Sprintf("%v (%d of the base's %d positions go to %s's prefix)",
				err, base.Config.SeqLen-ctx, base.Config.SeqLen, cfg.Method)}
		}
		return &FieldError{Field: "task", Reason: err.Error()}
	}
	if s.train, err = data.EncodeExamples(tok, task.Train, ctx, task.Name+" train"); err != nil {
		return nil, fit(err)
	}
	if s.val, err = data.EncodeExamples(tok, task.Val, ctx, task.Name+" validation"); err != nil {
		return nil, fit(err)
	}
	if _, err = data.EncodeExamples(tok, task.Test, ctx, task.Name+" test"); err != nil {
		return nil, fit(err)
	}
	s.batcher = data.NewBatcher(s.train, cfg.Batch, cfg.Seed)
	if err := s.addTokens(base, importedTokens); err != nil {
		return nil, err
	}
	var tr model.Trainable // a frozen run trains nothing, an imported adapter included
	if cfg.Method != MethodFrozen {
		tr = s.model.Trainable()
	}
	s.acts = s.model.NewActs(cfg.Batch, maxLen(s.train, s.val))
	s.acts.ScoredOnly = true // only the completion's positions are scored: skip the prompt's logits
	sched := optim.Schedule{Max: cfg.LR, Min: cfg.LR / 10, Warmup: cfg.Warmup, Total: cfg.Steps}
	s.loop = newLoop(s.model, s.acts, tr, sched, cfg.WeightDecay, cfg.Clip, cfg.Shards, cfg.Seed^0x5eed)
	if cfg.LRRatioB > 0 && tr.Len > 0 { // LoRA+
		s.loop.opt.ScaleLR(cfg.LRRatioB, loraPlusSpans(s.model, tr)...)
	}
	if span, ok := tokensSpan(s.model, tr); ok && cfg.TokensLR > 0 {
		s.loop.opt.ScaleLR(cfg.TokensLR/cfg.LR, span)
	}
	return s, nil
}

func maxLen(sets ...[]data.Sequence) int {
	n := 1
	for _, set := range sets {
		for _, s := range set {
			n = max(n, len(s.Tokens)-1)
		}
	}
	return n
}

func buildTask(cfg Config) (*data.Task, error) {
	if cfg.Task == "custom" {
		if cfg.CustomVal == nil && cfg.CustomTest == nil {
			tr, va, te := data.SplitExamples(cfg.Custom, cfg.TaskSeed)
			return data.NewTaskFromExamples("custom", tr, va, te)
		}
		return data.NewTaskFromExamples("custom", cfg.Custom, cfg.CustomVal, cfg.CustomTest)
	}
	tc, err := data.DefaultTaskConfig(cfg.Task)
	if err != nil {
		return nil, err
	}
	tc.Seed = cfg.TaskSeed
	if cfg.Difficulty > 0 {
		tc.Difficulty = cfg.Difficulty
	}
	if cfg.Facts > 0 {
		tc.Facts = cfg.Facts
		tc.Train, tc.Val, tc.Test = 2*cfg.Facts, cfg.Facts, cfg.Facts
	}
	return data.NewTask(tc)
}

// nextBatch draws the next training batch into b.
func (s *Session) nextBatch(b *data.Batch) {
	s.batches++
	s.batcher.Next(b)
}

// Config returns the run's settings.
func (s *Session) Config() Config { return s.cfg }

// Model is the run's model (the base copy with its adapters).
func (s *Session) Model() *model.Model { return s.model }

// Task is the run's task with its three splits.
func (s *Session) Task() *data.Task { return s.task }

// Tokenizer is the base model's tokenizer.
func (s *Session) Tokenizer() data.Tokenizer { return s.tok }

// Metrics is the run's counters so far: step, tokens and seconds of training.
func (s *Session) Metrics() Metrics { return s.loop.metrics() }

// StepsDone is the number of optimizer steps taken.
func (s *Session) StepsDone() int { return s.loop.step }

// Done reports whether the configured number of steps has been taken.
func (s *Session) Done() bool { return s.cfg.Method == MethodFrozen || s.loop.step >= s.cfg.Steps }

// Info describes the run's trainable parameters and their memory.
func (s *Session) Info() Info {
	n := s.model.NumParams()
	trained := s.loop.opt.Len()
	return Info{Method: s.cfg.Method, MethodSettings: s.cfg.settings(), TotalParams: n, TrainableParams: trained,
		TrainableBytes: int64(trained) * bytesPerTrainable, FullBytes: int64(n) * bytesPerTrainable,
		TrainExamples: len(s.task.Train), ValExamples: len(s.task.Val), TestExamples: len(s.task.Test),
		TrainTokens: s.cfg.TrainTokens, TokenIDs: s.tokens.IDs, TokenRows: len(s.tokens.IDs)}
}

// Examples returns up to n examples of a split ("train", "val" or "test").
func (s *Session) Examples(split string, n int) []data.Example {
	var ex []data.Example
	switch split {
	case "train":
		ex = s.task.Train
	case "val":
		ex = s.task.Val
	case "test":
		ex = s.task.Test
	}
	return ex[:min(n, len(ex))]
}

// Step takes up to n optimizer steps (fewer if the run reaches its configured
// Steps) and reports them. A NaN or infinite loss or gradient stops the run
// with an error before the update, so the weights stay at the last good step.
func (s *Session) Step(n int) (Metrics, error) {
	if s.cfg.Method == MethodFrozen {
		return s.loop.metrics(), fmt.Errorf("train: a frozen run has nothing to train")
	}
	if s.model.Merged() {
		if err := s.model.Unmerge(); err != nil {
			return Metrics{}, err
		}
	}
	s.acts.Dropout = s.cfg.Dropout
	defer func() { s.acts.Dropout = 0 }()
	m, err := s.loop.run(min(n, s.cfg.Steps-s.loop.step), s.nextBatch)
	return m, s.explain(err)
}

// StepBatch takes one optimizer step on the given batch (benchmarks use it
// to time identical work for LoRA and full fine-tuning).
func (s *Session) StepBatch(b *data.Batch) (float32, error) {
	if s.cfg.Method == MethodFrozen {
		return 0, fmt.Errorf("train: a frozen run has nothing to train")
	}
	if b.T > s.acts.MaxT || b.B > s.acts.MaxB {
		return 0, fmt.Errorf("train: batch (%d, %d) larger than the session's (%d, %d)", b.B, b.T, s.acts.MaxB, s.acts.MaxT)
	}
	s.loop.drawn = false
	loss, _, _, _, err := s.loop.update(b)
	return loss, err
}

// NextBatch returns the session's next training batch (advancing its order).
func (s *Session) NextBatch() data.Batch {
	var b data.Batch
	s.nextBatch(&b)
	return b
}

// ValLoss is the mean loss over the validation split (target tokens only).
func (s *Session) ValLoss() float32 {
	var num, den float64
	for i := range s.valBatches() {
		n, c := s.valBatch(i)
		num += n
		den += c
	}
	if den == 0 {
		return 0
	}
	return float32(num / den)
}

// valBatches is the number of validation batches (of cfg.Batch sequences).
func (s *Session) valBatches() int { return (len(s.val) + s.cfg.Batch - 1) / s.cfg.Batch }

// valBatch returns validation batch i's summed loss (mean times count) and its count of predicted tokens.
func (s *Session) valBatch(i int) (num, count float64) {
	b := s.cfg.Batch
	chunk := s.val[i*b : min((i+1)*b, len(s.val))]
	var bt data.Batch
	data.FillBatch(&bt, chunk)
	N := bt.B * bt.T
	loss := s.model.Forward(s.acts, bt.Inputs[:N], bt.Targets[:N], bt.Mask[:N], bt.B, bt.T)
	cnt := float64(bt.Count())
	return float64(loss) * cnt, cnt
}

// Evaluate computes the validation loss and the exact-match accuracy of greedy
// decoding on the test split (the first EvalLimit examples when set).
func (s *Session) Evaluate() (Eval, error) {
	start := time.Now()
	p, err := s.EvaluatePart(0, 1)
	if err != nil {
		return Eval{}, err
	}
	ev, err := s.MergeEval([]EvalPart{p})
	ev.Seconds = time.Since(start).Seconds()
	return ev, err
}

// EvalPart is one of Parts slices of an evaluation, so that several workers
// holding identical sessions can share it: the greedy completions of test
// prompts [Part*n/Parts, (Part+1)*n/Parts) and the validation batches whose
// index is Part modulo Parts. MergeEval turns the parts into exactly the
// Eval that Evaluate returns (a row's greedy decoding does not depend on the
// rows decoded beside it, and the validation sums are added in batch order).
type EvalPart struct {
	Step     int       `json:"step"`
	Part     int       `json:"part"`
	Parts    int       `json:"parts"`
	Got      []string  `json:"got"`
	ValNum   []float64 `json:"val_num"`   // per validation batch of the part: summed loss
	ValCount []float64 `json:"val_count"` // and predicted tokens
}

// testSet is the test examples an evaluation decodes (the first EvalLimit when set).
func (s *Session) testSet() []data.Example {
	test := s.task.Test
	if s.cfg.EvalLimit > 0 {
		test = test[:min(s.cfg.EvalLimit, len(test))]
	}
	return test
}

// EvaluatePart computes part `part` of `parts` of an evaluation (see EvalPart).
func (s *Session) EvaluatePart(part, parts int) (EvalPart, error) {
	if parts < 1 || part < 0 || part >= parts {
		return EvalPart{}, fmt.Errorf("train: evaluation part %d of %d", part, parts)
	}
	test := s.testSet()
	lo, hi := part*len(test)/parts, (part+1)*len(test)/parts
	prompts := make([]string, hi-lo)
	for i, e := range test[lo:hi] {
		prompts[i] = e.Prompt
	}
	// Rows past the displayed samples stop as soon as they can no longer match.
	wants := make([]string, hi-lo)
	for i, e := range test[lo:hi] {
		if lo+i >= evalSamples {
			wants[i] = e.Completion
		}
	}
	got, err := s.complete(prompts, wants)
	if err != nil {
		return EvalPart{}, err
	}
	p := EvalPart{Step: s.loop.step, Part: part, Parts: parts, Got: got}
	for i := part; i < s.valBatches(); i += parts {
		n, c := s.valBatch(i)
		p.ValNum = append(p.ValNum, n)
		p.ValCount = append(p.ValCount, c)
	}
	return p, nil
}

// MergeEval assembles the parts of one evaluation (one of each part, any order) into its Eval.
func (s *Session) MergeEval(parts []EvalPart) (Eval, error) {
	if len(parts) == 0 {
		return Eval{}, fmt.Errorf("train: no evaluation parts to merge")
	}
	n := len(parts)
	byPart := make([]*EvalPart, n)
	for i := range parts {
		p := &parts[i]
		if p.Parts != n || p.Part < 0 || p.Part >= n || byPart[p.Part] != nil {
			return Eval{}, fmt.Errorf("train: evaluation part %d of %d does not fit %d parts", p.Part, p.Parts, n)
		}
		if p.Step != parts[0].Step {
			return Eval{}, fmt.Errorf("train: evaluation parts from steps %d and %d", parts[0].Step, p.Step)
		}
		byPart[p.Part] = p
	}
	test := s.testSet()
	ev := Eval{Step: parts[0].Step, Total: len(test)}
	for k, p := range byPart {
		lo, hi := k*len(test)/n, (k+1)*len(test)/n
		if len(p.Got) != hi-lo {
			return Eval{}, fmt.Errorf("train: evaluation part %d has %d completions, want %d", k, len(p.Got), hi-lo)
		}
		for i, got := range p.Got {
			e := test[lo+i]
			if data.ExactMatch(got, e.Completion) {
				ev.Correct++
			}
			if lo+i < evalSamples {
				ev.Samples = append(ev.Samples, Sample{Prompt: e.Prompt, Want: e.Completion, Got: got})
			}
		}
	}
	var num, den float64
	for i := range s.valBatches() {
		p := byPart[i%n]
		j := i / n
		if j >= len(p.ValNum) || j >= len(p.ValCount) {
			return Eval{}, fmt.Errorf("train: evaluation part %d lacks validation batch %d", i%n, i)
		}
		num += p.ValNum[j]
		den += p.ValCount[j]
	}
	if den > 0 {
		ev.ValLoss = float32(num / den)
	}
	if ev.Total > 0 {
		ev.Accuracy = float32(ev.Correct) / float32(ev.Total)
	}
	return ev, nil
}

// decodeRows is how many prompts greedy decoding runs side by side.
const decodeRows = 32

// evalSamples is how many test prompts (the first) an evaluation reports with their completions.
const evalSamples = 4

// Complete greedily decodes a completion for each prompt (until End or the
// context is full), in batches of side-by-side rows.
func (s *Session) Complete(prompts []string) ([]string, error) {
	return s.complete(prompts, nil)
}

// complete is Complete, except that a row r with a non-empty wants[r] stops
// as soon as its text is no longer a prefix of wants[r]: an exact match is
// then impossible (Decode of more tokens only appends to the text, see
// data.Tokenizer), so the rest of its decoding would be wasted. Its result
// is then the text so far, still not a match.
func (s *Session) complete(prompts, wants []string) ([]string, error) {
	out := make([]string, len(prompts))
	end, ctx := s.tok.End(), s.model.Context()
	var d *model.Decoder
	// Batches of near-equal size (never a last batch of a few rows that costs a full decode).
	batches := max(1, (len(prompts)+decodeRows-1)/decodeRows)
	per := (len(prompts) + batches - 1) / batches
	for lo := 0; lo < len(prompts); lo += per {
		hi := min(lo+per, len(prompts))
		rows := hi - lo
		if d == nil || d.Rows() != rows {
			d = s.model.NewDecoder(rows)
		}
		d.Reset()
		enc := make([][]int, rows)
		gen := make([][]int, rows)
		done := make([]bool, rows)
		longest := 0
		for r := range rows {
			enc[r] = data.EncodePrompt(s.tok, prompts[lo+r])
			if len(enc[r]) >= ctx {
				return nil, fmt.Errorf("train: prompt %d is %d tokens, the context is %d", lo+r, len(enc[r]), ctx)
			}
			longest = max(longest, len(enc[r]))
		}
		// Every row's prompt but the last token of the shortest goes in at once.
		shortest := ctx
		for _, e := range enc {
			shortest = min(shortest, len(e))
		}
		pre := shortest - 1
		known := make([]int, 0, rows*pre)
		for _, e := range enc {
			known = append(known, e[:pre]...)
		}
		if err := d.Prefill(known, pre); err != nil {
			return nil, err
		}
		feed := make([]int, rows)
		V := s.model.Config.VocabSize
		for pos := pre; pos < ctx; pos++ {
			all := true
			for r := range rows {
				switch {
				case pos < len(enc[r]):
					feed[r] = enc[r][pos]
				case len(gen[r]) > 0:
					feed[r] = gen[r][len(gen[r])-1]
				}
				if !done[r] {
					all = false
				}
			}
			if all && pos >= longest {
				break
			}
			logits, err := d.Next(feed...)
			if err != nil {
				return nil, err
			}
			for r := range rows {
				if done[r] || pos+1 < len(enc[r]) {
					continue
				}
				next := model.Argmax(logits[r*V : (r+1)*V])
				if next == end {
					done[r] = true
					continue
				}
				gen[r] = append(gen[r], next)
				if wants != nil && wants[lo+r] != "" && !strings.HasPrefix(wants[lo+r], s.tok.Decode(gen[r])) {
					done[r] = true
				}
			}
		}
		for r := range rows {
			out[lo+r] = s.tok.Decode(gen[r])
		}
	}
	return out, nil
}

// Generate continues prompt with up to maxTokens tokens, greedily when
// temperature is 0, else by sampling (top-p 0.9) from a generator seeded with seed.
func (s *Session) Generate(prompt string, maxTokens int, temperature float32, seed uint64) (string, error) {
	if maxTokens < 1 {
		return "", fmt.Errorf("train: maxTokens must be positive, got %d", maxTokens)
	}
	ids := data.EncodePrompt(s.tok, prompt)
	if len(ids) >= s.model.Context() {
		return "", fmt.Errorf("train: the prompt is %d tokens, the context is %d", len(ids), s.model.Context())
	}
	sampler := model.Sampler{Temperature: temperature, TopP: 0.9, RNG: rng.New(seed)}
	out, err := s.model.Generate(s.model.NewDecoder(1), ids, maxTokens, []int{s.tok.End()}, sampler)
	if err != nil {
		return "", err
	}
	if n := len(out); n > 0 && out[n-1] == s.tok.End() {
		out = out[:n-1]
	}
	return s.tok.Decode(out), nil
}

// Merge folds the adapters into the base weights and returns the largest
// |logit| difference between the merged and the unmerged model on a
// validation batch. Training after Merge unmerges first.
func (s *Session) Merge() (float32, error) {
	if len(s.model.Methods()) == 0 {
		return 0, fmt.Errorf("train: a %s run has no method attached to merge", s.cfg.Method)
	}
	if s.model.Merged() {
		return 0, fmt.Errorf("train: the adapters are already merged")
	}
	for _, meth := range s.model.Methods() {
		if _, ok := meth.(model.Merger); !ok {
			return 0, fmt.Errorf("train: %s cannot be merged: %s", meth.Name(), MergeWhyNot(meth.Name()))
		}
	}
	var bt data.Batch
	data.FillBatch(&bt, s.val[:min(len(s.val), s.cfg.Batch)])
	n := bt.B * bt.T * s.model.Config.VocabSize
	// Unmerged as the paper writes it: each adapter beside its frozen weight
	// (training computes with the fused weight, which has the merged bits).
	s.acts.SideAdapters = true
	s.model.Forward(s.acts, bt.Inputs[:bt.B*bt.T], nil, nil, bt.B, bt.T)
	s.acts.SideAdapters = false
	before := append([]float32(nil), s.acts.Logits[:n]...)
	if err := s.model.Merge(); err != nil {
		return 0, err
	}
	s.model.Forward(s.acts, bt.Inputs[:bt.B*bt.T], nil, nil, bt.B, bt.T)
	var worst float32
	for i, v := range before {
		d := v - s.acts.Logits[i]
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
	}
	return worst, nil
}

// TargetsString is the run's targets as "q,v" (empty for full fine-tuning).
func (i Info) TargetsString() string { return strings.Join(i.Targets, ",") }

// Shard is one part of a training step (see Config.Shards): its share of the
// step's loss and its gradient over the trainable parameters.
type Shard struct {
	Part int
	Loss float64
	Grad []float32 // the session's buffer: valid until the step is applied
}

// ComputeShard computes part `part` of the next step (drawing the step's
// batch first if no part of it was computed yet). Sessions made from the same
// base and Config draw the same batches and hold the same weights, so the
// page's workers each compute one part, exchange them (PutShard) and apply
// the same step (ApplyShards).
func (s *Session) ComputeShard(part int) (Shard, error) {
	if err := s.checkTrainable(); err != nil {
		return Shard{}, err
	}
	l := s.loop
	if part < 0 || part >= l.shards {
		return Shard{}, fmt.Errorf("train: part %d of a step in %d parts", part, l.shards)
	}
	if !l.drawn {
		s.nextBatch(&l.batch)
		l.begin(&l.batch)
	}
	s.acts.Dropout = s.cfg.Dropout
	defer func() { s.acts.Dropout = 0 }()
	if err := l.compute(part); err != nil {
		return Shard{}, s.explain(err)
	}
	g := l.grad
	if l.shards > 1 {
		g = l.partGrad[part]
	}
	return Shard{Part: part, Loss: l.partLoss[part], Grad: g}, nil
}

// PutShard hands the session a part of the current step computed by another
// session (its loss and gradient are copied).
func (s *Session) PutShard(sh Shard) error {
	if err := s.checkTrainable(); err != nil {
		return err
	}
	return s.loop.put(sh.Part, sh.Loss, sh.Grad)
}

// ApplyShards takes the step whose parts were all computed or put: the
// gradients added in part order, clipped, and the AdamW update. The metrics
// cover that one step (TokensPerSec from the first part's start).
func (s *Session) ApplyShards() (Metrics, error) {
	if err := s.checkTrainable(); err != nil {
		return Metrics{}, err
	}
	l := s.loop
	start := l.stepStart
	loss, gnorm, lr, positions, err := l.apply()
	if err != nil {
		return l.metrics(), s.explain(err)
	}
	dt := time.Since(start)
	l.elapsed += dt
	l.tokens += int64(positions)
	m := l.metrics()
	m.Loss, m.LR, m.GradNorm = loss, lr, float32(gnorm)
	if secs := dt.Seconds(); secs > 0 {
		m.TokensPerSec = float64(positions) / secs
	}
	return m, nil
}

// checkTrainable refuses training calls on a frozen, finished or merged run
// (a merged model is unmerged first, as Step does).
func (s *Session) checkTrainable() error {
	if s.cfg.Method == MethodFrozen {
		return fmt.Errorf("train: a frozen run has nothing to train")
	}
	if s.loop.step >= s.cfg.Steps {
		return fmt.Errorf("train: the run has taken all its %d steps", s.cfg.Steps)
	}
	if s.model.Merged() {
		return s.model.Unmerge()
	}
	return nil
}
