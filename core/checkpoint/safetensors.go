// This file holds the safetensors reader and writer.
//
// Layout (as the reference implementation writes it): an 8-byte little-endian
// header length N; N bytes of JSON
//
//	{"__metadata__":{"k":"v"},"name":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},...}
//
// padded with spaces to a multiple of 8; then the raw little-endian tensor data,
// where data_offsets are relative to the end of the header. The tensors tile the
// data section exactly: no gaps, no overlaps, no trailing bytes.

package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tensor is one named float32 array with its PyTorch shape (row-major).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// CheckFinite returns an error naming the first tensor that holds a NaN or an infinity, with its first such value and
// its index, or nil. Weights from outside go through it before anything computes with them: one NaN weight makes every
// output NaN (a merged model, a generation, a training run), far from its cause.
func CheckFinite(tensors []Tensor) error {
	for _, t := range tensors {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %q holds %v at index %d of %d (shape %v); weights must be finite", t.Name, v, i, len(t.Data), t.Shape)
			}
		}
	}
	return nil
}

// maxHeaderBytes bounds the JSON header, as the reference implementation does
// (100 MB), so that a corrupt length cannot make us allocate gigabytes.
const maxHeaderBytes = 100_000_000

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// dtypeSizes lists the dtypes we read, with their size in bytes. F16 and BF16
// are widened to float32 on read (PEFT adapters are often saved in half precision).
var dtypeSizes = map[string]int{"F32": 4, "F16": 2, "BF16": 2}

// numel returns the product of shape, or an error if a dimension is negative or
// the product overflows limit.
func numel(shape []int, limit int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > limit/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// marshalString encodes s as a JSON string without HTML escaping, as serde_json does.
func marshalString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// WriteSafetensors writes tensors (sorted by name) and metadata (omitted when
// empty) in the safetensors format. Every tensor must have a non-empty unique
// name and len(Data) equal to the product of its shape; nothing is written
// otherwise.
func WriteSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	sorted := make([]Tensor, len(tensors))
	copy(sorted, tensors)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i, t := range sorted {
		if t.Name == "" || t.Name == metadataKey || !utf8.ValidString(t.Name) {
			return fmt.Errorf("checkpoint: write safetensors: invalid tensor name %q", t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return fmt.Errorf("checkpoint: write safetensors: duplicate tensor name %q", t.Name)
		}
		n, err := numel(t.Shape, math.MaxInt/4)
		if err != nil {
			return fmt.Errorf("checkpoint: write safetensors: tensor %q: %w", t.Name, err)
		}
		if n != len(t.Data) {
			return fmt.Errorf("checkpoint: write safetensors: tensor %q: shape %v needs %d floats but has %d",
				t.Name, t.Shape, n, len(t.Data))
		}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("checkpoint: write safetensors: metadata %q is not valid UTF-8", k)
		}
	}

	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hdr.Write(marshalString(metadataKey))
		hdr.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			hdr.Write(marshalString(k))
			hdr.WriteByte(':')
			hdr.Write(marshalString(metadata[k]))
		}
		hdr.WriteByte('}')
	}
	offset := 0
	for i, t := range sorted {
		if i > 0 || len(metadata) > 0 {
			hdr.WriteByte(',')
		}
		shape := make([]string, len(t.Shape))
		for j, d := range t.Shape {
			shape[j] = fmt.Sprint(d)
		}
		end := offset + 4*len(t.Data)
		hdr.Write(marshalString(t.Name))
		fmt.Fprintf(&hdr, `:{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}`, strings.Join(shape, ","), offset, end)
		offset = end
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}

	buf := make([]byte, 8, 8+hdr.Len()+offset)
	binary.LittleEndian.PutUint64(buf, uint64(hdr.Len()))
	buf = append(buf, hdr.Bytes()...)
	for _, t := range sorted {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("checkpoint: write safetensors: %w", err)
	}
	return nil
}

