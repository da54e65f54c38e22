// panels/analyse.js is the "Analyse" panel: the LoRA paper's Section 7, and Shuttleworth et al.'s intruder dimensions,
// on runs of the results table. One run: the singular values of its update ΔW for a chosen module, and per layer and
// matrix Table 7's amplification factor (or ΔW's effective rank, or the intruder dimensions). Two LoRA runs (two ranks,
// or two seeds): Figure 3's subspace similarity φ(i, j) for the chosen module, beside the same between random matrices.
//
// What the analyses need is kept with every finished run in IndexedDB (panels/runs.js): a LoRA run's PEFT adapter, a
// full or intrinsic run's fine-tuned model; so an analysis works after a reload. Every SVD runs in Go in the worker
// (the engine's analyse), never on this thread; a report comes back as plain numbers and is drawn here.
import { Chart, COLORS } from "../charts.js";
import { $, el, keyed, setText } from "../dom.js";
import { fmtBytes, fmtInt, fmtPct, fmtWhen, taskName } from "../format.js";

let ctx;
let spectrumChart;
const reports = new Map(); // "idA|idB" -> {pending} | {report, ms} | {error}
const requests = new Map(); // request id -> key
let nextId = 1;
// The runs and module chosen ("" b: one run alone); until the user picks a run, the newest one.
const sel = { a: "", b: "", module: "", picked: false };
let heatWidth = 0; // the heatmaps' container width, for redrawing when it changes

// What a picture shows, and what the papers found: two sentences under each.
const CAPTIONS = {
  phi: "φ(i, j) = ‖Uᵢᵀ Uⱼ‖²_F / min(i, j) compares the top-i singular directions of the run (rows) with the top-j " +
    "of the run compared (columns): 1 where one span holds the other, 0 where they are orthogonal, beside the same " +
    "between Gaussian matrices of the same shapes. Hu et al. (LoRA, Figures 3-4) found that A's top directions at " +
    "r = 8 and r = 64, or of two seeds, overlap far above the random level (φ > 0.5 at i = 1) while the rest do " +
    "not: the reason r = 1 already works well on GPT-3.",
  spectrum: "The singular values of this module's update ΔW (log scale), largest first: a LoRA update has at most r, " +
    "a full fine-tuning update as many as the matrix's smaller side. Hu et al. (Section 7.2) found that ΔW has a very " +
    "low intrinsic rank, most of it in its top one or few directions; a spectrum that falls steeply after its first " +
    "values says the same of this run.",
  amplification: "How much ΔW amplifies the directions of the pre-trained W it acts on: ‖ΔW‖_F / ‖UᵀWV‖_F with U, V " +
    "ΔW's top-r singular vectors (hover a cell for the projections on W's own and on random directions). Hu et al. " +
    "(Table 7) found that ΔW amplifies directions W does not emphasise, by about 21.5 at r = 4 and about 2 at " +
    "r = 64 (W_q, GPT-3's 48th layer).",
  erank: "The effective rank of ΔW, exp of the entropy of its normalised singular values (Roy and Vetterli), per " +
    "layer and matrix. Hu et al. (Section 7.2) found that ΔW's useful part has a very low rank: a small effective " +
    "rank, even where r is large, says the same here.",
  rank90: "How many singular values hold 90% of ‖ΔW‖²_F, per layer and matrix. Hu et al. (Section 7.2) found that " +
    "the top directions carry what matters, the others mostly noise accumulated in training.",
  intruders: "Intruder dimensions: among the top 10 singular vectors of the fine-tuned W, those whose largest " +
    "|cosine| with every singular vector of W0 is below 0.5. Shuttleworth et al. (2024) found that LoRA creates such " +
    "dimensions and full fine-tuning hardly any, even where both reach the same accuracy.",
};

