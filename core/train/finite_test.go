package train

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
)

// TestStopCauses: a run stopped on a NaN loss names the likely cause. A base whose attention overflows on every
// token is the base; a base that overflows only on one byte, which only the training data holds, is the data; a run
// whose own trained weights went bad (the base is sound on the same batch) is the learning rate.
func TestStopCauses(t *testing.T) {
	tok := data.NewByteTokenizer()
	hash := tok.Encode("#")[0]
	var train, held []data.Example
	for i := range 24 {
		train = append(train, data.Example{Prompt: fmt.Sprintf("#%d=", i), Completion: fmt.Sprint(i)})
		held = append(held, data.Example{Prompt: fmt.Sprintf("%d=", i), Completion: fmt.Sprint(i)})
	}
	custom := func(c Config) Config {
		c.Task, c.Custom, c.CustomVal, c.CustomTest = "custom", train, held, held
		return c
	}
	// overflow makes layer 0's queries and keys huge along channel j: q·k overflows to +Inf for every pair of tokens
	// whose embedding has a component along j, and the softmax of +Inf - +Inf is NaN.
	overflow := func(m *model.Model, j int) {
		C := m.Config.Dim
		L := &m.Params.Layers[0]
		for o := range C {
			L.Wq[o*C+j] = 1e20
		}
		for o := range m.Config.KVDim() {
			L.Wk[o*C+j] = 1e20
		}
	}
	stop := func(t *testing.T, base *model.Model, cfg Config, poison func(*Session)) *StopError {
		t.Helper()
		s, err := New(base, tok, cfg)
		require.NoError(t, err, "a finite base is accepted")
		for range cfg.Steps {
			if _, err = s.Step(1); err != nil {
				break
			}
			if poison != nil {
				poison(s)
			}
		}
		var se *StopError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, err.Error(), "stopped, keeping the weights of step")
		t.Log(err)
		return se
	}

	t.Run("base", func(t *testing.T) {
		base := tinyBase(t)
		overflow(base, 0) // every embedding has a component along channel 0
		se := stop(t, base, custom(tinyConfig(MethodLoRA)), nil)
		assert.Equal(t, CauseBase, se.Cause, se.Error())
		assert.Equal(t, 1, se.Step)
		assert.Contains(t, se.Error(), "the base model tiny")
	})
	t.Run("data", func(t *testing.T) {
		base := tinyBase(t)
		const j = 3
		C := base.Config.Dim
		for v := range base.Config.VocabSize { // only "#" points along channel j
			base.Params.Embed[v*C+j] = 0
		}
		clear(base.Params.Embed[hash*C : (hash+1)*C])
		base.Params.Embed[hash*C+j] = 1
		overflow(base, j)
		se := stop(t, base, custom(tinyConfig(MethodFull)), nil)
		assert.Equal(t, CauseData, se.Cause, se.Error())
		assert.Contains(t, se.Error(), `"#`, "the message quotes the batch")
	})
	t.Run("learning rate", func(t *testing.T) {
		cfg := custom(tinyConfig(MethodFull))
		cfg.Clip = 0
		se := stop(t, tinyBase(t), cfg, func(s *Session) {
			s.Model().Params.Norm[0] = float32(math.Inf(1)) // as diverged training leaves it
		})
		assert.Equal(t, CauseLR, se.Cause, se.Error())
		assert.Equal(t, 2, se.Step)
		assert.Contains(t, se.Error(), "learning rate")
		assert.Contains(t, se.Error(), "gradient clipping", "with clipping off, clipping is suggested too")
	})
}