// tensorInfo is one header entry as it appears in the JSON.
type tensorInfo struct {
	DType       *string `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// parsedEntry is a validated header entry.
type parsedEntry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

// ReadSafetensors reads a whole safetensors stream and returns its tensors
// (sorted by name, widened to float32) and its metadata (nil when absent).
// name is the file name used in errors.
func ReadSafetensors(r io.Reader, name string) ([]Tensor, map[string]string, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: "+format, append([]any{name}, args...)...)
	}
	var lenBuf [8]byte
	if n, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fail("truncated: %d bytes, a safetensors file starts with an 8-byte header length", n)
		}
		return nil, nil, fail("%w", err)
	}
	hdrLen := binary.LittleEndian.Uint64(lenBuf[:])
	if hdrLen > maxHeaderBytes {
		return nil, nil, fail("header length %d is absurd (limit %d bytes)", hdrLen, maxHeaderBytes)
	}
	if hdrLen < 2 {
		return nil, nil, fail("header length %d is too short for a JSON object", hdrLen)
	}
	hdr, err := io.ReadAll(io.LimitReader(r, int64(hdrLen)))
	if err != nil {
		return nil, nil, fail("%w", err)
	}
	if uint64(len(hdr)) < hdrLen {
		return nil, nil, fail("header length %d exceeds the file (only %d bytes follow)", hdrLen, len(hdr))
	}
	entries, metadata, err := parseHeader(hdr)
	if err != nil {
		return nil, nil, fail("header: %w", err)
	}

	// The tensors must tile the data section: sort by offset and walk it.
	byOffset := make([]*parsedEntry, len(entries))
	for i := range entries {
		byOffset[i] = &entries[i]
	}
	sort.Slice(byOffset, func(i, j int) bool {
		if byOffset[i].begin != byOffset[j].begin {
			return byOffset[i].begin < byOffset[j].begin
		}
		return byOffset[i].end < byOffset[j].end
	})
	var dataLen int64
	for _, e := range byOffset {
		if e.begin < dataLen {
			return nil, nil, fail("tensor %q: data_offsets [%d %d] overlap the previous tensor (ending at %d)", e.name, e.begin, e.end, dataLen)
		}
		if e.begin > dataLen {
			return nil, nil, fail("tensor %q: data_offsets [%d %d] leave a gap after byte %d", e.name, e.begin, e.end, dataLen)
		}
		dataLen = e.end
	}
	data, err := io.ReadAll(io.LimitReader(r, dataLen+1))
	if err != nil {
		return nil, nil, fail("%w", err)
	}
	if int64(len(data)) < dataLen {
		return nil, nil, fail("truncated: the header needs %d data bytes but only %d follow", dataLen, len(data))
	}
	if int64(len(data)) > dataLen {
		return nil, nil, fail("trailing bytes after the %d data bytes the header describes", dataLen)
	}

	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	tensors := make([]Tensor, len(entries))
	for i, e := range entries {
		raw := data[e.begin:e.end]
		var vals []float32
		switch e.dtype {
		case "F32":
			vals = make([]float32, len(raw)/4)
			for j := range vals {
				vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
		case "F16":
			vals = make([]float32, len(raw)/2)
			for j := range vals {
				vals[j] = halfToFloat32(binary.LittleEndian.Uint16(raw[2*j:]))
			}
		case "BF16":
			vals = make([]float32, len(raw)/2)
			for j := range vals {
				vals[j] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*j:])) << 16)
			}
		}
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: vals}
	}
	return tensors, metadata, nil
}

// parseHeader decodes and validates the JSON header (hdr may carry trailing
// spaces). It walks the top-level object token by token so that duplicate names,
// which encoding/json would silently merge, are caught.
func parseHeader(hdr []byte) ([]parsedEntry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("invalid JSON: not an object")
	}
	seen := map[string]bool{}
	var entries []parsedEntry
	var metadata map[string]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("invalid JSON: object key is not a string")
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate entry %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("invalid JSON in %q: %w", key, err)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &metadata); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		e, err := parseEntry(key, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if rest := bytes.Trim(hdr[dec.InputOffset():], " \t\r\n"); len(rest) != 0 {
		return nil, nil, errors.New("invalid JSON: trailing characters after the header object")
	}
	return entries, metadata, nil
}

// parseEntry validates one tensor entry: known dtype, non-negative shape whose
// size matches the byte span of data_offsets.
func parseEntry(name string, raw json.RawMessage) (parsedEntry, error) {
	if name == "" {
		return parsedEntry{}, errors.New("empty tensor name")
	}
	var info tensorInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return parsedEntry{}, fmt.Errorf("invalid entry: %w", err)
	}
	if info.DType == nil || info.Shape == nil || info.DataOffsets == nil {
		return parsedEntry{}, errors.New("entry needs dtype, shape and data_offsets")
	}
	size, ok := dtypeSizes[*info.DType]
	if !ok {
		return parsedEntry{}, fmt.Errorf("unsupported dtype %q (golora reads F32, F16 and BF16)", *info.DType)
	}
	if len(info.DataOffsets) != 2 {
		return parsedEntry{}, fmt.Errorf("data_offsets %v must hold [begin, end]", info.DataOffsets)
	}
	begin, end := info.DataOffsets[0], info.DataOffsets[1]
	if begin < 0 || end < begin {
		return parsedEntry{}, fmt.Errorf("data_offsets [%d %d] are not an increasing pair", begin, end)
	}
	n, err := numel(info.Shape, math.MaxInt32)
	if err != nil {
		return parsedEntry{}, err
	}
	span := end - begin
	if span != int64(n)*int64(size) {
		what := "floats"
		if *info.DType != "F32" {
			what = *info.DType + " values"
		}
		if span%int64(size) != 0 {
			return parsedEntry{}, fmt.Errorf("data_offsets [%d %d] span %d bytes, not a whole number of %s, but shape %v needs %d",
				begin, end, span, what, info.Shape, n)
		}
		return parsedEntry{}, fmt.Errorf("data_offsets [%d %d] hold %d %s but shape %v needs %d",
			begin, end, span/int64(size), what, info.Shape, n)
	}
	return parsedEntry{name: name, dtype: *info.DType, shape: info.Shape, begin: begin, end: end}, nil
}

// halfToFloat32 widens an IEEE 754 half-precision value (exactly: every half is
// representable as a float32).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise into float32's wider exponent range
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
}