export function init(c) {
  ctx = c;
  ctx.on("analysed", (p) => {
    const key = requests.get(p.id);
    if (!key) return;
    requests.delete(p.id);
    reports.set(key, p.error ? { error: p.error, ms: p.ms } : { report: p.report, ms: p.ms });
    ctx.invalidate();
  });
  const choose = (what) => (e) => {
    sel[what] = e.target.value;
    if (what === "a") sel.picked = true;
    ctx.invalidate();
  };
  $("analyse-a").addEventListener("change", choose("a"));
  $("analyse-b").addEventListener("change", choose("b"));
  $("analyse-module").addEventListener("change", choose("module"));
  $("analyse-metric").addEventListener("change", () => ctx.invalidate());
  spectrumChart = new Chart($("spectrum-chart"), {
    x: { label: "singular value k", fmt: fmtInt, integer: true },
    y: { fmt: fmtSci, log: 10, splits: () => decades(spectrumChart ? spectrumChart.range.y : [1, 1]) },
    series: [{ name: "LoRA ΔW", color: COLORS.accent, points: true },
      { name: "full fine-tuning ΔW", color: COLORS.ink, points: true }],
    tip: (i) => {
      const d = spectrumChart.u.data;
      const lines = [`k = ${d[0][i]}`];
      if (d[1][i] != null) lines.push(`LoRA σ = ${fmtSci(d[1][i])}`);
      if (d[2][i] != null) lines.push(`full σ = ${fmtSci(d[2][i])}`);
      return lines.length > 1 ? lines : null;
    },
  });
  new ResizeObserver(() => {
    const w = $("analyse-heatmaps").clientWidth;
    if (w !== heatWidth) { heatWidth = w; ctx.invalidate(); }
  }).observe($("analyse-heatmaps"));
}

