// The training loop shared by fine-tuning and pretraining: forward, backward, clip, AdamW.
package train

import (
	"fmt"
	"time"

	"golora/core/data"
	"golora/core/model"
	"golora/core/optim"
)

// loop owns the optimizer state of one run and takes steps on batches it is handed.
type loop struct {
	model        *model.Model
	acts         *model.Acts
	grads        *model.Params // base gradients (full training); nil keeps the base frozen
	params, grad []float32     // what the optimizer updates, flat
	opt          *optim.AdamW
	sched        optim.Schedule
	clip         float32
	batch        data.Batch

	step    int
	tokens  int64
	elapsed time.Duration
}

func newLoop(m *model.Model, acts *model.Acts, grads *model.Params, params, grad []float32,
	sched optim.Schedule, weightDecay, clip float32) *loop {
	return &loop{model: m, acts: acts, grads: grads, params: params, grad: grad,
		opt: optim.NewAdamW(len(params), weightDecay), sched: sched, clip: clip}
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
		next(&l.batch)
		loss, gnorm, lr, err := l.update(&l.batch)
		if err != nil {
			return l.metrics(), err
		}
		lossSum += float64(loss)
		tokens += int64(l.batch.B * l.batch.T)
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

// update takes one optimizer step on b: forward, backward, clip, AdamW.
func (l *loop) update(b *data.Batch) (loss float32, gnorm float64, lr float32, err error) {
	N := b.B * b.T
	loss = l.model.Forward(l.acts, b.Inputs[:N], b.Targets[:N], b.Mask[:N], b.B, b.T)
	if !finite(loss) {
		return loss, 0, 0, fmt.Errorf("train: step %d: loss is %g; stopped, keeping the weights of step %d (try a lower learning rate)", l.step+1, loss, l.step)
	}
	clear(l.grad)
	l.model.Backward(l.acts, l.grads)
	gnorm = optim.ClipGlobalNorm(l.clip, l.grad)
	if gnorm != gnorm || gnorm > 1e30 {
		return loss, gnorm, 0, fmt.Errorf("train: step %d: gradient norm is %g; stopped, keeping the weights of step %d (try a lower learning rate)", l.step+1, gnorm, l.step)
	}
	lr = l.sched.At(l.step)
	l.opt.Step(l.params, l.grad, lr)
	l.step++
	return loss, gnorm, lr, nil
}
