// Targets: the seven linear layers of a block that LoRA can adapt.
package model

import (
	"fmt"
	"strings"
)

// Target names one of a block's linear layers.
type Target int

// The adaptable linear layers, in block order.
const (
	TargetQ Target = iota
	TargetK
	TargetV
	TargetO
	TargetGate
	TargetUp
	TargetDown
	NumTargets
)

var targetNames = [NumTargets]string{"q", "k", "v", "o", "gate", "up", "down"}
var targetModules = [NumTargets]string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
	"self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}

// String is the short name: q, k, v, o, gate, up or down.
func (t Target) String() string { return targetNames[t] }

// ProjName is the Hugging Face / PEFT target_modules name: q_proj ... down_proj.
func (t Target) ProjName() string { return targetNames[t] + "_proj" }

// Module is the module path of t in layer l, in Hugging Face Llama naming.
func (t Target) Module(l int) string { return fmt.Sprintf("model.layers.%d.%s", l, targetModules[t]) }

// AllTargets lists the seven targets in block order.
func AllTargets() []Target {
	ts := make([]Target, NumTargets)
	for i := range ts {
		ts[i] = Target(i)
	}
	return ts
}

// ParseTarget accepts a short name ("q") or a PEFT module name ("q_proj").
func ParseTarget(s string) (Target, error) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "_proj")
	for i, n := range targetNames {
		if n == name {
			return Target(i), nil
		}
	}
	return 0, fmt.Errorf("unknown target %q (want q, k, v, o, gate, up or down)", s)
}

// ParseTargets parses a list such as ["q", "v"] or "q,v", rejecting duplicates, and returns them in block order.
func ParseTargets(names []string) ([]Target, error) {
	var seen [NumTargets]bool
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			t, err := ParseTarget(part)
			if err != nil {
				return nil, err
			}
			if seen[t] {
				return nil, fmt.Errorf("target %q listed twice", part)
			}
			seen[t] = true
		}
	}
	var ts []Target
	for i, s := range seen {
		if s {
			ts = append(ts, Target(i))
		}
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no targets given (want some of q, k, v, o, gate, up, down)")
	}
	return ts, nil
}

// Shape returns the (in, out) sizes of target t's weight under c.
func (c Config) Shape(t Target) (in, out int) {
	switch t {
	case TargetQ, TargetO:
		return c.Dim, c.Dim
	case TargetK, TargetV:
		return c.Dim, c.KVDim()
	case TargetGate, TargetUp:
		return c.Dim, c.HiddenDim
	case TargetDown:
		return c.HiddenDim, c.Dim
	}
	panic("model: unknown target")
}
