// golora analyze: the LoRA paper's analyses of an adapter (core/analysis) as a table, JSON, and φ heatmaps like its Figure 3.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"golora/core/analysis"
	"golora/core/model"
)

// analyzeOutput is what -json prints: where the weights came from, then the report.
type analyzeOutput struct {
	Base    string `json:"base"`
	Adapter string `json:"adapter,omitempty"`
	Compare string `json:"compare,omitempty"`
	Full    string `json:"full,omitempty"`
	*analysis.Report
}

func runAnalyze(args []string) error {
	fs := newFlagSet("analyze")
	var bf baseFlags
	bf.register(fs)
	compare := fs.String("compare", "", "a second adapter folder (another rank or seed) for the subspace similarity φ")
	full := fs.String("full", "", "a fully fine-tuned model of the same base (safetensors, or a folder holding model.safetensors)")
	asJSON := fs.Bool("json", false, "print the whole report as one JSON object on stdout (φ over every i ≤ r1, j ≤ r2)")
	png := fs.String("png", "", "draw the φ heatmaps (lora_A, ΔW, random control) per module into this PNG; needs -compare")
	layer := fs.Int("layer", -1, "with -png: draw only this layer's modules (-1 = every layer)")
	opt := analysis.DefaultOptions()
	fs.Uint64Var(&opt.Seed, "seed", opt.Seed, "seed of the random controls")
	fs.IntVar(&opt.IntruderK, "intruder-k", opt.IntruderK, "intruder dimensions: top singular vectors of the fine-tuned W examined")
	fs.Float64Var(&opt.IntruderEps, "intruder-eps", opt.IntruderEps, "intruder dimensions: cosine threshold ε")
	fs.IntVar(&opt.FullRank, "full-rank", opt.FullRank, "r of a full fine-tuning ΔW's Table 7 projections without -adapter")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if err := opt.Validate(); err != nil {
		return err
	}
	if bf.adapter == "" && *full == "" {
		return errors.New("-adapter: give an adapter folder (or -full for a fully fine-tuned model alone)")
	}
	if *compare != "" && bf.adapter == "" {
		return errors.New("-compare needs -adapter")
	}
	if *png != "" && *compare == "" {
		return errors.New("-png draws φ between two adapters: it needs -compare")
	}
	base, _, err := bf.loadBase()
	if err != nil {
		return err
	}
	in := analysis.Inputs{Base: base}
	out := analyzeOutput{Base: bf.name(), Adapter: bf.adapter, Compare: *compare}
	if bf.adapter != "" {
		if in.LoRA, _, err = bf.load(); err != nil {
			return err
		}
	}
	if *compare != "" {
		cf := bf
		cf.adapter = *compare
		if in.Compare, _, err = cf.load(); err != nil {
			return fmt.Errorf("-compare: %w", err)
		}
	}
	if *full != "" {
		if out.Full, in.Full, err = loadFull(*full); err != nil {
			return fmt.Errorf("-full: %w", err)
		}
	}
	rep, err := analysis.Analyze(in, opt)
	if err != nil {
		return err
	}
	out.Report = rep
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			return err
		}
	} else {
		printAnalysis(out)
	}
	if *png != "" {
		if err := plotSimilarity(*png, out, *layer); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *png)
	}
	return nil
}

// loadFull reads a fully fine-tuned model: a golora safetensors file, or a folder holding model.safetensors.
func loadFull(path string) (string, *model.Model, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "model.safetensors")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	m, _, err := model.Load(f, path)
	return path, m, err
}

// shortModule turns model.layers.3.self_attn.q_proj into L3.q.
func shortModule(name string) string {
	rest := strings.TrimPrefix(name, "model.layers.")
	layer, proj, _ := strings.Cut(rest, ".")
	proj = proj[strings.LastIndex(proj, ".")+1:]
	return "L" + layer + "." + strings.TrimSuffix(proj, "_proj")
}

// phiColumns picks the columns j of a φ row shown in text: 1, 2, 4, ... and r2.
func phiColumns(r2 int) []int {
	var js []int
	for j := 1; j < r2; j *= 2 {
		js = append(js, j)
	}
	return append(js, r2)
}

