package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
)

// TestSnapshotResumes checks that a run saved after some steps and restored
// into a new session takes the same steps as the run that never stopped, bit
// for bit: LoRA with dropout and full fine-tuning, in one part and in two.
func TestSnapshotResumes(t *testing.T) {
	base := tinyBase(t)
	for _, tc := range []struct {
		name   string
		method string
		shards int
	}{{"lora", MethodLoRA, 2}, {"lora-1part", MethodLoRA, 1}, {"full", MethodFull, 2}, {"lora+tokens", MethodLoRA, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(tc.method)
			cfg.Shards, cfg.Steps = tc.shards, 12
			if tc.method == MethodLoRA {
				cfg.Dropout = 0.1
			}
			if tc.name == "lora+tokens" {
				cfg.TrainTokens = TokensAllInData // the rows and their AdamW moments are in the snapshot
			}
			whole := losses(t, base, cfg, 12)

			first, err := New(base, data.NewByteTokenizer(), cfg)
			require.NoError(t, err)
			_, err = first.Step(5)
			require.NoError(t, err)
			snap, err := first.Snapshot()
			require.NoError(t, err)

			resumed, err := New(base, data.NewByteTokenizer(), cfg)
			require.NoError(t, err)
			require.NoError(t, resumed.Restore(snap))
			assert.Equal(t, 5, resumed.StepsDone())
			var rest []float32
			for range 7 {
				m, err := resumed.Step(1)
				require.NoError(t, err)
				rest = append(rest, m.Loss)
			}
			assert.Equal(t, whole[5:], rest, "the resumed run's losses")
			_, err = first.Step(7)
			require.NoError(t, err)
			assert.Equal(t, first.loop.params, resumed.loop.params, "the weights after 12 steps")
			assert.Equal(t, first.loop.tokens, resumed.loop.tokens, "tokens so far")
		})
	}
}

func TestRestoreRefuses(t *testing.T) {
	base := tinyBase(t)
	cfg := tinyConfig(MethodLoRA)
	s, err := New(base, data.NewByteTokenizer(), cfg)
	require.NoError(t, err)
	_, err = s.Step(3)
	require.NoError(t, err)
	snap, err := s.Snapshot()
	require.NoError(t, err)

	fresh := func(c Config) *Session {
		f, err := New(base, data.NewByteTokenizer(), c)
		require.NoError(t, err)
		return f
	}
	other := cfg
	other.Rank = 2
	assert.ErrorContains(t, fresh(other).Restore(snap), "other settings")
	other = cfg
	other.Seed = 9
	assert.ErrorContains(t, fresh(other).Restore(snap), "other settings")

	other = cfg
	otherBase := tinyBase(t)
	otherBase.Params.Data[0] += 1e-3
	f, err := New(otherBase, data.NewByteTokenizer(), other)
	require.NoError(t, err)
	assert.ErrorContains(t, f.Restore(snap), "another base model")

	damaged := append([]byte(nil), snap...)
	damaged[len(damaged)/2] ^= 1
	assert.ErrorContains(t, fresh(cfg).Restore(damaged), "damaged")
	assert.ErrorContains(t, fresh(cfg).Restore(snap[:len(snap)/2]), "damaged")
	assert.ErrorContains(t, fresh(cfg).Restore([]byte("hello")), "not a golora run snapshot")
	newer := append([]byte(nil), snap...)
	newer[len(snapshotMagic)] = snapshotVersion + 1
	assert.ErrorContains(t, fresh(cfg).Restore(newer), "version")
	assert.ErrorContains(t, s.Restore(snap), "new session", "a session that has trained")

	// A refused restore changes nothing: the session still starts at step 0 and trains.
	f = fresh(cfg)
	require.Error(t, f.Restore(damaged))
	assert.Equal(t, 0, f.StepsDone())
	want := losses(t, base, cfg, 2)
	for i := range 2 {
		m, err := f.Step(1)
		require.NoError(t, err)
		assert.Equal(t, want[i], m.Loss)
	}

	// Between steps only.
	mid := fresh(cfg)
	_, err = mid.ComputeShard(0)
	require.NoError(t, err)
	_, err = mid.Snapshot()
	assert.ErrorContains(t, err, "half done")
	frozen := cfg
	frozen.Method = MethodFrozen
	_, err = fresh(frozen).Snapshot()
	assert.Error(t, err)
}
