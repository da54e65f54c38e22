// Pretrainer: trains a base model from scratch on the pretraining corpus (data.BuildCorpus).
package train

import (
	"fmt"
	"slices"
	"strings"

	"golora/core/data"
	"golora/core/model"
	"golora/core/optim"
	"golora/core/peft"
	"golora/core/rng"
)

// PretrainConfig is the recipe of a base model.
type PretrainConfig struct {
	Model       model.Config
	Name        string  // the model's name, recorded in its checkpoint
	World       int     // small-world sentences generated from CorpusSeed (data.Corpus)
	Formats     int     // format lines generated from CorpusSeed (data.Formats)
	Exercises   int     `json:",omitempty"` // exercise lines generated from CorpusSeed (data.Exercises)
	ProseRepeat int     // times each prose passage is used (0 = no prose)
	ValFraction float32 // held-out share of each part of the corpus for the validation loss
	CorpusSeed  uint64
	// Prose is the text of the prose passages (data.ReadFortunes), given by
	// the caller; only ProseSource, which says where it came from, is recorded.
	Prose       []string `json:"-"`
	ProseSource string   `json:",omitempty"`
	Steps       int
	Batch       int // windows per step
	SeqLen      int // window length (<= Model.SeqLen)
	LR          float32
	Warmup      int
	WeightDecay float32
	Clip        float32
	Seed        uint64 // weight init and window order
	Init        string `json:",omitempty"` // checkpoint training continued from ("": fresh weights from Seed)
	// CopyMix is the share of training lines that are copying drills
	// (data.CopyDrills, shaped by Drills) instead of corpus sentences; 0 = none,
	// 1 = drills only. The validation loss stays on corpus sentences.
	CopyMix float32 `json:",omitempty"`
	Drills  data.DrillConfig
	MinLR   float32 `json:",omitempty"` // the cosine schedule's floor (0 = LR/10; LR = a constant rate after warmup)
}

// DefaultPretrainConfig is the recipe of the shipped base (models/README.md).
func DefaultPretrainConfig() PretrainConfig {
	return PretrainConfig{
		Model:       model.DefaultConfig(),
		Name:        "golora-base",
		World:       90000,  // ~6.7M bytes of the small world: the e2e and cipher vocabulary, and copying exercises
		Formats:     110000, // ~8.6M bytes: numbers, dates, records, CSV/JSON, titles, arithmetic, code
		Exercises:   160000, // ~10.6M bytes: prompts and the answers computed from them (the last stage; models/README.md)
		ProseRepeat: 2,      // the fortunes' 2.3M bytes twice: about a quarter of the corpus is real English
		ValFraction: 0.01,
		CorpusSeed:  1,
		Steps:       3000,
		Batch:       32,
		SeqLen:      128,
		LR:          3e-3, // small models tolerate a high peak rate
		Warmup:      100,
		WeightDecay: 0.1,
		Clip:        1,
		Seed:        1,
	}
}

// Pretrainer owns a model being trained from scratch.
type Pretrainer struct {
	cfg      PretrainConfig
	model    *model.Model
	batcher  *data.StreamBatcher
	corpus   *data.CorpusText
	val      []int                // held-out token stream, every part mixed
	valParts [data.NumParts][]int // each part's held-out stream
	acts     *model.Acts
	loop     *loop
}

// NewPretrainer builds the corpus, the model (freshly initialised) and the optimizer.
func NewPretrainer(cfg PretrainConfig, tok data.Tokenizer) (*Pretrainer, error) {
	return NewPretrainerFrom(cfg, tok, nil)
}

