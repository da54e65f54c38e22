// The training loop shared by fine-tuning and pretraining: forward, backward, clip, AdamW.
package train

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"golora/core/data"
	"golora/core/model"
	"golora/core/optim"
	"golora/core/par"
	"golora/core/rng"
)

// loop owns the optimizer state of one run and takes steps on batches it is handed.
//
// A step's batch is split into shards parts of consecutive rows, cut where
// the parts' padded sizes balance (splitRows). Each part's gradient is computed
// on its own, from zero, with the loss divided by the whole batch's count,
// and the parts' gradients are then added in part order.
// So a part can be computed anywhere (this process, or another Web Worker
// holding an identical session, see Session.ComputeShard) and the step's
// numbers stay the same bits.
type loop struct {
	model       *model.Model
	acts        *model.Acts
	params      [][]float32   // what the optimizer updates: the model's Trainable vector, in parts
	grad        []float32     // its gradient, flat
	grads       *model.Params // views of grad over the base weights that train; nil: none does
	methodGrads []float32     // the tail of grad that the methods' own gradients fill
	opt         *optim.AdamW
	sched       optim.Schedule
	clip        float32
	batch       data.Batch

	shards    int
	dropSeed  uint64          // each (step, part) draws its dropout masks from its own stream
	part      data.Batch      // the rows of the part being computed
	partGrad  [][]float32     // shards > 1: each part's gradient
	partGrads []*model.Params // shards > 1: views over partGrad, as grads over grad
	partMeth  [][]float32     // shards > 1: as methodGrads
	side      []sidePart      // parts computed side by side (made on first use)
	partLoss  []float64       // each part's share of the step's loss
	partDone  []bool
	partT     []int // each part's row count x T: positions computed
	bounds    []int // part s is rows [bounds[s], bounds[s+1]) of batch
	rowLens   []int // positions each row of batch needs (data.Batch.RowLen)
	den       float64
	drawn     bool // batch holds the current step's batch
	stepStart time.Time

	step    int
	tokens  int64
	elapsed time.Duration
}

// newLoop trains tr, what the methods attached to m train (m.Trainable()).
// Weight decay skips the RMSNorm gains among them (nanoGPT's grouping).
func newLoop(m *model.Model, acts *model.Acts, tr model.Trainable,
	sched optim.Schedule, weightDecay, clip float32, shards int, dropSeed uint64) *loop {
	l := &loop{model: m, acts: acts, params: tr.Params, grad: make([]float32, tr.Len),
		opt: optim.NewAdamW(tr.Len, weightDecay), sched: sched, clip: clip,
		shards: shards, dropSeed: dropSeed,
		partLoss: make([]float64, shards), partDone: make([]bool, shards), partT: make([]int, shards),
		bounds: make([]int, shards+1)}
	l.grads, l.methodGrads = tr.BindGrads(m.Config, l.grad)
	if len(tr.NoDecay) > 0 {
		l.opt.SkipDecay(tr.NoDecay...)
	}
	if shards > 1 {
		l.partGrad = make([][]float32, shards)
		l.partGrads = make([]*model.Params, shards)
		l.partMeth = make([][]float32, shards)
		for i := range l.partGrad {
			l.partGrad[i] = make([]float32, tr.Len)
			l.partGrads[i], l.partMeth[i] = tr.BindGrads(m.Config, l.partGrad[i])
		}
	}
	if acts.RNG == nil {
		acts.RNG = rng.New(dropSeed)
	}
	return l
}

func (l *loop) metrics() Metrics {
	return Metrics{Step: l.step, Tokens: l.tokens, Elapsed: l.elapsed.Seconds()}
}

