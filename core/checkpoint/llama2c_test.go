// Tests for the llama2.c legacy checkpoint reader and writer: a random tiny model
// round trip that always runs, the real stories260K checkpoint when ../shared is
// present, validation errors, and a fuzzer.

package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/rng"
	"golora/internal/shared"
)

// tinyLlama2C builds a random model for cfg with the names ReadLlama2C returns.
func tinyLlama2C(t *testing.T, cfg Llama2CConfig, seed uint64) []Tensor {
	t.Helper()
	r := rng.New(seed)
	var tensors []Tensor
	for _, s := range cfg.layout() {
		per, err := numel(s.shape, math.MaxInt32)
		require.NoError(t, err)
		for _, n := range s.names {
			data := make([]float32, per)
			for i := range data {
				data[i] = r.Normal()
			}
			tensors = append(tensors, Tensor{Name: n, Shape: append([]int(nil), s.shape...), Data: data})
		}
	}
	return tensors
}

func TestLlama2CRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		cfg  Llama2CConfig
	}{
		{"shared, GQA", Llama2CConfig{Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 11, SeqLen: 7, SharedClassifier: true}},
		{"unshared, MHA", Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 1, NHeads: 2, NKVHeads: 2, VocabSize: 5, SeqLen: 3}},
		{"single head, MQA", Llama2CConfig{Dim: 12, HiddenDim: 20, NLayers: 3, NHeads: 3, NKVHeads: 1, VocabSize: 9, SeqLen: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tensors := tinyLlama2C(t, tc.cfg, 7)
			var buf bytes.Buffer
			require.NoError(t, WriteLlama2C(&buf, tc.cfg, tensors))
			require.Equal(t, tc.cfg.FileSize(), int64(buf.Len()), "file size")

			// The header as run.c reads it: 7 int32, negative vocab for an unshared classifier.
			wantVocab := int32(tc.cfg.VocabSize)
			if !tc.cfg.SharedClassifier {
				wantVocab = -wantVocab
			}
			assert.Equal(t, wantVocab, int32(binary.LittleEndian.Uint32(buf.Bytes()[20:])), "header vocab_size")

			cfg, got, err := ReadLlama2C(bytes.NewReader(buf.Bytes()), "tiny.bin", int64(buf.Len()))
			require.NoError(t, err)
			assert.Equal(t, tc.cfg, cfg, "config")
			require.Len(t, got, len(tensors))
			for i := range tensors {
				assert.Equal(t, tensors[i].Name, got[i].Name, "tensor %d name", i)
				assert.Equal(t, tensors[i].Shape, got[i].Shape, "tensor %s shape", got[i].Name)
				assert.Equal(t, tensors[i].Data, got[i].Data, "tensor %s data", got[i].Name)
			}
			_, hasHead := findTensor(got, "lm_head.weight")
			assert.Equal(t, !tc.cfg.SharedClassifier, hasHead, "lm_head.weight present iff unshared")

			// Rewriting from the read tensors (in another order) gives identical bytes.
			rev := make([]Tensor, len(got))
			for i := range got {
				rev[len(got)-1-i] = got[i]
			}
			var again bytes.Buffer
			require.NoError(t, WriteLlama2C(&again, cfg, rev))
			assert.Equal(t, buf.Bytes(), again.Bytes(), "write(read(x)) == x")
		})
	}
}

