// The browser page's settings as JSON: what its form, its URL hash and its Web Worker send through wasm/, decoded onto
// DefaultConfig, and the page's names for the fields that Validate reports.
package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"golora/core/data"
)

// PageFile is the JSON Lines file that the page's user chose for the task "custom".
type PageFile struct {
	Name string // as the user's file system names it, for messages
	Data []byte
}

// pageKeys maps each key of the page's settings to the field of c that it sets. The page spells them in camelCase:
// PageField turns Validate's snake_case names into these.
func pageKeys(c *Config) map[string]any {
	return map[string]any{
		"task": &c.Task, "difficulty": &c.Difficulty, "facts": &c.Facts, "method": &c.Method, "rank": &c.Rank,
		"alpha": &c.Alpha, "rslora": &c.RSLoRA, "targets": &c.Targets, "init": &c.Init, "dropout": &c.Dropout, "intrinsicDim": &c.IntrinsicDim,
		"lr": &c.LR, "steps": &c.Steps, "batch": &c.Batch, "warmup": &c.Warmup, "weightDecay": &c.WeightDecay,
		"clip": &c.Clip, "seed": &c.Seed, "shards": &c.Shards, "evalEvery": &c.EvalEvery, "evalLimit": &c.EvalLimit,
		"layers": &c.Layers, "bottleneck": &c.Bottleneck, "prefixLen": &c.PrefixLen, "lrRatioB": &c.LRRatioB,
		"prefixProjection": &c.PrefixProjection,
		"trainTokens":      &c.TrainTokens,
		"tokensLr":         &c.TokensLR, // Validate's tokens_lr (PageField)
	}
}

// ParsePageConfig decodes the page's settings: a JSON object with the keys of EncodePageConfig, any of them absent
// (keeping DefaultConfig's value). Keys match exactly; an unknown key, a null, or a value of the wrong type is refused
// as a *FieldError naming the page's key. For the task "custom", file is the user's file (nil while none is chosen),
// read with data.ReadJSONL into Config.Custom. ParsePageConfig only decodes: Validate checks the values.
func ParsePageConfig(text []byte, file *PageFile) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(text, &raw); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if raw == nil {
		return Config{}, errors.New("config: want a JSON object, got null")
	}
	c := DefaultConfig()
	dst := pageKeys(&c)
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		d, ok := dst[key]
		if !ok {
			errs = append(errs, fmt.Errorf("config: unknown setting %q", key))
			continue
		}
		v := bytes.TrimSpace(raw[key])
		if bytes.Equal(v, []byte("null")) || json.Unmarshal(v, d) != nil {
			errs = append(errs, &FieldError{Field: key, Reason: fmt.Sprintf("want %s, got %.40s", kindOf(d), v)})
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if c.Task == "custom" {
		if file == nil {
			return c, &FieldError{Field: "custom", Reason: `choose a JSON Lines file of {"prompt": ..., "completion": ...} lines`}
		}
		name := file.Name
		if name == "" {
			name = "your file"
		}
		ex, err := data.ReadJSONL(bytes.NewReader(file.Data), name)
		if err != nil {
			return c, &FieldError{Field: "custom", Reason: err.Error()}
		}
		c.Custom = ex
	}
	return c, nil
}

// EncodePageConfig is c's settings as the page spells them, every key present (Custom is the page's file, not a key).
func EncodePageConfig(c Config) ([]byte, error) {
	return json.Marshal(pageKeys(&c))
}

// PageField is the page's name of a field as FieldError spells it: "weight_decay" is the page's "weightDecay".
func PageField(field string) string {
	parts := strings.Split(field, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// kindOf names what a setting's field holds, for messages.
func kindOf(dst any) string {
	switch reflect.TypeOf(dst).Elem().Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32:
		return "a number"
	case reflect.Uint64:
		return "a whole number from 0"
	case reflect.Slice:
		return "a list of strings"
	default:
		return "a whole number"
	}
}
