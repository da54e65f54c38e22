// This file holds run snapshots: the state a page (or a program) saves so that
// an interrupted run resumes where it stopped and continues bit for bit.

package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"golora/core/checkpoint"
	"golora/core/optim"
)

// snapshotMagic starts every snapshot; the byte after it is the format version.
const snapshotMagic = "golora-run"

const snapshotVersion = 1

// Snapshot encodes what a run carries from step to step: the trainable
// weights, AdamW's state, the step and how many batches were drawn, and the
// tokens and seconds so far. A session made from the same base and Config
// restores it (Restore) and then takes exactly the steps the original would
// have taken. It is taken between steps, never in the middle of one.
func (s *Session) Snapshot() ([]byte, error) {
	if s.cfg.Method == MethodFrozen {
		return nil, fmt.Errorf("train: a frozen run has no state to save")
	}
	if s.loop.drawn {
		return nil, fmt.Errorf("train: a snapshot is taken between steps, and step %d is half done", s.loop.step+1)
	}
	st := s.loop.opt.State()
	var b bytes.Buffer
	b.WriteString(snapshotMagic)
	b.WriteByte(snapshotVersion)
	put := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) } // a bytes.Buffer never fails
	put(s.cfgSum)
	put(s.baseSum)
	put(int64(s.loop.step))
	put(int64(s.batches))
	put(s.loop.tokens)
	put(s.loop.elapsed.Seconds())
	put(int64(st.Step))
	put(st.Pow1)
	put(st.Pow2)
	put(int64(s.loop.opt.Len()))
	for _, p := range s.loop.params {
		put(p)
	}
	put(st.M)
	put(st.V)
	h := fnv.New64a()
	h.Write(b.Bytes())
	put(h.Sum64())
	return b.Bytes(), nil
}

// Restore continues a run from a Snapshot of it. The session must be new
// (no step taken) and made from the same base and Config; anything else, or
// a damaged snapshot, is refused with an error and changes nothing.
func (s *Session) Restore(snap []byte) error {
	if s.cfg.Method == MethodFrozen {
		return fmt.Errorf("train: a frozen run has no state to restore")
	}
	if s.loop.step != 0 || s.batches != 0 {
		return fmt.Errorf("train: restore into a new session (this one has taken %d steps)", s.loop.step)
	}
	head := len(snapshotMagic) + 1
	if len(snap) < head+8 || string(snap[:len(snapshotMagic)]) != snapshotMagic {
		return errors.New("train: not a golora run snapshot")
	}
	if v := snap[len(snapshotMagic)]; v != snapshotVersion {
		return fmt.Errorf("train: run snapshot version %d, this golora reads version %d", v, snapshotVersion)
	}
	body, sum := snap[:len(snap)-8], binary.LittleEndian.Uint64(snap[len(snap)-8:])
	h := fnv.New64a()
	h.Write(body)
	if h.Sum64() != sum {
		return errors.New("train: the run snapshot is damaged (checksum mismatch)")
	}
	r := bytes.NewReader(body[head:])
	var fp, baseSum uint64
	var step, batches, tokens, optStep, n int64
	var elapsed, pow1, pow2 float64
	for _, v := range []any{&fp, &baseSum, &step, &batches, &tokens, &elapsed, &optStep, &pow1, &pow2, &n} {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return errors.New("train: the run snapshot is truncated")
		}
	}
	if fp != s.cfgSum {
		return errors.New("train: the run snapshot is from a run with other settings")
	}
	if baseSum != s.baseSum {
		return errors.New("train: the run snapshot was made on another base model")
	}
	if n != int64(s.loop.opt.Len()) || int64(r.Len()) != 3*4*n {
		return fmt.Errorf("train: the run snapshot holds %d trainable values, this run trains %d", n, s.loop.opt.Len())
	}
	// Between steps a run has drawn one batch per step, plus one per step abandoned on a NaN loss.
	if step < 0 || step > int64(s.cfg.Steps) || batches < step || batches > step+int64(s.cfg.Steps) || tokens < 0 || optStep != step ||
		!(elapsed >= 0) || math.IsInf(elapsed, 0) {
		return fmt.Errorf("train: the run snapshot's counters do not fit together (step %d, %d batches)", step, batches)
	}
	params := make([]float32, n)
	st := optim.State{M: make([]float32, n), V: make([]float32, n), Step: int(optStep), Pow1: pow1, Pow2: pow2}
	for _, v := range [][]float32{params, st.M, st.V} {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return errors.New("train: the run snapshot is truncated")
		}
	}
	// A checksum proves the bytes are those written, not that they are sound: a run saved after its weights went
	// NaN (or a snapshot written by other code) would resume into NaN.
	for _, part := range []struct {
		what string
		v    []float32
	}{{"weights", params}, {"AdamW first moments", st.M}, {"AdamW second moments", st.V}} {
		if err := checkpoint.CheckFinite(s.trainableTensors(part.v)); err != nil {
			return fmt.Errorf("train: the run snapshot's %s: %w", part.what, err)
		}
	}
	for i, v := range st.V {
		if v < 0 {
			return fmt.Errorf("train: the run snapshot's AdamW second moment %d is %g; a mean of squares is never negative", i, v)
		}
	}
	want1, want2 := 1.0, 1.0 // beta^step, multiplied up as AdamW.Step does
	for range optStep {
		want1 *= float64(s.loop.opt.Beta1)
		want2 *= float64(s.loop.opt.Beta2)
	}
	if pow1 != want1 || pow2 != want2 {
		return fmt.Errorf("train: the run snapshot's AdamW bias corrections (%g, %g) are not those of step %d (%g, %g)", pow1, pow2, optStep, want1, want2)
	}
	if err := s.loop.opt.SetState(st); err != nil {
		return err
	}
	for _, p := range s.loop.params {
		params = params[copy(p, params):]
	}
	s.loop.step, s.loop.tokens = int(step), tokens
	s.loop.elapsed = time.Duration(elapsed * float64(time.Second))
	for range batches { // the batches the run drew, so that the next one is the one it would draw
		s.nextBatch(&s.loop.batch)
	}
	return nil
}

// weightsSum fingerprints a model's weights (FNV-1a over their bits).
func weightsSum(w []float32) uint64 {
	h := fnv.New64a()
	var buf [4096]byte
	for len(w) > 0 {
		n := min(len(w), len(buf)/4)
		for i, v := range w[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf[:4*n])
		w = w[n:]
	}
	return h.Sum64()
}

// fingerprint identifies the settings that decide a run's numbers (all of
// them, custom examples included; not the size knobs of other methods), for
// matching a snapshot to its run.
func (c Config) fingerprint() (uint64, error) {
	j, err := json.Marshal(c.forFingerprint())
	if err != nil {
		return 0, fmt.Errorf("train: fingerprint of the config: %w", err)
	}
	h := fnv.New64a()
	h.Write(j)
	return h.Sum64(), nil
}