func findTensor(ts []Tensor, name string) (Tensor, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// TestStories260K reads the real checkpoint, checks its config against
// SOURCES.md, writes it back and compares with the original bytes: exactly
// outside the RoPE tables, within 1e-6 inside them (the file's tables came from
// torch's float32 cos/sin).
func TestStories260K(t *testing.T) {
	path := shared.Stories260K(t, "stories260K.bin")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(raw)
	require.Equal(t, "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696", hex.EncodeToString(sum[:]),
		"sha256 of %s (another public copy has altered weights)", path)

	cfg, tensors, err := ReadLlama2C(bytes.NewReader(raw), "stories260K.bin", int64(len(raw)))
	require.NoError(t, err)
	assert.Equal(t, Llama2CConfig{Dim: 64, HiddenDim: 172, NLayers: 5, NHeads: 8, NKVHeads: 4, VocabSize: 512, SeqLen: 512, SharedClassifier: true}, cfg)
	assert.Len(t, tensors, 1+9*5+1, "embedding, 9 per layer, final norm")
	emb, ok := findTensor(tensors, "model.embed_tokens.weight")
	require.True(t, ok)
	assert.Equal(t, []int{512, 64}, emb.Shape)
	assert.Equal(t, math.Float32frombits(binary.LittleEndian.Uint32(raw[28:])), emb.Data[0], "first embedding float")
	k, ok := findTensor(tensors, "model.layers.4.self_attn.k_proj.weight")
	require.True(t, ok)
	assert.Equal(t, []int{32, 64}, k.Shape)

	var buf bytes.Buffer
	require.NoError(t, WriteLlama2C(&buf, cfg, tensors))
	out := buf.Bytes()
	require.Equal(t, len(raw), len(out), "rewritten size")

	// The RoPE tables sit just before the end (shared classifier: nothing after them).
	ropeBytes := 2 * 4 * cfg.SeqLen * cfg.HeadSize() / 2
	ropeStart := len(raw) - ropeBytes
	assert.True(t, bytes.Equal(raw[:ropeStart], out[:ropeStart]), "header and weights byte-identical")
	maxDiff, bitDiffs := 0.0, 0
	for i := ropeStart; i < len(raw); i += 4 {
		a := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))
		b := math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))
		assert.InDelta(t, a, b, 1e-6, "RoPE table float %d", (i-ropeStart)/4)
		maxDiff = math.Max(maxDiff, math.Abs(float64(a)-float64(b)))
		if a != b {
			bitDiffs++
		}
	}
	t.Logf("RoPE tables: %d of %d floats differ from the file's in the last bits, max |diff| %.3g", bitDiffs, ropeBytes/4, maxDiff)
}

func TestReadLlama2CRejects(t *testing.T) {
	good := Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 1, NHeads: 2, NKVHeads: 2, VocabSize: 5, SeqLen: 3, SharedClassifier: true}
	var buf bytes.Buffer
	require.NoError(t, WriteLlama2C(&buf, good, tinyLlama2C(t, good, 1)))
	file := buf.Bytes()
	withHeader := func(vals ...int32) []byte {
		b := append([]byte(nil), file...)
		for i, v := range vals {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	cases := []struct {
		name    string
		file    []byte
		size    int64
		wantErr string
	}{
		{"empty", nil, 0, "truncated: 0 bytes"},
		{"short header", file[:10], 10, "truncated: 10 bytes"},
		{"zero dim", withHeader(0), int64(len(file)), "dim = 0 is outside"},
		{"huge dim", withHeader(1 << 20), int64(len(file)), "dim = 1048576 is outside"},
		{"negative layers", withHeader(8, 12, -1), int64(len(file)), "n_layers = -1"},
		{"heads do not divide", withHeader(8, 12, 1, 3, 3), int64(len(file)), "dim 8 is not a multiple of n_heads 3"},
		{"kv heads do not divide", withHeader(8, 12, 1, 4, 3), int64(len(file)), "n_heads 4 is not a multiple of n_kv_heads 3"},
		{"odd head size", withHeader(6, 12, 1, 2, 2), int64(len(file)), "head size 3"},
		{"zero vocab", withHeader(8, 12, 1, 2, 2, 0), int64(len(file)), "vocab_size = 0"},
		{"min int32 vocab", withHeader(8, 12, 1, 2, 2, math.MinInt32), int64(len(file)), "vocab_size = 2147483648"},
		{"size mismatch", file[:len(file)-4], int64(len(file) - 4), "expected " + itoa64(int64(len(file))) + " bytes"},
		{"unshared needs classifier", withHeader(8, 12, 1, 2, 2, -5), int64(len(file)), "got " + itoa64(int64(len(file)))},
		{"truncated stream", file[:100], int64(len(file)), "truncated in"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, tensors, err := ReadLlama2C(bytes.NewReader(tc.file), "model.bin", tc.size)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "checkpoint model.bin: "), "error names the file: %v", err)
			assert.Nil(t, tensors)
			assert.Equal(t, Llama2CConfig{}, cfg)
		})
	}
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