// run takes n steps on batches from next. A non-finite loss or gradient
// returns an error before the update: the weights stay those of the last good step.
func (l *loop) run(n int, next func(*data.Batch)) (Metrics, error) {
	start := time.Now()
	var lossSum float64
	var tokens int64
	m := l.metrics()
	defer func() {
		dt := time.Since(start)
		l.elapsed += dt
		l.tokens += tokens
	}()
	for i := range n {
		if !l.drawn {
			next(&l.batch)
		}
		loss, gnorm, lr, positions, err := l.update(&l.batch)
		if err != nil {
			return l.metrics(), err
		}
		lossSum += float64(loss)
		tokens += int64(positions)
		m.LR, m.GradNorm = lr, float32(gnorm)
		m.Loss = float32(lossSum / float64(i+1))
	}
	dt := time.Since(start)
	m.Step = l.step
	m.Tokens = l.tokens + tokens
	m.Elapsed = (l.elapsed + dt).Seconds()
	if secs := dt.Seconds(); secs > 0 {
		m.TokensPerSec = float64(tokens) / secs
	}
	return m, nil
}

// update takes one optimizer step on b: every part's forward and backward,
// then clip and AdamW. positions counts the token positions computed.
func (l *loop) update(b *data.Batch) (loss float32, gnorm float64, lr float32, positions int, err error) {
	l.begin(b)
	var todo []int
	for s := range l.shards {
		if !l.partDone[s] {
			todo = append(todo, s)
		}
	}
	if len(todo) > 1 && runtime.GOMAXPROCS(0) > 1 {
		err = l.computeSideBySide(todo)
	} else {
		for _, s := range todo {
			if err = l.compute(s); err != nil {
				break
			}
		}
	}
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return l.apply()
}

// sidePart is what a part computed beside the others needs of its own.
type sidePart struct {
	acts *model.Acts
	rows data.Batch
}