// decades are the powers of ten from lo to hi (a log axis's ticks; uPlot's own would loop on a range from 0).
function decades([lo, hi]) {
  if (!(lo > 0) || !(hi >= lo)) return [1];
  const out = [];
  for (let e = Math.round(Math.log10(lo)); e <= Math.round(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function fmtSci(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  return v >= 0.01 && v < 1000 ? String(+v.toPrecision(3)) : v.toExponential(1);
}

// analysable reports whether rec kept what its analyses read: a LoRA adapter, or a fine-tuned model.
export function analysable(rec) {
  return !rec.diverged && ((rec.method === "lora" && !!rec.adapter) || !!rec.fineTuned);
}

// kept is what rec keeps for its analyses, in bytes and words.
export function kept(rec) {
  if (rec.method === "lora" && rec.adapter) {
    return { bytes: rec.adapter.byteLength + (rec.adapterConfig || "").length, what: "its PEFT adapter" };
  }
  if (rec.fineTuned) return { bytes: rec.fineTuned.byteLength, what: "its fine-tuned model" };
  return { bytes: 0, what: "" };
}

function runMethod(rec) {
  const c = rec.config || {};
  if (rec.method === "lora") return `LoRA r=${rec.rank} ${(rec.targets || []).join(",")} seed ${c.seed}`;
  if (rec.method === "intrinsic") return `intrinsic d=${fmtInt(c.intrinsicDim)}`;
  if (rec.method === "full") return `full fine-tuning lr ${c.lr}`;
  return rec.method;
}

function runLabel(rec) {
  return `${taskName(rec.task)} · ${runMethod(rec)} · ${fmtPct(rec.accuracy)} · ${fmtWhen(rec.time)}`;
}

// moduleName splits "model.layers.2.self_attn.q_proj" into its layer and matrix ("q").
function moduleName(name) {
  const m = /layers\.(\d+)\.(?:self_attn|mlp)\.(\w+?)(?:_proj)?$/.exec(name);
  return m ? { layer: +m[1], matrix: m[2] } : { layer: 0, matrix: name };
}

const MATRICES = ["q", "k", "v", "o", "gate", "up", "down"];

// onBase reports whether rec trained on the base the engine holds, on which its analyses read W0 (runs recorded before
// the page had a choice of base trained on the shipped one).
function onBase(rec) {
  const m = ctx.state.model;
  const s = ctx.state.shippedModel;
  const fp = rec.base ? rec.base.fingerprint : s && s.fingerprint;
  return !!m && fp === m.fingerprint;
}

export function render() {
  const { state } = ctx;
  const runs = state.runs.filter((r) => analysable(r) && onBase(r)); // another base's runs: choose it to analyse them
  const byId = new Map(runs.map((r) => [r.id, r]));
  if (!byId.has(sel.a) || !sel.picked) sel.a = runs.length ? runs[0].id : "";
  if (sel.b && !byId.has(sel.b)) sel.b = "";
  const sig = runs.map((r) => r.id).join(",");
  keyed($("analyse-a"), sig, () => runs.length ? runs.map((r) => el("option", { value: r.id, text: runLabel(r) })) :
    [el("option", { value: "", text: "no finished run yet" })]);
  keyed($("analyse-b"), sig, () => [el("option", { value: "", text: "none: this run alone" }),
    ...runs.map((r) => el("option", { value: r.id, text: runLabel(r) }))]);
  if ($("analyse-a").value !== sel.a) $("analyse-a").value = sel.a;
  if ($("analyse-b").value !== sel.b) $("analyse-b").value = sel.b;
  $("analyse-a").disabled = !runs.length;
  $("analyse-b").disabled = runs.length < 2;

  const a = byId.get(sel.a);
  const b = sel.b && sel.b !== sel.a ? byId.get(sel.b) : null; // a run compared with itself is that run alone
  renderStorage(a, b);
  if (!a) {
    setText("analyse-status", state.runs.length ? "None of these results kept what the analyses read (runs from " +
      "before they were kept): train a run to analyse it." : "Finished runs can be analysed here: train one, or two " +
      "LoRA runs (two ranks, or two seeds) to compare.");
    show(null);
    return;
  }
  const key = `${a.id}|${b ? b.id : ""}`;
  let entry = reports.get(key);
  if (!entry && state.ready) {
    const id = nextId++;
    requests.set(id, key);
    entry = { pending: true };
    reports.set(key, entry);
    const run = (r) => ({ name: runMethod(r), adapter: r.method === "lora" ? r.adapter : null,
      adapterConfig: r.method === "lora" ? r.adapterConfig : "", fineTuned: r.method === "lora" ? null : r.fineTuned });
    ctx.send("analyse", { id, a: run(a), b: b ? run(b) : null });
  }
  if (!entry || entry.pending) {
    setText("analyse-status", "Analysing in the worker (the SVDs run in Go)…");
    show(null);
    return;
  }
  if (entry.error) {
    setText("analyse-status", `The analysis failed: ${entry.error}`);
    show(null);
    return;
  }
  const rep = entry.report;
  const mods = rep.modules || [];
  const compared = mods.filter((m) => m.compare);
  if (!mods.some((m) => m.module === sel.module)) sel.module = (b && compared[0] ? compared[0] : mods[0] || {}).module || "";
  keyed($("analyse-module"), `${key}|${mods.length}`, () => mods.map((m) => {
    const { layer, matrix } = moduleName(m.module);
    return el("option", { value: m.module, text: `layer ${layer} · ${matrix}${b && !m.compare ? " (one run only)" : ""}` });
  }));
  if ($("analyse-module").value !== sel.module) $("analyse-module").value = sel.module;
  const mod = mods.find((m) => m.module === sel.module);
  let status = `Computed in ${(entry.ms / 1000).toFixed(2)} s in the worker (gonum's SVDs, compiled to wasm): ` +
    `${mods.length} module${mods.length === 1 ? "" : "s"}.`;
  if (b && !compared.length) {
    status += " φ compares the low-rank factors of two LoRA runs: pick two LoRA runs to see it.";
  }
  setText("analyse-status", status);
  show(rep, mod, a, b);
}

// show draws report rep's pictures for module mod (nothing when rep is null).
function show(rep, mod, a, b) {
  $("analyse-one").hidden = !rep || !mod;
  $("analyse-phi").hidden = !rep || !mod || !mod.compare;
  if (!rep || !mod) return;
  // The run whose weights changed (full fine-tuning, or intrinsic's θ0 + P z): its update is the report's "full".
  const tuned = [a, b].find((r) => r && r.method !== "lora");
  const fullName = tuned && tuned.method === "intrinsic" ? `intrinsic d=${fmtInt(tuned.config.intrinsicDim)}` : "full fine-tuning";
  drawSpectrum(mod, fullName);
  drawTable(rep, fullName);
  if (mod.compare) drawHeatmaps(rep, mod, a, b);
}

// The singular values of ΔW for one module: the LoRA run's and, beside a full run, full fine-tuning's.
function drawSpectrum(mod, fullName) {
  const { matrix, layer } = moduleName(mod.module);
  setText("spectrum-title", `Singular values of ΔW, layer ${layer} · ${matrix} (${mod.out} × ${mod.in})`);
  const vals = (u) => (u ? u.spectrum.singular_values.filter((v) => v > 0) : []);
  const lora = vals(mod.lora);
  const full = vals(mod.full);
  const n = Math.max(lora.length, full.length);
  const xs = Array.from({ length: n }, (_, i) => i + 1);
  const all = lora.concat(full);
  const hi = all.length ? Math.max(...all) : 1;
  const lo = all.length ? Math.min(...all) : 0.1;
  spectrumChart.update({
    data: [xs, xs.map((_, i) => lora[i] ?? null), xs.map((_, i) => full[i] ?? null)],
    x: [0.5, Math.max(n, 2) + 0.5], y: [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))],
    shown: [!!mod.lora, !!mod.full], empty: n ? "" : "ΔW is zero here",
  });
  const legend = spectrumChart.legendItems[1];
  if (legend.lastChild.textContent !== `${fullName} ΔW`) legend.lastChild.textContent = `${fullName} ΔW`;
  const fig = $("spectrum-chart");
  const data = JSON.stringify({ lora, full });
  if (fig.dataset.values !== data) fig.dataset.values = data;
  const parts = [];
  for (const [name, u] of [["LoRA", mod.lora], [fullName, mod.full]]) {
    if (u) {
      parts.push(`${name}: effective rank ${u.spectrum.effective_rank.toFixed(2)}, ${u.spectrum.rank_90} ` +
        `value${u.spectrum.rank_90 === 1 ? "" : "s"} hold 90% of ‖ΔW‖²`);
    }
  }
  setText("spectrum-caption", `${parts.join("; ")}. ${CAPTIONS.spectrum}`);
}

// metricOf is the table's figure for update u, and its hover text.
function metricOf(u, metric) {
  const p = u.projection;
  switch (metric) {
    case "erank": return { v: u.spectrum.effective_rank, text: u.spectrum.effective_rank.toFixed(2) };
    case "rank90": return { v: u.spectrum.rank_90, text: String(u.spectrum.rank_90) };
    case "intruders": return { v: u.intruders.count, text: String(u.intruders.count),
      title: `largest |cos| with W0's singular vectors, top ${u.intruders.k}: ` +
        u.intruders.max_cos.map((c) => c.toFixed(2)).join(" ") };
    default: return { v: p.amplification, text: p.amplification.toFixed(p.amplification >= 100 ? 0 : 1),
      title: `r = ${p.r}: ‖ΔW‖ = ${fmtSci(p.norm_delta_w)}; ‖UᵀWV‖ on ΔW's directions ${fmtSci(p.proj_on_delta_w)}, ` +
        `on W's own ${fmtSci(p.proj_on_w)}, on random ones ${fmtSci(p.proj_on_random)}; ‖W‖ = ${fmtSci(p.norm_w)}` };
  }
}

// The table of one figure per layer (rows) and matrix (columns), the LoRA run's over full fine-tuning's when both are
// there.
function drawTable(rep, fullName) {
  const metric = $("analyse-metric").value;
  const mods = rep.modules;
  const layers = [...new Set(mods.map((m) => moduleName(m.module).layer))].sort((x, y) => x - y);
  const mats = MATRICES.filter((t) => mods.some((m) => moduleName(m.module).matrix === t));
  const kinds = ["lora", "full"].filter((k) => mods.some((m) => m[k]));
  const names = { lora: "LoRA", full: fullName.startsWith("full") ? "full" : fullName };
  keyed($("amp-table"), `${JSON.stringify(mods.map((m) => m.module))}|${rep.rank}|${kinds}|${metric}|${sel.module}|` +
    `${mods.length && mods[0][kinds[0]] ? metricOf(mods[0][kinds[0]], metric).text : ""}|${rep.lora_intruders}`, () => {
    const max = {};
    for (const k of kinds) max[k] = Math.max(1e-12, ...mods.filter((m) => m[k]).map((m) => metricOf(m[k], metric).v));
    const head = el("tr", {}, el("th", { text: "layer" }), ...mats.map((t) => el("th", { class: "num", text: t })));
    const rows = layers.map((l) => el("tr", {}, el("th", { text: String(l) }), ...mats.map((t) => {
      const m = mods.find((x) => moduleName(x.module).layer === l && moduleName(x.module).matrix === t);
      const td = el("td", { class: "num" });
      if (!m) { td.textContent = "–"; return td; }
      if (m.module === sel.module) td.classList.add("chosen");
      for (const k of kinds) {
        if (!m[k]) continue;
        const f = metricOf(m[k], metric);
        const span = el("span", { class: `v ${k}`, text: kinds.length > 1 ? `${names[k]} ${f.text}` : f.text, title: f.title });
        span.style.setProperty("--shade", (Math.min(1, f.v / max[k]) * 0.35).toFixed(3));
        span.dataset.value = String(f.v);
        td.append(span);
      }
      td.addEventListener("click", () => { sel.module = m.module; ctx.invalidate(); });
      return td;
    })));
    return [el("thead", {}, head), el("tbody", {}, ...rows)];
  });
  let summary = "";
  for (const k of kinds) {
    const vs = mods.filter((m) => m[k]).map((m) => metricOf(m[k], metric).v).sort((x, y) => x - y);
    if (!vs.length) continue;
    const med = vs[Math.floor(vs.length / 2)];
    const what = metric === "intruders" ? `${vs.reduce((s, v) => s + v, 0)} in all` : `median ${+med.toPrecision(3)}, ` +
      `range ${+vs[0].toPrecision(3)}-${+vs.at(-1).toPrecision(3)}`;
    summary += `${summary ? "; " : ""}${k === "lora" ? `LoRA (r=${rep.rank})` :
      `${fullName} (r=${rep.rank || rep.options.full_rank} for the projections)`}: ${what}`;
  }
  setText("amp-summary", summary ? `${summary}. Click a cell to choose its module.` : "");
  setText("amp-caption", CAPTIONS[metric] || CAPTIONS.amplification);
}

// viridis is matplotlib's colour map at nine stops, interpolated: φ = 0 dark blue, 1 yellow.
const VIRIDIS = [[68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140], [40, 174, 128],
  [94, 201, 98], [173, 220, 48], [253, 231, 37]];

export function colorOf(v) {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

// The φ heatmaps of one module, as the paper's Figure 3 lays them out: rows i ≤ r of the run, columns j ≤ r of the
// run compared, a colour scale in [0, 1]; A's right singular vectors and ΔW's left ones, each beside its random control.
function drawHeatmaps(rep, mod, a, b) {
  const c = mod.compare;
  const { matrix, layer } = moduleName(mod.module);
  setText("analyse-phi-title", `Subspace similarity φ(i, j), layer ${layer} · ${matrix}: ${runMethod(a)} (i ≤ ${c.r1}) ` +
    `against ${runMethod(b)} (j ≤ ${c.r2})`);
  const box = $("analyse-heatmaps");
  const width = box.clientWidth;
  keyed(box, `${a.id}|${b.id}|${mod.module}|${width}`, () => {
    // φ and its control side by side while their cells keep 8 px or more, else one above the other.
    const half = Math.floor((width - 16) / 2);
    const two = (half - 30) / Math.max(c.r2, 1) >= 8;
    box.classList.toggle("one", !two);
    const colW = two ? half : width;
    const maps = [
      ["phi_a", `φ on A's right singular vectors (${matrix}, the paper's Figure 3)`, c.phi_a],
      ["random_a", "random control: Gaussian matrices of A's shapes", c.random_a],
      ["phi_delta_w", "φ on ΔW's left singular vectors", c.phi_delta_w],
      ["random_delta_w", "random control: Gaussian matrices of B's shapes", c.random_delta_w],
    ];
    return [...maps.map(([kind, title, grid]) => heatmap(kind, title, grid, colW)), colorBar(Math.min(width - 24, 360))];
  });
  setText("analyse-phi-summary", phiSummary(rep));
  setText("analyse-phi-caption", CAPTIONS.phi);
}

// phiSummary is φ(1, 1), whether the two runs' top directions coincide, averaged over every module both adapt, beside
// its random control: the figure the paper reads off Figures 3 and 4, for the whole model at once.
function phiSummary(rep) {
  const cs = rep.modules.filter((m) => m.compare).map((m) => m.compare);
  if (!cs.length) return "";
  const mean = (f) => (cs.reduce((s, c) => s + f(c)[0][0], 0) / cs.length).toFixed(2);
  return `φ(1, 1) over the ${cs.length} modules both runs adapt: ${mean((c) => c.phi_a)} on A (random ` +
    `${mean((c) => c.random_a)}), ${mean((c) => c.phi_delta_w)} on ΔW (random ${mean((c) => c.random_delta_w)}).`;
}

// heatmap draws grid (rows i, columns j) on a canvas of at most width CSS pixels, its values in data-values. Cells are
// as wide as the columns allow (at most 28 px) and at least 14 px tall while the map stays under 320 px, so that a map
// of 8 rows against 48 columns stays readable, as the paper's wide Figure 3 does.
function heatmap(kind, title, grid, width) {
  const rows = grid.length;
  const cols = rows ? grid[0].length : 0;
  const left = 26;
  const top = 6; // room for the first row's label
  const bottom = 18;
  const cw = Math.max(3, Math.min(28, Math.floor((width - left - 4) / Math.max(cols, 1))));
  const ch = Math.max(cw, Math.min(14, Math.floor(320 / Math.max(rows, 1))));
  const w = left + cw * cols + 4;
  const h = top + ch * rows + bottom;
  const canvas = el("canvas", {});
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      g.fillStyle = colorOf(grid[i][j]);
      g.fillRect(left + j * cw, top + i * ch, cw, ch);
    }
  }
  g.fillStyle = COLORS.muted;
  g.font = "11px system-ui, sans-serif";
  g.textAlign = "right";
  g.textBaseline = "middle";
  const si = Math.max(1, Math.ceil(13 / ch)); // a label every si rows, so that labels do not overlap
  for (let i = 0; i < rows; i += si) g.fillText(String(i + 1), left - 4, top + i * ch + ch / 2);
  g.textAlign = "center";
  g.textBaseline = "top";
  const sj = Math.max(1, Math.ceil(22 / cw));
  for (let j = 0; j < cols; j += sj) g.fillText(String(j + 1), left + j * cw + cw / 2, top + rows * ch + 3);
  const tip = el("div", { class: "tip", hidden: true });
  const fig = el("figure", { class: "heatmap" }, el("figcaption", { text: title }),
    el("div", { class: "canvas-wrap" }, canvas, tip));
  fig.dataset.kind = kind;
  fig.dataset.rows = String(rows);
  fig.dataset.cols = String(cols);
  fig.dataset.values = JSON.stringify(grid.map((r) => r.map((v) => +v.toFixed(4))));
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const j = Math.floor((e.clientX - r.left - left) / cw);
    const i = Math.floor((e.clientY - r.top - top) / ch);
    const inside = i >= 0 && i < rows && j >= 0 && j < cols;
    tip.hidden = !inside;
    if (!inside) return;
    tip.textContent = `φ(i=${i + 1}, j=${j + 1}) = ${grid[i][j].toFixed(3)}`;
    fig.dataset.tip = tip.textContent;
    tip.style.left = `${Math.min(e.clientX - r.left + 12, Math.max(0, w - 150))}px`;
    tip.style.top = `${Math.max(0, e.clientY - r.top - 26)}px`;
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  return fig;
}

