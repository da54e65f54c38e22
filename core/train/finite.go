// This file holds what keeps NaN and infinities out of a run: weights from outside are refused naming the tensor,
// and a step stopped on a NaN loss or gradient says whether the base, the data or the learning rate is the likely
// cause.

package train

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
)

// Causes of a stopped run (StopError.Cause).
const (
	CauseBase = "base" // the starting weights give a non-finite loss whatever the data
	CauseData = "data" // the starting weights give a finite loss on the validation data but not on this batch
	CauseLR   = "lr"   // the starting weights give a finite loss on this batch: training moved them too far
)

// StopError is a step stopped before its update because its loss or gradient
// norm is NaN or infinite; the weights stay those of step Step-1.
type StopError struct {
	Step   int     // the step that failed (1-based)
	What   string  // "loss" or "gradient norm"
	Value  float64 // the non-finite value
	Cause  string  // CauseBase, CauseData or CauseLR ("" until Session diagnoses it)
	Reason string  // why Cause is the likely one, with what to try
}

func (e *StopError) Error() string {
	msg := fmt.Sprintf("train: step %d: %s is %g; stopped, keeping the weights of step %d", e.Step, e.What, e.Value, e.Step-1)
	if e.Reason != "" {
		msg += ". " + e.Reason
	}
	return msg
}

// checkWeights refuses a model whose weights (base or attached methods') hold a NaN or an infinity, naming the tensor.
func checkWeights(m *model.Model) error {
	if err := checkpoint.CheckFinite(m.Tensors()); err != nil {
		return fmt.Errorf("train: base model %s: %w", m.Name, err)
	}
	for _, meth := range m.Methods() {
		if err := checkpoint.CheckFinite(methodTensors(meth, meth.Params())); err != nil {
			return fmt.Errorf("train: the %s adapter on base model %s: %w", meth.Name(), m.Name, err)
		}
	}
	return nil
}

// methodTensors names the parts of flat, laid out as meth's parameters: a LoRA's A and B by their PEFT keys,
// another method's tensors by its own names (peft.Method.Tensors).
func methodTensors(meth model.Method, flat []float32) []checkpoint.Tensor {
	var ts []checkpoint.Tensor
	switch pm := meth.(type) {
	case *peft.LoRA:
		for _, a := range pm.Adapters {
			nA, nB := a.Rank*a.In, a.Out*a.Rank
			ts = append(ts,
				checkpoint.Tensor{Name: checkpoint.PEFTKey(a.Module, "A"), Shape: []int{a.Rank, a.In}, Data: flat[a.Off : a.Off+nA]},
				checkpoint.Tensor{Name: checkpoint.PEFTKey(a.Module, "B"), Shape: []int{a.Out, a.Rank}, Data: flat[a.Off+nA : a.Off+nA+nB]})
		}
	case peft.Method:
		for _, t := range pm.Tensors() {
			ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.View(flat)})
		}
	default:
		ts = append(ts, checkpoint.Tensor{Name: meth.Name() + " parameters", Shape: []int{len(flat)}, Data: flat})
	}
	return ts
}

// trainableTensors names the parts of flat, laid out as the run's trainable vector (model.Trainable): the base
// tensors it trains by their names, then each method's parameters (methodTensors).
func (s *Session) trainableTensors(flat []float32) []checkpoint.Tensor {
	if len(flat) == 0 {
		return nil
	}
	var ts []checkpoint.Tensor
	off := 0
	for _, t := range s.model.Config.Tensors() {
		trained := false
		for _, meth := range s.model.Methods() {
			trained = trained || meth.TrainsBase(t.Name)
		}
		if !trained {
			continue
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: flat[off : off+n]})
		off += n
	}
	for _, meth := range s.model.Methods() {
		n := len(meth.Params())
		ts = append(ts, methodTensors(meth, flat[off:off+n])...)
		off += n
	}
	return ts
}