func printAnalysis(out analyzeOutput) {
	rep := out.Report
	fmt.Printf("base %s", out.Base)
	if out.Adapter != "" {
		fmt.Printf(", adapter %s (r=%d)", out.Adapter, rep.Rank)
	}
	if out.Compare != "" {
		fmt.Printf(", compared with %s (r=%d)", out.Compare, rep.CompareRank)
	}
	if out.Full != "" {
		fmt.Printf(", full fine-tuning %s", out.Full)
	}
	fmt.Println()
	o := rep.Options
	fmt.Printf("\nΔW against W (the paper's Table 7): ||UᵀWV||_F with U, V the top-r singular vectors of ΔW, of W, of random\n"+
		"directions; amplification = ||ΔW||_F / ||UᵀWV||_F on ΔW's own. Effective rank: Roy & Vetterli (entropy); r90: singular\n"+
		"values holding 90%% of ||ΔW||²_F. Intruders: of the top %d singular vectors of W0 + ΔW, those with |cos| < %g to all of W0's.\n\n",
		o.IntruderK, o.IntruderEps)
	fmt.Printf("%-8s %-5s %3s %8s %8s %8s %8s %8s %8s %7s %4s %9s\n", "module", "ΔW", "r", "||W||", "||ΔW||", "on ΔW", "on W", "random", "amplif", "erank", "r90", "intruders")
	row := func(mod analysis.Module, kind string, u *analysis.Update) {
		p := u.Projection
		fmt.Printf("%-8s %-5s %3d %8.3f %8.3f %8.4f %8.3f %8.4f %8.2f %7.2f %4d %6d/%-2d\n", shortModule(mod.Name), kind, p.R,
			p.NormW, p.NormDelta, p.OnDelta, p.OnW, p.OnRandom, p.Amplification, u.Spectrum.EffectiveRank, u.Spectrum.Energy90,
			u.Intruders.Count, u.Intruders.K)
	}
	for _, mod := range rep.Modules {
		if mod.LoRA != nil {
			row(mod, "lora", mod.LoRA)
		}
		if mod.Full != nil {
			row(mod, "full", mod.Full)
		}
	}
	if out.Adapter != "" {
		fmt.Printf("intruder dimensions in all: LoRA %d", rep.LoRAIntruders)
	} else {
		fmt.Printf("intruder dimensions in all:")
	}
	if out.Full != "" {
		fmt.Printf(", full fine-tuning %d", rep.FullIntruders)
	}
	fmt.Println()
	if out.Compare == "" {
		return
	}
	fmt.Printf("\nSubspace similarity φ(i, j) = ||U1^iᵀ U2^j||²_F / min(i, j) (the paper's Eq. 4) between the right singular vectors\n"+
		"of the two lora_A (i ≤ %d, j ≤ %d; all of them with -json or -png), and the same between Gaussian matrices (random):\n",
		rep.Rank, rep.CompareRank)
	for _, mod := range rep.Modules {
		c := mod.Compare
		if c == nil {
			continue
		}
		js := phiColumns(c.R2)
		fmt.Printf("\n%-8s  i\\j", shortModule(mod.Name))
		for _, j := range js {
			fmt.Printf(" %5d", j)
		}
		fmt.Printf("   | random:")
		for _, j := range js {
			fmt.Printf(" %5d", j)
		}
		fmt.Println()
		for i := range c.R1 {
			fmt.Printf("%-8s %4d", "", i+1)
			for _, j := range js {
				fmt.Printf(" %5.2f", c.A[i][j-1])
			}
			fmt.Printf("   |        ")
			for _, j := range js {
				fmt.Printf(" %5.2f", c.RandomA[i][j-1])
			}
			fmt.Println()
		}
		fmt.Printf("%-8s ΔW's left singular vectors: φ(1, 1) = %.2f, φ(%d, %d) = %.2f (random %.2f)\n", "",
			c.DeltaW[0][0], c.R1, c.R2, c.DeltaW[c.R1-1][c.R2-1], c.RandomDeltaW[c.R1-1][c.R2-1])
	}
}