// computeSideBySide computes the parts todo at the same time, one goroutine
// each, every kernel keeping to its share of the cores (par.Limit): one
// synchronisation per part instead of one per product. The numbers are
// those of computing the parts one after the other, since no kernel's
// result depends on how many goroutines it uses.
func (l *loop) computeSideBySide(todo []int) error {
	if l.side == nil {
		l.side = make([]sidePart, l.shards)
		for s := range l.side {
			a := l.acts
			if s > 0 {
				a = l.model.NewActs(l.acts.MaxB, l.acts.MaxT)
				a.ScoredOnly = l.acts.ScoredOnly
				a.RNG = rng.New(l.dropSeed)
			}
			l.side[s].acts = a
		}
	}
	defer par.Limit(max(1, runtime.GOMAXPROCS(0)/len(todo)))()
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, s := range todo {
		sp := &l.side[s]
		sp.acts.Dropout = l.acts.Dropout
		wg.Go(func() { errs[i] = l.computeWith(s, sp.acts, &sp.rows) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			l.drawn = false // the step is abandoned: the next call draws a fresh batch
			return err
		}
	}
	return nil
}

// begin makes b the current step's batch (when it is not already).
func (l *loop) begin(b *data.Batch) {
	if b != &l.batch {
		b.Rows(0, b.B, &l.batch) // a copy: Rows drops nothing a row predicts
	}
	if !l.drawn {
		l.den = float64(l.batch.Count())
		if l.shards > 1 {
			l.rowLens = l.rowLens[:0]
			for r := range l.batch.B {
				l.rowLens = append(l.rowLens, l.batch.RowLen(r))
			}
			splitRows(l.bounds, l.rowLens)
		}
		clear(l.partDone)
		l.stepStart = time.Now()
	}
	l.drawn = true
}

// partRows is the row range of part s of the current batch.
func (l *loop) partRows(s int) (int, int) { return l.bounds[s], l.bounds[s+1] }

// splitRows sets bounds (len k+1) to the split of rows of lengths lens into
// k non-empty parts of consecutive rows that makes the largest part
// smallest, a part's size being its rows times its longest row: the
// positions it computes, padding included. Parts computed side by side then
// take about the same time; on rows sorted by length (data.Batcher.Next)
// little goes to padding (about 10% on e2e, against 16% for unsorted halves).
func splitRows(bounds, lens []int) {
	k, n := len(bounds)-1, len(lens)
	// fits reports whether parts of at most c positions cover the rows, and
	// records the greedy split: each part as long as c and the rows left for
	// the parts after it allow.
	fits := func(c int) bool {
		a := 0
		for s := range k {
			bounds[s] = a
			if a >= n || lens[a] > c {
				return false
			}
			b, longest := a+1, lens[a]
			for b < n-(k-s-1) && (b+1-a)*max(longest, lens[b]) <= c {
				longest = max(longest, lens[b])
				b++
			}
			a = b
		}
		bounds[k] = a
		return a == n
	}
	lo, hi := 1, n*slices.Max(lens) // fits(hi) holds: no part can be larger
	for lo < hi {
		if mid := (lo + hi) / 2; fits(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	fits(lo)
}

// compute runs part s of the current batch forward and backward: its
// gradient ends in partGrad[s] (or in grad itself when there is one part).
func (l *loop) compute(s int) error {
	if err := l.computeWith(s, l.acts, &l.part); err != nil {
		l.drawn = false // the step is abandoned: the next call draws a fresh batch
		return err
	}
	return nil
}

// computeWith is compute on the given activations and row buffer. Parts
// computed side by side each have their own, and write only their own
// entries of the loop's per-part slices.
func (l *loop) computeWith(s int, acts *model.Acts, rows *data.Batch) error {
	in := &l.batch
	grad, grads := l.grad, l.grads
	acts.MethodGrads = l.methodGrads
	defer func() { acts.MethodGrads = nil }()
	if l.shards > 1 {
		r0, r1 := l.partRows(s)
		l.batch.Rows(r0, r1, rows)
		in = rows
		acts.LossDen = l.den
		defer func() { acts.LossDen = 0 }()
		grad, grads, acts.MethodGrads = l.partGrad[s], l.partGrads[s], l.partMeth[s]
	}
	if acts.Dropout > 0 {
		acts.RNG.Seed(l.dropSeed ^ (uint64(l.step)<<16 | uint64(s)))
	}
	N := in.B * in.T
	loss := l.model.Forward(acts, in.Inputs[:N], in.Targets[:N], in.Mask[:N], in.B, in.T)
	if !finite(loss) {
		return &StopError{Step: l.step + 1, What: "loss", Value: float64(loss)}
	}
	clear(grad)
	l.model.Backward(acts, grads)
	l.partLoss[s], l.partT[s], l.partDone[s] = float64(loss), N, true
	return nil
}

// put stores part s computed elsewhere: its loss share and gradient.
func (l *loop) put(s int, loss float64, grad []float32) error {
	if s < 0 || s >= l.shards || l.shards == 1 {
		return fmt.Errorf("train: part %d of a step in %d parts", s, l.shards)
	}
	if len(grad) != len(l.grad) {
		return fmt.Errorf("train: part %d has %d gradient values, the run trains %d", s, len(grad), len(l.grad))
	}
	if !l.drawn {
		return fmt.Errorf("train: part %d arrived before the step's batch was drawn", s)
	}
	copy(l.partGrad[s], grad)
	r0, r1 := l.partRows(s)
	l.batch.Rows(r0, r1, &l.part)
	l.partLoss[s], l.partT[s], l.partDone[s] = loss, l.part.B*l.part.T, true
	return nil
}

// apply adds the parts' gradients in part order, clips, and takes the AdamW step.
func (l *loop) apply() (loss float32, gnorm float64, lr float32, positions int, err error) {
	var total float64
	for s, done := range l.partDone {
		if !done {
			return 0, 0, 0, 0, fmt.Errorf("train: step %d: part %d of %d is missing", l.step+1, s, l.shards)
		}
		total += l.partLoss[s]
		positions += l.partT[s]
	}
	l.drawn = false
	loss = float32(total)
	if !finite(loss) {
		return loss, 0, 0, 0, &StopError{Step: l.step + 1, What: "loss", Value: float64(loss)}
	}
	if l.shards > 1 {
		copy(l.grad, l.partGrad[0])
		for _, g := range l.partGrad[1:] {
			for i, v := range g {
				l.grad[i] += v
			}
		}
	}
	gnorm = optim.ClipGlobalNorm(l.clip, l.grad)
	if gnorm != gnorm || gnorm > 1e30 {
		return loss, gnorm, 0, 0, &StopError{Step: l.step + 1, What: "gradient norm", Value: gnorm}
	}
	lr = l.sched.At(l.step)
	l.opt.StepParts(l.params, l.grad, lr)
	l.step++
	return loss, gnorm, lr, positions, nil
}