// NewPretrainerFrom is NewPretrainer continuing from the weights of init
// (copied; its config must be cfg.Model), or from fresh weights when init is nil.
// The optimizer state starts afresh, with its own warmup.
func NewPretrainerFrom(cfg PretrainConfig, tok data.Tokenizer, init *model.Model) (*Pretrainer, error) {
	if init != nil && init.Config != cfg.Model {
		return nil, fmt.Errorf("pretrain: the initial model's config %+v differs from the recipe's %+v", init.Config, cfg.Model)
	}
	if err := cfg.Model.Validate(); err != nil {
		return nil, err
	}
	if tok.VocabSize() != cfg.Model.VocabSize {
		return nil, fmt.Errorf("pretrain: tokenizer has %d tokens, model vocabulary %d", tok.VocabSize(), cfg.Model.VocabSize)
	}
	switch {
	case cfg.SeqLen < 2 || cfg.SeqLen > cfg.Model.SeqLen:
		return nil, fmt.Errorf("pretrain: seq_len must be 2..%d, got %d", cfg.Model.SeqLen, cfg.SeqLen)
	case cfg.Batch < 1:
		return nil, fmt.Errorf("pretrain: batch must be positive, got %d", cfg.Batch)
	case cfg.Steps < 1:
		return nil, fmt.Errorf("pretrain: steps must be positive, got %d", cfg.Steps)
	case !finite(cfg.LR) || cfg.LR <= 0:
		return nil, fmt.Errorf("pretrain: lr must be positive, got %g", cfg.LR)
	case !finite(cfg.MinLR) || cfg.MinLR < 0 || cfg.MinLR > cfg.LR:
		return nil, fmt.Errorf("pretrain: min lr must be in [0, lr], got %g", cfg.MinLR)
	case !(cfg.CopyMix >= 0 && cfg.CopyMix <= 1):
		return nil, fmt.Errorf("pretrain: copy mix must be in [0, 1], got %g", cfg.CopyMix)
	case cfg.CopyMix > 0 && (cfg.Drills.MaxAlphabet < 2 || cfg.Drills.MaxAlphabet > 26 || cfg.Drills.MaxPeriod < 6 ||
		!(cfg.Drills.Periodic >= 0 && cfg.Drills.Periodic <= 1) || !(cfg.Drills.Mixed >= 0 && cfg.Drills.Mixed <= 1)):
		return nil, fmt.Errorf("pretrain: drills need an alphabet of 2..26 letters, a period >= 6, and periodic and mixed shares in [0, 1], got %+v", cfg.Drills)
	}
	m, err := model.New(cfg.Name, cfg.Model)
	if err != nil {
		return nil, err
	}
	if init != nil {
		copy(m.Params.Data, init.Params.Data)
	} else {
		m.Init(rng.New(cfg.Seed))
	}
	corpus, err := data.BuildCorpus(cfg.CorpusConfig(), cfg.Prose)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	p := &Pretrainer{cfg: cfg, model: m, corpus: corpus}
	for i, v := range corpus.Val {
		p.valParts[i] = data.EncodeStream(tok, v)
	}
	p.val = data.EncodeStream(tok, data.Mix(cfg.CorpusSeed, corpus.Val[:]...))
	lines := corpus.Train
	if cfg.CopyMix > 0 {
		nd := len(lines)
		if cfg.CopyMix < 1 {
			nd = int(float32(len(lines)) * cfg.CopyMix / (1 - cfg.CopyMix))
		}
		drills := data.CopyDrills(cfg.CorpusSeed, nd, cfg.Drills)
		if cfg.CopyMix == 1 {
			lines = drills
		} else {
			lines = data.Interleave(lines, drills, cfg.CopyMix, cfg.CorpusSeed)
		}
	}
	train := data.EncodeStream(tok, lines)
	if len(p.val) < cfg.SeqLen+1 {
		return nil, fmt.Errorf("pretrain: validation stream of %d tokens is shorter than a window", len(p.val))
	}
	p.batcher = data.NewStreamBatcher(train, cfg.Batch, cfg.SeqLen, cfg.Seed)
	p.acts = m.NewActs(cfg.Batch, cfg.SeqLen)
	if err := m.Attach(peft.Full{}); err != nil {
		return nil, err
	}
	minLR := cfg.MinLR
	if minLR == 0 {
		minLR = cfg.LR / 10
	}
	sched := optim.Schedule{Max: cfg.LR, Min: minLR, Warmup: cfg.Warmup, Total: cfg.Steps}
	p.loop = newLoop(m, p.acts, m.Trainable(), sched, cfg.WeightDecay, cfg.Clip, pretrainParts, cfg.Seed^0x5eed)
	return p, nil
}

// CorpusConfig is the corpus part of the recipe.
func (c PretrainConfig) CorpusConfig() data.CorpusConfig {
	return data.CorpusConfig{Seed: c.CorpusSeed, World: c.World, Formats: c.Formats, Exercises: c.Exercises, ProseRepeat: c.ProseRepeat, ValFraction: c.ValFraction}
}

// Corpus is the corpus being trained on (without the copying drills).
func (p *Pretrainer) Corpus() *data.CorpusText { return p.corpus }

