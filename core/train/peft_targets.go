// How PEFT reads an adapter_config.json's target_modules, so that golora applies an adapter to the modules PEFT would.
package train

import (
	"fmt"
	"strings"

	"golora/core/model"
)

// peftTargets maps target_modules (a list of names) onto the targets, matching them as PEFT does
// (tuners_utils.check_target_module_exists): a name matches a module whose full name equals it or ends in "." and
// the name, case-sensitively. So "q_proj" and "self_attn.q_proj" name the query projection of every layer, while
// "q" or "Q_PROJ" match no module of a Llama model, and PEFT would adapt nothing: those are refused with what to
// write instead, as is a name matching only some layers (golora's adapters cover every layer).
func peftTargets(c model.Config, names []string) ([]model.Target, error) {
	var short []string
	for _, name := range names {
		var matched []model.Target
		layers := map[model.Target]int{}
		for _, t := range model.AllTargets() {
			for l := range c.NLayers {
				if m := t.Module(l); m == name || strings.HasSuffix(m, "."+name) {
					layers[t]++
				}
			}
			if layers[t] > 0 {
				matched = append(matched, t)
			}
		}
		switch {
		case len(matched) == 0:
			hint := "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj"
			if t, err := model.ParseTarget(name); err == nil {
				hint = fmt.Sprintf("%q", t.ProjName())
			}
			return nil, fmt.Errorf("target_modules: %q matches no module of this model the way PEFT matches them (the "+
				"end of a module's name, such as model.layers.0.self_attn.q_proj, case-sensitively), so PEFT would "+
				"adapt nothing with it: write %s", name, hint)
		case len(matched) > 1:
			return nil, fmt.Errorf("target_modules: %q matches %d kinds of module; name one projection each", name, len(matched))
		case layers[matched[0]] < c.NLayers:
			return nil, fmt.Errorf("target_modules: %q matches %s in %d of the %d layers; golora's adapters cover "+
				"every layer (write %q)", name, matched[0].ProjName(), layers[matched[0]], c.NLayers, matched[0].ProjName())
		}
		short = append(short, matched[0].String())
	}
	return model.ParseTargets(short)
}