// colorBar is the shared colour scale, 0 to 1.
function colorBar(width) {
  const w = Math.max(160, width);
  const canvas = el("canvas", {});
  const dpr = window.devicePixelRatio || 1;
  const h = 30;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  const x0 = 8;
  const bw = w - 16;
  for (let x = 0; x < bw; x++) {
    g.fillStyle = colorOf(x / (bw - 1));
    g.fillRect(x0 + x, 0, 1.5, 12);
  }
  g.fillStyle = COLORS.muted;
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "top";
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    g.textAlign = v === 0 ? "left" : v === 1 ? "right" : "center";
    g.fillText(String(v), x0 + v * bw, 15);
  }
  return el("div", { class: "colorbar" }, el("span", { class: "note", text: "φ" }), canvas);
}

// renderStorage says what the chosen runs keep for their analyses.
function renderStorage(a, b) {
  const parts = [a, b].filter(Boolean).map((r) => {
    const k = kept(r);
    return `${runMethod(r)}: ${fmtBytes(k.bytes)} (${k.what})`;
  });
  setText("analyse-storage", "Kept with each finished run in this browser (IndexedDB) for its analyses: a LoRA run's " +
    "adapter, a full or intrinsic run's fine-tuned model" + (parts.length ? `. Here: ${parts.join("; ")}.` : "."));
}