// Model is the model being trained.
func (p *Pretrainer) Model() *model.Model { return p.model }

// StepsDone is the number of optimizer steps taken.
func (p *Pretrainer) StepsDone() int { return p.loop.step }

// Step takes up to n steps (stopping at the configured total).
func (p *Pretrainer) Step(n int) (Metrics, error) {
	return p.loop.run(min(n, p.cfg.Steps-p.loop.step), p.batcher.Next)
}

// ValLoss is the mean loss over consecutive windows of the held-out stream (up to maxWindows).
func (p *Pretrainer) ValLoss(maxWindows int) float32 { return p.streamLoss(p.val, maxWindows) }

// ValLossParts is ValLoss on each part's held-out stream alone (world,
// formats, prose, exercises; 0 for a part without one window of held-out text).
func (p *Pretrainer) ValLossParts(maxWindows int) [data.NumParts]float32 {
	var out [data.NumParts]float32
	for i, v := range p.valParts {
		out[i] = p.streamLoss(v, maxWindows)
	}
	return out
}

func (p *Pretrainer) streamLoss(val []int, maxWindows int) float32 {
	T, B := p.cfg.SeqLen, p.cfg.Batch
	var num float64
	var cnt int
	inputs := make([]int, B*T)
	targets := make([]int, B*T)
	for start := 0; start+T+1 <= len(val) && cnt < maxWindows; {
		rows := 0
		for rows < B && start+T+1 <= len(val) && cnt+rows < maxWindows {
			copy(inputs[rows*T:], val[start:start+T])
			copy(targets[rows*T:], val[start+1:start+T+1])
			rows++
			start += T
		}
		loss := p.model.Forward(p.acts, inputs[:rows*T], targets[:rows*T], nil, rows, T)
		num += float64(loss) * float64(rows)
		cnt += rows
	}
	if cnt == 0 {
		return 0
	}
	return float32(num / float64(cnt))
}

// TokensSeen is the number of training tokens processed.
func (p *Pretrainer) TokensSeen() int64 { return p.loop.tokens }

// CopyAccuracy is the share of n held-out code lists ("the codes are qxv
// lmot. once more, the codes are ...") that the model repeats exactly by
// greedy decoding: whether it copies from its context, which data-to-text and
// the cipher need. The lists come from a seed no training run uses.
func (p *Pretrainer) CopyAccuracy(tok data.Tokenizer, n int) float32 {
	if n < 1 {
		return 0
	}
	return p.copyAccuracy(tok, data.CopyDrills(^uint64(0), n, data.DrillConfig{MaxAlphabet: 2, MaxPeriod: 6, Periodic: 0}))
}

// CopyAccuracyDigits is CopyAccuracy on lists of numbers ("the codes are 4821
// 0093. once more, the codes are ..."): whether the model copies what is not
// a lowercase letter, which people's data (numbers, codes, capitals) needs.
func (p *Pretrainer) CopyAccuracyDigits(tok data.Tokenizer, n int) float32 {
	if n < 1 {
		return 0
	}
	r := rng.New(^uint64(0) - 1)
	lines := make([]string, n)
	for i := range lines {
		codes := make([]string, 2+r.Intn(2))
		for j := range codes {
			b := make([]byte, 2+r.Intn(7))
			for k := range b {
				b[k] = byte('0' + r.Intn(10))
			}
			codes[j] = string(b)
		}
		list := strings.Join(codes, " ")
		lines[i] = "the codes are " + list + ". once more, the codes are " + list + "."
	}
	return p.copyAccuracy(tok, lines)
}

func (p *Pretrainer) copyAccuracy(tok data.Tokenizer, lines []string) float32 {
	d := p.model.NewDecoder(1)
	right := 0
	for _, s := range lines {
		cut := strings.LastIndex(s, "are ") + len("are ")
		prompt := append([]int{tok.BOS()}, tok.Encode(s[:cut])...)
		want := tok.Encode(s[cut:])
		got, err := p.model.Generate(d, prompt, len(want), nil, model.Sampler{})
		if err == nil && slices.Equal(got, want) {
			right++
		}
	}
	return float32(right) / float32(len(lines))
}

// pretrainParts is how many parts a pretraining step's batch is computed in
// (side by side natively, as fine-tuning does): on 2 cores, 2 parts run one
// per core with one synchronisation each instead of one per kernel.
const pretrainParts = 2
