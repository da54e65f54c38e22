// Tests for the safetensors reader and writer: exact bytes, round trips, every
// validation error, and a fuzzer.

package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawSafetensors builds a file from a header string and data bytes, without any
// validation, to feed the reader malformed input.
func rawSafetensors(header string, data []byte) []byte {
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	buf = append(buf, header...)
	return append(buf, data...)
}

func f32Bytes(vals ...float32) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestWriteSafetensorsExactBytes checks the layout against the format's
// specification written out by hand: compact JSON, metadata first, tensors sorted
// by name, header padded with spaces to a multiple of 8, data in the same order.
func TestWriteSafetensorsExactBytes(t *testing.T) {
	tensors := []Tensor{
		{Name: "b", Shape: []int{1}, Data: []float32{3}},
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteSafetensors(&buf, tensors, map[string]string{"format": "pt"}))

	header := `{"__metadata__":{"format":"pt"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := rawSafetensors(header, f32Bytes(1, 2, 3))
	assert.Equal(t, want, buf.Bytes(), "WriteSafetensors bytes")

	// Without metadata the entry is omitted, as the reference implementation does.
	buf.Reset()
	require.NoError(t, WriteSafetensors(&buf, tensors[1:], nil))
	header = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	assert.Equal(t, rawSafetensors(header, f32Bytes(1, 2)), buf.Bytes(), "WriteSafetensors bytes without metadata")
}

func TestSafetensorsRoundTrip(t *testing.T) {
	tensors := []Tensor{
		{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", Shape: []int{4, 2}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), -0, 7, 1e-30}},
		{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", Shape: []int{2, 3}, Data: []float32{0.25, 0.5, -0.75, 1, 2, 3}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
		{Name: "empty", Shape: []int{0, 5}, Data: []float32{}},
		{Name: "<html & quotes \" \\>", Shape: []int{1}, Data: []float32{9}},
	}
	meta := map[string]string{"format": "pt", "note": "ünïcode & <tags>"}
	var buf bytes.Buffer
	require.NoError(t, WriteSafetensors(&buf, tensors, meta))
	require.Zero(t, (binary.LittleEndian.Uint64(buf.Bytes())+8)%8, "header length padded to a multiple of 8")

	got, gotMeta, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), "rt.safetensors")
	require.NoError(t, err)
	assert.Equal(t, meta, gotMeta, "ReadSafetensors metadata")
	require.Len(t, got, len(tensors))
	for i := 1; i < len(got); i++ {
		assert.Less(t, got[i-1].Name, got[i].Name, "ReadSafetensors returns tensors sorted by name")
	}
	for _, want := range tensors {
		var found *Tensor
		for i := range got {
			if got[i].Name == want.Name {
				found = &got[i]
			}
		}
		require.NotNil(t, found, "tensor %q missing", want.Name)
		assert.Equal(t, want.Shape, found.Shape, "shape of %q", want.Name)
		require.Len(t, found.Data, len(want.Data), "data of %q", want.Name)
		for i := range want.Data {
			assert.Equal(t, math.Float32bits(want.Data[i]), math.Float32bits(found.Data[i]), "tensor %q index %d", want.Name, i)
		}
	}

	// Writing what we read gives the same bytes.
	var again bytes.Buffer
	require.NoError(t, WriteSafetensors(&again, got, gotMeta))
	assert.Equal(t, buf.Bytes(), again.Bytes(), "write(read(write(x))) == write(x)")
}

func TestWriteSafetensorsRejects(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		wantErr string
	}{
		{"shape mismatch", []Tensor{{Name: "x", Shape: []int{2, 2}, Data: make([]float32, 3)}}, `tensor "x": shape [2 2] needs 4 floats but has 3`},
		{"duplicate", []Tensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}, {Name: "x", Shape: []int{1}, Data: []float32{2}}}, `duplicate tensor name "x"`},
		{"empty name", []Tensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, `invalid tensor name ""`},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, `invalid tensor name "__metadata__"`},
		{"negative dim", []Tensor{{Name: "x", Shape: []int{-1}, Data: nil}}, "negative dimension"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteSafetensors(&buf, tc.tensors, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Zero(t, buf.Len(), "nothing written on error")
		})
	}
}

func TestReadSafetensorsRejects(t *testing.T) {
	pad := func(h string) string {
		for len(h)%8 != 0 {
			h += " "
		}
		return h
	}
	entry := func(name, dtype, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(e) + `]}`
	}
	hugeLen := binary.LittleEndian.AppendUint64(nil, 200_000_000)
	overLen := binary.LittleEndian.AppendUint64(nil, 64)
	overLen = append(overLen, `{"a":1}`...)
	cases := []struct {
		name    string
		file    []byte
		wantErr string
	}{
		{"empty file", nil, "checkpoint adapter_model.safetensors: truncated: 0 bytes"},
		{"short length", []byte{1, 2, 3}, "truncated: 3 bytes"},
		{"absurd header length", hugeLen, "header length 200000000 is absurd"},
		{"header longer than file", overLen, "header length 64 exceeds the file (only 7 bytes follow)"},
		{"invalid JSON", rawSafetensors(pad(`{"a":`), nil), "invalid JSON"},
		{"not an object", rawSafetensors(pad(`[1,2]`), nil), "not an object"},
		{"trailing junk in header", rawSafetensors(pad(`{}x`), nil), "trailing characters"},
		{"unknown dtype", rawSafetensors(pad(`{`+entry("x", "I64", "[1]", 0, 8)+`}`), make([]byte, 8)), `tensor "x": unsupported dtype "I64"`},
		{"shape vs span", rawSafetensors(pad(`{`+entry("x", "F32", "[2,2]", 0, 12)+`}`), make([]byte, 12)),
			`checkpoint adapter_model.safetensors: header: tensor "x": data_offsets [0 12] hold 3 floats but shape [2 2] needs 4`},
		{"ragged span", rawSafetensors(pad(`{`+entry("x", "F32", "[1]", 0, 5)+`}`), make([]byte, 5)), "not a whole number of floats"},
		{"decreasing offsets", rawSafetensors(pad(`{`+entry("x", "F32", "[0]", 8, 4)+`}`), nil), "not an increasing pair"},
		{"negative dimension", rawSafetensors(pad(`{`+entry("x", "F32", "[-1]", 0, 0)+`}`), nil), "negative dimension"},
		{"missing fields", rawSafetensors(pad(`{"x":{"dtype":"F32"}}`), nil), "needs dtype, shape and data_offsets"},
		{"overlap", rawSafetensors(pad(`{`+entry("x", "F32", "[2]", 0, 8)+`,`+entry("y", "F32", "[1]", 4, 8)+`}`), make([]byte, 8)), "overlap"},
		{"gap", rawSafetensors(pad(`{`+entry("x", "F32", "[1]", 4, 8)+`}`), make([]byte, 8)), "leave a gap"},
		{"offsets outside data", rawSafetensors(pad(`{`+entry("x", "F32", "[4]", 0, 16)+`}`), make([]byte, 8)), "truncated: the header needs 16 data bytes but only 8 follow"},
		{"trailing data", rawSafetensors(pad(`{`+entry("x", "F32", "[1]", 0, 4)+`}`), make([]byte, 8)), "trailing bytes"},
		{"duplicate names", rawSafetensors(pad(`{`+entry("x", "F32", "[1]", 0, 4)+`,`+entry("x", "F32", "[1]", 4, 8)+`}`), make([]byte, 8)), `duplicate entry "x"`},
		{"bad metadata", rawSafetensors(pad(`{"__metadata__":{"a":1}}`), nil), "__metadata__ must map strings to strings"},
		{"invalid UTF-8", rawSafetensors(pad("{\"\xff\":1}"), nil), "not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, meta, err := ReadSafetensors(bytes.NewReader(tc.file), "adapter_model.safetensors")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "checkpoint adapter_model.safetensors: "), "error names the file: %v", err)
			assert.Nil(t, got, "no tensors on error")
			assert.Nil(t, meta, "no metadata on error")
		})
	}
}

// TestReadSafetensorsHalf checks F16 and BF16 widening against values worked out
// from the IEEE 754 encodings by hand.
func TestReadSafetensorsHalf(t *testing.T) {
	f16 := []uint16{0x3C00, 0xC000, 0x3555, 0x0001, 0x7C00, 0x8000, 0x7BFF}
	wantF16 := []float32{1, -2, 0.333251953125, 5.960464477539063e-08, float32(math.Inf(1)), float32(math.Copysign(0, -1)), 65504}
	bf16 := []uint16{0x3F80, 0xC040, 0x3EAB}
	wantBF16 := []float32{1, -3, 0.333984375}
	var data []byte
	for _, h := range f16 {
		data = binary.LittleEndian.AppendUint16(data, h)
	}
	for _, h := range bf16 {
		data = binary.LittleEndian.AppendUint16(data, h)
	}
	header := `{"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},"z":{"dtype":"BF16","shape":[3],"data_offsets":[14,20]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	got, _, err := ReadSafetensors(bytes.NewReader(rawSafetensors(header, data)), "half.safetensors")
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i, w := range wantF16 {
		assert.Equal(t, math.Float32bits(w), math.Float32bits(got[0].Data[i]), "F16 index %d", i)
	}
	for i, w := range wantBF16 {
		assert.Equal(t, math.Float32bits(w), math.Float32bits(got[1].Data[i]), "BF16 index %d", i)
	}
	nan := halfToFloat32(0x7E00)
	assert.True(t, nan != nan, "F16 NaN stays NaN")
}

func FuzzReadSafetensors(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteSafetensors(&buf, []Tensor{
		{Name: "a", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		{Name: "b", Shape: []int{3}, Data: []float32{5, 6, 7}},
	}, map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	buf.Reset()
	_ = WriteSafetensors(&buf, nil, nil)
	f.Add(buf.Bytes())
	f.Add(rawSafetensors(`{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}  `, []byte{0, 0x3c}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		tensors, meta, err := ReadSafetensors(bytes.NewReader(data), "fuzz.safetensors")
		if err != nil {
			if tensors != nil || meta != nil {
				t.Fatalf("partial result with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "checkpoint fuzz.safetensors: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, ts := range tensors {
			n, err := numel(ts.Shape, math.MaxInt32)
			if err != nil || n != len(ts.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", ts.Name, ts.Shape, len(ts.Data))
			}
		}
		// Whatever we accept, we can write and read back identically.
		var out bytes.Buffer
		if err := WriteSafetensors(&out, tensors, meta); err != nil {
			t.Fatalf("cannot rewrite accepted file: %v", err)
		}
		again, _, err := ReadSafetensors(bytes.NewReader(out.Bytes()), "fuzz.safetensors")
		if err != nil || len(again) != len(tensors) {
			t.Fatalf("rewritten file does not read back: %v", err)
		}
	})
}

func TestCheckFinite(t *testing.T) {
	ok := []Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1, -3.4e38}}, {Name: "b", Shape: []int{0}}}
	assert.NoError(t, CheckFinite(ok))
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		bad := append(ok, Tensor{Name: "c.weight", Shape: []int{1, 3}, Data: []float32{0, v, v}})
		err := CheckFinite(bad)
		assert.ErrorContains(t, err, fmt.Sprintf(`tensor "c.weight" holds %v at index 1 of 3 (shape [1 3])`, v))
	}
}