// TestNonFiniteRefused: NaN and infinite weights from outside are refused naming the tensor: in a base handed to New,
// in its attached adapter, and in a snapshot to restore (its weights and AdamW's moments).
func TestNonFiniteRefused(t *testing.T) {
	tok := data.NewByteTokenizer()
	base := tinyBase(t)
	bad := base.Clone()
	bad.Params.Layers[1].Wv[5] = float32(math.NaN())
	_, err := New(bad, tok, tinyConfig(MethodLoRA))
	assert.ErrorContains(t, err, `tensor "model.layers.1.self_attn.v_proj.weight" holds NaN at index 5`)

	s, err := New(base, tok, tinyConfig(MethodLoRA))
	require.NoError(t, err)
	_, err = s.Step(2)
	require.NoError(t, err)
	withAdapter := base.Clone()
	lr, err := peft.AddLoRA(withAdapter, peft.LoRAOf(s.Model()).LoRAConfig, nil)
	require.NoError(t, err)
	copy(lr.Params(), peft.LoRAOf(s.Model()).Params())
	lr.Adapters[1].B[2] = float32(math.Inf(-1))
	_, err = New(withAdapter, tok, tinyConfig(MethodLoRA))
	assert.ErrorContains(t, err, `tensor "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight" holds -Inf at index 2`)

	snap, err := s.Snapshot()
	require.NoError(t, err)
	n := s.loop.opt.Len()
	for _, tc := range []struct {
		name   string
		index  int // into the snapshot's float32 arrays: weights, then M, then V
		value  float32
		reason string
	}{
		{"weight", 1, float32(math.NaN()), `weights: tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" holds NaN at index 1`},
		{"first moment", n + n - 1, float32(math.Inf(1)), `AdamW first moments: tensor "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight" holds +Inf`},
		{"second moment", 2*n + 7, float32(math.NaN()), "AdamW second moments: tensor"},
		{"negative second moment", 2*n + 7, -1, "second moment 7 is -1"},
	} {
		edited := editSnapshot(t, snap, n, tc.index, tc.value)
		f, err := New(base, tok, tinyConfig(MethodLoRA))
		require.NoError(t, err)
		assert.ErrorContains(t, f.Restore(edited), tc.reason, tc.name)
		assert.Equal(t, 0, f.StepsDone(), "%s: a refused snapshot changes nothing", tc.name)
	}
	f, err := New(base, tok, tinyConfig(MethodLoRA))
	require.NoError(t, err)
	require.NoError(t, f.Restore(editSnapshot(t, snap, n, 1, s.loop.params[0][1])), "an unchanged value restores")
}

// editSnapshot returns snap with float index i of its arrays set to v and its checksum made right again, as a
// snapshot written by faulty code would be.
func editSnapshot(t *testing.T, snap []byte, n, i int, v float32) []byte {
	t.Helper()
	out := append([]byte(nil), snap...)
	arrays := len(out) - 8 - 3*4*n
	require.Positive(t, arrays)
	binary.LittleEndian.PutUint32(out[arrays+4*i:], math.Float32bits(v))
	h := fnv.New64a()
	h.Write(out[:len(out)-8])
	binary.LittleEndian.PutUint64(out[len(out)-8:], h.Sum64())
	return out
}

// FuzzRestore: whatever bytes Restore is given, it restores or refuses without panicking; a refused snapshot leaves
// the session at step 0, and a restored one trains on with finite losses.
func FuzzRestore(f *testing.F) {
	base := tinyBase(f)
	cfg := tinyConfig(MethodLoRA)
	cfg.Steps = 4
	s, err := New(base, data.NewByteTokenizer(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Step(2); err != nil {
		f.Fatal(err)
	}
	snap, err := s.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add(snap[:len(snap)/2])
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 8 && !bytes.Equal(b, snap) { // make the checksum right, so that the fuzzer reaches past it
			h := fnv.New64a()
			h.Write(b[:len(b)-8])
			binary.LittleEndian.PutUint64(b[len(b)-8:], h.Sum64())
		}
		fresh, err := New(base, data.NewByteTokenizer(), cfg)
		require.NoError(t, err)
		if err := fresh.Restore(b); err != nil {
			require.Equal(t, 0, fresh.StepsDone(), "a refused snapshot changes nothing")
			return
		}
		for !fresh.Done() {
			m, err := fresh.Step(1)
			var se *StopError
			if errors.As(err, &se) {
				return // a sound snapshot may still hold weights that diverge
			}
			require.NoError(t, err)
			require.False(t, math.IsNaN(float64(m.Loss)))
		}
	})
}