// phiGrid shows one φ matrix to gonum/plot: columns j, rows i, both from 1.
type phiGrid [][]float64

func (g phiGrid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g phiGrid) Z(c, r int) float64 { return g[r][c] }
func (g phiGrid) X(c int) float64    { return float64(c + 1) }
func (g phiGrid) Y(r int) float64    { return float64(r + 1) }

// plotSimilarity draws, for every compared module (of one layer, or all), φ over lora_A, over ΔW and the
// random control side by side, with one colour scale from 0 to 1, as the paper's Figures 3 and 4 do.
func plotSimilarity(path string, out analyzeOutput, layer int) error {
	var mods []analysis.Module
	for _, m := range out.Report.Modules {
		if m.Compare != nil && (layer < 0 || strings.HasPrefix(m.Name, fmt.Sprintf("model.layers.%d.", layer))) {
			mods = append(mods, m)
		}
	}
	if len(mods) == 0 {
		return fmt.Errorf("-png: no compared module in layer %d", layer)
	}
	cmap := moreland.ExtendedBlackBody()
	cmap.SetMin(0)
	cmap.SetMax(1)
	pal := cmap.Palette(255)
	r1, r2 := out.Report.Rank, out.Report.CompareRank
	panels := []struct {
		title string
		grid  func(c *analysis.Comparison) [][]float64
	}{
		{fmt.Sprintf("φ(A r=%d, A r=%d)", r1, r2), func(c *analysis.Comparison) [][]float64 { return c.A }},
		{fmt.Sprintf("φ(ΔW r=%d, ΔW r=%d)", r1, r2), func(c *analysis.Comparison) [][]float64 { return c.DeltaW }},
		{"random Gaussian A's", func(c *analysis.Comparison) [][]float64 { return c.RandomA }},
	}
	rows := make([][]*plot.Plot, len(mods)+1)
	for i, m := range mods {
		for _, pn := range panels {
			p := plot.New()
			p.Title.Text = shortModule(m.Name) + ": " + pn.title
			p.X.Label.Text = "j"
			p.Y.Label.Text = "i"
			h := plotter.NewHeatMap(phiGrid(pn.grid(m.Compare)), pal)
			h.Min, h.Max = 0, 1 // one rectangle per (i, j): a rasterized heat map blurs the cells when scaled
			p.Add(h)
			p.X.Min, p.X.Max = 0.5, float64(r2)+0.5
			p.Y.Min, p.Y.Max = 0.5, float64(r1)+0.5
			rows[i] = append(rows[i], p)
		}
	}
	// The colour bar, then two cells that say what the picture shows and what the paper found.
	bar := plot.New()
	bar.Title.Text = "φ"
	bar.HideY()
	bar.X.Min, bar.X.Max = 0, 1
	bar.Add(&plotter.ColorBar{ColorMap: cmap})
	found := "The paper (GPT-3, layer 48, Figure 3): the top direction of r=8 and r=64 overlaps (φ > 0.5), the rest look like noise."
	if r1 == r2 {
		found = "The paper (GPT-3, two seeds at r=64, Figure 4): a few top directions are shared, more for ΔWq than for ΔWv."
	}
	rows[len(mods)] = []*plot.Plot{bar, textPlot("φ = 1: the top-i directions of one adapter lie in the span of the other's top j; 0: orthogonal."),
		textPlot(found)}
	const colW, rowH = 4.2 * vg.Inch, 1.6 * vg.Inch
	img := vgimg.New(3*colW, vg.Length(len(mods)+1)*rowH)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(rows), Cols: 3, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align(rows, tiles, dc)
	for i, row := range rows {
		for j, p := range row {
			p.Draw(canvases[i][j])
		}
	}
	return savePNG(img, path)
}

// textPlot is a plot cell holding one sentence as its title, with no axes.
func textPlot(s string) *plot.Plot {
	p := plot.New()
	p.Title.Text = wrapText(s, 54)
	p.HideAxes()
	return p
}

// wrapText breaks s into lines of at most width runes, at spaces.
func wrapText(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}