func TestWriteLlama2CRejects(t *testing.T) {
	cfg := Llama2CConfig{Dim: 8, HiddenDim: 12, NLayers: 1, NHeads: 2, NKVHeads: 2, VocabSize: 5, SeqLen: 3, SharedClassifier: true}
	base := tinyLlama2C(t, cfg, 3)
	unshared := cfg
	unshared.SharedClassifier = false
	head := tinyLlama2C(t, unshared, 3)
	cases := []struct {
		name    string
		cfg     Llama2CConfig
		tensors []Tensor
		wantErr string
	}{
		{"missing", cfg, base[1:], `missing tensor "model.embed_tokens.weight"`},
		{"bad shape", cfg, append([]Tensor{{Name: "model.embed_tokens.weight", Shape: []int{8, 5}, Data: base[0].Data}}, base[1:]...), "has shape [8 5], want [5 8]"},
		{"short data", cfg, append([]Tensor{{Name: "model.embed_tokens.weight", Shape: []int{5, 8}, Data: base[0].Data[:3]}}, base[1:]...), "has 3 floats"},
		{"lm_head with shared", cfg, head, "lm_head.weight given but the config says the classifier is shared"},
		{"unknown tensor", cfg, append(append([]Tensor(nil), base...), Tensor{Name: "extra", Shape: []int{1}, Data: []float32{1}}), `unexpected tensor "extra"`},
		{"duplicate", cfg, append(append([]Tensor(nil), base...), base[0]), "duplicate tensor"},
		{"invalid config", Llama2CConfig{}, base, "dim = 0"},
		{"unshared without head", unshared, base, `missing tensor "lm_head.weight"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteLlama2C(&buf, tc.cfg, tc.tensors)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Zero(t, buf.Len(), "nothing written on error")
		})
	}
}

func FuzzReadLlama2C(f *testing.F) {
	for _, cfg := range []Llama2CConfig{
		{Dim: 4, HiddenDim: 6, NLayers: 1, NHeads: 2, NKVHeads: 1, VocabSize: 3, SeqLen: 2, SharedClassifier: true},
		{Dim: 4, HiddenDim: 2, NLayers: 2, NHeads: 1, NKVHeads: 1, VocabSize: 2, SeqLen: 1},
	} {
		var tensors []Tensor
		for _, s := range cfg.layout() {
			per, _ := numel(s.shape, math.MaxInt32)
			for _, n := range s.names {
				tensors = append(tensors, Tensor{Name: n, Shape: s.shape, Data: make([]float32, per)})
			}
		}
		var buf bytes.Buffer
		if err := WriteLlama2C(&buf, cfg, tensors); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, tensors, err := ReadLlama2C(bytes.NewReader(data), "fuzz.bin", int64(len(data)))
		if err != nil {
			if tensors != nil || cfg != (Llama2CConfig{}) {
				t.Fatalf("partial result with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "checkpoint fuzz.bin: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteLlama2C(&out, cfg, tensors); err != nil {
			t.Fatalf("cannot rewrite accepted file: %v", err)
		}
		ropeStart := llama2cHeaderBytes
		for _, s := range cfg.layout() {
			if s.names == nil {
				break
			}
			per, _ := numel(s.shape, math.MaxInt32)
			ropeStart += 4 * per * len(s.names)
		}
		if !bytes.Equal(out.Bytes()[:ropeStart], data[:ropeStart]) {
			t.Fatalf("rewrite changed the header or weights")
		}
	})
}