// explain adds its likely cause to a StopError from the loop (other errors pass unchanged). It compares the run's
// starting weights (the base, with the adapter it was given, if any) on the failing step's batch and on the
// validation split:
//   - a non-finite loss of the starting weights on the validation data too: the base;
//   - a finite one on the validation data but not on the batch: the data of that batch;
//   - a finite one on the batch itself: the weights trained so far diverged, so the learning rate.
//
// Before the first update the run's weights are the starting weights, and only the first two can be the cause.
func (s *Session) explain(err error) error {
	var se *StopError
	if !errors.As(err, &se) || se.Cause != "" {
		return err
	}
	start := s.start
	acts := start.NewActs(s.cfg.Batch, s.acts.MaxT)
	acts.ScoredOnly = true
	b := &s.loop.batch
	batchLoss := forwardLoss(start, acts, b)
	if se.Step > 1 && finite(batchLoss) {
		lower := s.cfg.LR / 4
		se.Cause = CauseLR
		trained := "1 step"
		if se.Step > 2 {
			trained = fmt.Sprintf("%d steps", se.Step-1)
		}
		se.Reason = fmt.Sprintf("Likely cause: the learning rate (%.3g). The starting weights give a finite loss (%.4g) on this "+
			"step's batch, so the %s trained so far moved them too far; try a learning rate of %.2g", s.cfg.LR, batchLoss, trained, lower)
		if s.cfg.Clip == 0 {
			se.Reason += " or gradient clipping (clip 1)"
		}
		return se
	}
	if se.Step == 1 && finite(batchLoss) { // the gradient, not the loss, failed before any update
		se.Cause = CauseBase
		se.Reason = fmt.Sprintf("Likely cause: the base model %s. Before any update it gives a finite loss (%.4g) on this "+
			"step's batch but a non-finite %s: its weights are large enough to overflow; check the checkpoint", start.Name, batchLoss, se.What)
		return se
	}
	var num, den float64
	for lo := 0; lo < len(s.val); lo += s.cfg.Batch {
		var vb data.Batch
		data.FillBatch(&vb, s.val[lo:min(lo+s.cfg.Batch, len(s.val))])
		c := float64(vb.Count())
		num += float64(forwardLoss(start, acts, &vb)) * c
		den += c
	}
	if valLoss := num / den; den > 0 && !math.IsNaN(valLoss) && !math.IsInf(valLoss, 0) {
		se.Cause = CauseData
		se.Reason = fmt.Sprintf("Likely cause: the data. The starting weights give a finite loss on the validation split (%.4g) "+
			"but %g on this step's batch, which holds %s", valLoss, batchLoss, s.describeBatch(b))
		return se
	}
	se.Cause = CauseBase
	se.Reason = fmt.Sprintf("Likely cause: the base model %s. Its weights are finite, yet it gives a non-finite loss on the "+
		"validation split as well as on this step's batch, before any training; check the checkpoint", start.Name)
	return se
}

// forwardLoss is m's mean loss on b (the predicted positions only).
func forwardLoss(m *model.Model, acts *model.Acts, b *data.Batch) float32 {
	N := b.B * b.T
	return m.Forward(acts, b.Inputs[:N], b.Targets[:N], b.Mask[:N], b.B, b.T)
}

// describeBatch quotes the start of the first rows of b, decoded, for a message.
func (s *Session) describeBatch(b *data.Batch) string {
	const rows, chars = 3, 48
	var quoted []string
	for r := range min(rows, b.B) {
		var ids []int
		for _, id := range b.Inputs[r*b.T : r*b.T+b.RowLen(r)] { // the row without its padding
			if id != s.tok.BOS() && id != s.tok.End() {
				ids = append(ids, id)
			}
		}
		text := []rune(s.tok.Decode(ids))
		if len(text) > chars {
			text = append(text[:chars], '…')
		}
		quoted = append(quoted, fmt.Sprintf("%q", string(text)))
	}
	more := ""
	if b.B > rows {
		more = fmt.Sprintf(" and %d more", b.B-rows)
	}
	return fmt.Sprintf("%d rows: %s%s", b.B, strings.Join(quoted, ", "), more)
}
