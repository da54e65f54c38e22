// panels/lrdim.js is the "Learning rate and intrinsic dimension" panel: two sweeps of the form's settings, run one run
// after another as the rank sweep runs them (panels/sweep.js: each run resumable after a reload, its result kept in
// the results table), each drawn with the other method's result as the reference.
//   - Learning rates: LoRA and full fine-tuning at each rate; test accuracy and validation loss against the rate, the
//     best rate of each by validation loss and their ratio ("LoRA without regret" found about 10x).
//   - Intrinsic dimension: training only z in θ = θ0 + P z, a random d-dimensional subspace, at each d; accuracy
//     against d with d90 marked (the smallest d at 90% of full fine-tuning's accuracy), beside LoRA's accuracy and
//     trainable count and full fine-tuning's accuracy.
// The engine expands each sweep (validateSweep) and reads the kept results back into its answers (sweepSummary).
import { Chart, COLORS, niceMax } from "../charts.js";
import { $, setText } from "../dom.js";
import { fmtCompact, fmtInt, fmtLoss, fmtPct } from "../format.js";
import { customFile } from "./settings.js";
import * as sweep from "./sweep.js";

let ctx;
let kind = "lrs";
let checking = 0; // the id of the sweep being checked
let kindChecked = "lrs"; // and its kind
let error = "";
let accChart;
let lossChart;
let dimChart;
const summaries = new Map(); // signature of a sweep's runs -> {pending} | the engine's sweepSummary reply
const asked = new Map(); // request id -> signature
let nextId = 1;

const INTRINSIC = "#7b3fb5"; // intrinsic's colour, apart from LoRA's (the accent) and full fine-tuning's (ink)

const DEFAULTS = { lrs: "1e-4, 1e-3, 1e-2, 1e-1", dims: "10, 100, 1000, 10000" };
const values = { ...DEFAULTS }; // what the field holds, per kind

const ABOUT = {
  lrs: "LoRA at the form's rank and targets, then full fine-tuning, each at every rate, on the form's task and steps; " +
    "a rate whose loss diverges is kept as such.",
  dims: "Only d numbers train: θ = θ0 + P z with P a random (Fastfood) projection of every weight, each d at the rate " +
    "of intrinsic's default d scaled by √(10,000/d); then full fine-tuning and LoRA at the form's settings.",
};

const CAPTIONS = {
  lrs: "Test accuracy and final validation loss at each peak learning rate, for LoRA and for full fine-tuning on the " +
    "same task and steps; the dashed lines mark each method's best rate, by validation loss. Schulman et al. " +
    "(\"LoRA without regret\", 2025) found LoRA's best learning rate about 10 times full fine-tuning's, across " +
    "models and datasets.",
  dims: "Test accuracy when only d numbers are trained, in a random d-dimensional subspace of all the weights, against " +
    "d (log scale); d90 is the smallest d reaching 90% of full fine-tuning's accuracy, and LoRA's trainable count and " +
    "accuracy are the dashed lines. Aghajanyan et al. (2020) found that pre-trained language models have a low " +
    "intrinsic dimension (200 parameters take RoBERTa to 90% of full fine-tuning on MRPC), which the LoRA paper " +
    "cites as why a low-rank update suffices.",
};

export function init(c) {
  ctx = c;
  ctx.on("sweepChecked", (p) => {
    if (p.id !== checking) return;
    checking = 0;
    if (!p.ok) { error = p.error; ctx.invalidate(); return; }
    sweep.beginSweep(kindChecked, p.configs);
  });
  ctx.on("sweepSummary", (p) => {
    const sig = asked.get(p.id);
    if (!sig) return;
    asked.delete(p.id);
    summaries.set(sig, p);
    ctx.invalidate();
  });
  for (const input of document.querySelectorAll('input[name="lrdim-kind"]')) {
    input.addEventListener("change", () => {
      values[kind] = $("lrdim-values").value;
      kind = input.value;
      $("lrdim-values").value = values[kind];
      error = "";
      ctx.invalidate();
    });
  }
  $("lrdim-values").value = values[kind];
  $("lrdim-values").addEventListener("input", () => { error = ""; ctx.invalidate(); });
  $("lrdim-start").addEventListener("click", () => { if (ctx.canStart()) start(); });

  const pct = (v) => `${Math.round(v * 100)}%`;
  const lrAxis = { label: "peak learning rate (log scale)", fmt: fmtRate, log: 10, splits: () => decades(lrRange()) };
  accChart = new Chart($("lr-acc-chart"), {
    x: lrAxis, y: { fmt: pct, splits: () => [0, 0.25, 0.5, 0.75, 1] },
    series: [{ name: "LoRA", color: COLORS.accent, points: true }, { name: "full fine-tuning", color: COLORS.ink, points: true }],
    tip: (i) => lrTip(accChart, i),
  });
  lossChart = new Chart($("lr-loss-chart"), {
    x: lrAxis, y: { fmt: (v) => v.toFixed(v >= 2 ? 1 : 2) },
    series: [{ name: "LoRA", color: COLORS.accent, points: true }, { name: "full fine-tuning", color: COLORS.ink, points: true }],
    tip: (i) => lrTip(lossChart, i),
  });
  dimChart = new Chart($("dim-chart"), {
    x: { label: "trained values d (log scale)", fmt: fmtCompact, log: 10, splits: () => decades(dimRange()) },
    y: { fmt: pct, splits: () => [0, 0.25, 0.5, 0.75, 1] },
    series: [{ name: "intrinsic (θ0 + P z)", color: INTRINSIC, points: true }],
    tip: (i) => {
      const r = dimRuns().find((x) => x.config.intrinsicDim === dimChart.u.data[0][i]);
      return r ? [`d = ${fmtInt(r.config.intrinsicDim)}`, `accuracy ${fmtPct(r.accuracy)}`, `lr ${fmtRate(r.config.lr)}`] : null;
    },
  });
}

function fmtRate(v) {
  if (v == null) return "–";
  const e = Math.floor(Math.log10(v) + 1e-9);
  const m = v / 10 ** e;
  return Math.abs(m - 1) < 1e-6 ? `1e${e}` : `${+m.toPrecision(2)}e${e}`;
}

// parse reads the field: rates in (0, 1], or dimensions (whole numbers from 1), sorted, without repeats.
export function parseValues(text, k) {
  const out = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const v = Number(part);
    if (k === "lrs" && !(v > 0 && v <= 1)) return { error: `"${part}" is not a learning rate in (0, 1]` };
    if (k === "dims" && !(Number.isInteger(v) && v >= 1)) return { error: `"${part}" is not a dimension (a whole number from 1)` };
    if (!out.includes(v)) out.push(v);
  }
  if (!out.length) return { error: `list at least one ${k === "lrs" ? "learning rate" : "dimension"}` };
  return { values: out.sort((x, y) => x - y) };
}

function start() {
  const { state } = ctx;
  const parsed = parseValues($("lrdim-values").value, kind);
  if (parsed.error) { error = parsed.error; ctx.invalidate(); return; }
  error = "";
  checking = Date.now();
  kindChecked = kind;
  ctx.send("validateSweep", { id: checking, config: state.config, custom: customFile(), kind, values: parsed.values,
    full: $("lrdim-full").checked, lora: kind === "dims" && $("lrdim-lora").checked });
  ctx.invalidate();
}

function lrRuns() { return sweep.sweepRuns("lrs"); }
function dimRuns() { return sweep.sweepRuns("dims").filter((r) => r.method === "intrinsic").sort((a, b) => a.config.intrinsicDim - b.config.intrinsicDim); }

// decades are the powers of ten within [lo, hi]: a log axis's ticks.
function decades([lo, hi]) {
  const out = [];
  for (let e = Math.ceil(Math.log10(lo) - 1e-9); e <= Math.floor(Math.log10(hi) + 1e-9); e++) out.push(10 ** e);
  return out;
}

// logRange spans vs on a log axis with a quarter of a decade to spare on each side (a point, or a dashed line, on
// the frame would be hard to see), and at least one decade.
function logRange(vs, def) {
  vs = vs.filter((v) => v > 0);
  if (!vs.length) return def;
  const lo = Math.log10(Math.min(...vs)) - 0.25;
  const hi = Math.max(Math.log10(Math.max(...vs)) + 0.25, lo + 1);
  return [10 ** lo, 10 ** hi];
}

function lrRange() { return logRange(lrRuns().map((r) => r.config.lr), [1e-4, 1e-1]); }

function dimRange() {
  const ds = dimRuns().map((r) => r.config.intrinsicDim);
  const l = loraRef();
  if (l) ds.push(l.trainableParams);
  return logRange(ds, [10, 1e4]);
}

function lrTip(chart, i) {
  const x = chart.u.data[0][i];
  const lines = [`lr ${fmtRate(x)}`];
  for (const r of lrRuns().filter((q) => q.config.lr === x)) {
    const who = r.method === "lora" ? "LoRA" : "full";
    lines.push(r.diverged ? `${who}: diverged` : `${who}: ${fmtPct(r.accuracy)}, val loss ${fmtLoss(r.valLoss)}`);
  }
  return lines.length > 1 ? lines : null;
}

// loraRef is the LoRA run beside the intrinsic sweep: the sweep's own, or else the newest LoRA run on its task.
function loraRef() {
  const own = sweep.sweepRuns("dims").find((r) => r.method === "lora");
  if (own) return own;
  const d = dimRuns()[0];
  return d ? ctx.state.runs.find((r) => r.method === "lora" && r.task === d.task && !r.diverged) || null : null;
}

// result is a kept run as the engine's Result spells it, for sweepSummary.
function result(r) {
  return { method: r.method, size: r.method === "intrinsic" ? r.config.intrinsicDim : r.rank || 0, rank: r.rank || 0,
    lr: r.config.lr, val_loss: r.valLoss || 0, accuracy: r.accuracy || 0, diverged: r.diverged || "",
    trainable_params: r.trainableParams || 0 };
}

// summary returns the engine's summary of runs (asking for it once per set of runs), or null while it is computed;
// targets are LoRA's, for its sizes beside d.
function summary(k, runs, targets) {
  const sig = `${k}|${runs.map((r) => r.id).join(",")}|${targets.join(",")}`;
  const s = summaries.get(sig);
  if (s) return s.pending ? null : s;
  if (!ctx.state.ready || !runs.length) return null;
  const id = nextId++;
  asked.set(id, sig);
  summaries.set(sig, { pending: true });
  ctx.send("sweepSummary", { id, kind: k, results: runs.map(result), targets });
  return null;
}

export function render() {
  const { state } = ctx;
  for (const node of document.querySelectorAll("#lrdim-panel [data-lrdim]")) node.hidden = node.dataset.lrdim !== kind;
  setText("lrdim-values-label", kind === "lrs" ? "Learning rates" : "Dimensions d");
  setText("lrdim-full-label", kind === "lrs" ? "plus full fine-tuning at each rate" : "plus full fine-tuning (for d90)");
  setText("lrdim-about", ABOUT[kind]);
  setText(document.querySelector('.err[data-for="lrdim-values"]'), error);
  $("lrdim-values").closest(".field").classList.toggle("invalid", !!error);
  $("lrdim-start").disabled = !ctx.canStart() || !!checking;
  setText("lrdim-progress", progressText(state.sweep));
  setText("lrdim-caption", CAPTIONS[kind]);
  if (kind === "lrs") drawLRs();
  else drawDims();
}

function label(c) {
  if (c.method === "intrinsic") return `d=${fmtInt(c.intrinsicDim)}`;
  if (c.method === "full") return `full lr=${fmtRate(c.lr)}`;
  return `LoRA${kind === "lrs" ? ` lr=${fmtRate(c.lr)}` : ` r=${c.rank}`}`;
}

function progressText(s) {
  if (!s || sweep.kindOf(s) !== kind) {
    const had = kind === "lrs" ? lrRuns().length : sweep.sweepRuns("dims").length;
    return had ? "Showing the last sweep from the results below." : "";
  }
  if (s.status === "running") {
    return `Sweep: run ${s.done + 1} of ${s.total} (${label(s.queue[s.done])}) · ` +
      `done: ${s.queue.slice(0, s.done).map(label).join(", ") || "none yet"}`;
  }
  return s.status === "done" ? `Sweep finished: ${s.total} runs.` : `Sweep ${s.status} after ${s.done} of ${s.total} runs.`;
}

function drawLRs() {
  const runs = lrRuns();
  const xs = [...new Set(runs.map((r) => r.config.lr))].sort((a, b) => a - b);
  const at = (method, f) => xs.map((x) => {
    const r = runs.find((q) => q.method === method && q.config.lr === x && !q.diverged);
    return r ? f(r) : null;
  });
  const s = summary("lrs", runs, []);
  const best = s && s.lrs;
  const refs = [];
  if (best && best.best_lora_lr) refs.push({ x: best.best_lora_lr, label: `best LoRA rate ${fmtRate(best.best_lora_lr)}`, color: COLORS.accent });
  if (best && best.best_full_lr) refs.push({ x: best.best_full_lr, label: `best full rate ${fmtRate(best.best_full_lr)}`, color: COLORS.ink });
  const empty = runs.length ? "" : "Run a learning-rate sweep to see accuracy against the rate";
  const losses = runs.filter((r) => !r.diverged).map((r) => r.valLoss).filter(Number.isFinite);
  accChart.update({ data: [xs, at("lora", (r) => r.accuracy), at("full", (r) => r.accuracy)], x: lrRange(), y: [0, 1],
    refs, empty, shown: [true, runs.some((r) => r.method === "full")] });
  lossChart.update({ data: [xs, at("lora", (r) => r.valLoss), at("full", (r) => r.valLoss)], x: lrRange(),
    y: [0, niceMax(Math.max(0.1, ...losses))], refs, empty,
    shown: [true, runs.some((r) => r.method === "full")] });
  const fig = $("lr-acc-chart");
  const data = JSON.stringify({ lrs: xs, lora: at("lora", (r) => r.accuracy), full: at("full", (r) => r.accuracy) });
  if (fig.dataset.values !== data) fig.dataset.values = data;
  let text = "";
  if (best) {
    const div = runs.filter((r) => r.diverged).map((r) => `${r.method === "lora" ? "LoRA" : "full"} at ${fmtRate(r.config.lr)}`);
    text = [best.best_lora_lr ? `LoRA's best rate: ${fmtRate(best.best_lora_lr)}` : "",
      best.best_full_lr ? `full fine-tuning's: ${fmtRate(best.best_full_lr)}` : "",
      best.lora_over_full ? `ratio ${+best.lora_over_full.toPrecision(3)}x ("LoRA without regret": about 10x)` : "",
      div.length ? `diverged: ${div.join(", ")}` : ""].filter(Boolean).join(" · ");
  } else if (s && s.error) {
    text = s.error;
  }
  setText("lrdim-summary", text);
}

function drawDims() {
  const runs = dimRuns();
  const all = sweep.sweepRuns("dims");
  const full = all.find((r) => r.method === "full");
  const lora = loraRef();
  const targets = lora ? lora.targets.join(",") : "";
  const s = summary("dims", all.concat(lora && !all.includes(lora) ? [lora] : []), lora ? lora.targets : []);
  const d90 = s && s.intrinsic;
  const refs = [];
  if (full) refs.push({ y: full.accuracy, label: `full fine-tuning ${fmtPct(full.accuracy)}`, color: COLORS.ink });
  if (full) refs.push({ y: 0.9 * full.accuracy, label: "90% of it" });
  if (lora) {
    refs.push({ y: lora.accuracy, label: `LoRA r=${lora.rank} ${fmtPct(lora.accuracy)}`, color: COLORS.accent });
    refs.push({ x: lora.trainableParams, label: `LoRA's ${fmtInt(lora.trainableParams)} trainable`, color: COLORS.accent });
  }
  if (d90 && d90.d90) refs.push({ x: d90.d90, label: `d90 = ${fmtInt(d90.d90)}`, color: INTRINSIC });
  dimChart.update({
    data: [runs.map((r) => r.config.intrinsicDim), runs.map((r) => r.accuracy)], x: dimRange(), y: [0, 1], refs,
    empty: runs.length ? "" : "Run an intrinsic-dimension sweep to see accuracy against d",
  });
  const fig = $("dim-chart");
  const data = JSON.stringify({ d: runs.map((r) => r.config.intrinsicDim), accuracy: runs.map((r) => r.accuracy),
    d90: d90 ? d90.d90 : null });
  if (fig.dataset.values !== data) fig.dataset.values = data;
  let text = "";
  if (d90) {
    text = d90.d90 ? `d90 = ${fmtInt(d90.d90)} (${fmtPct(d90.d90_accuracy)} against full fine-tuning's ` +
      `${fmtPct(d90.full_accuracy)})` : `no d reached 90% of full fine-tuning's ${fmtPct(d90.full_accuracy)} ` +
      `(best: d = ${fmtInt(d90.best_dim)}, ${fmtPct(d90.best_accuracy)})`;
  }
  if (s && s.loraSizes && lora) {
    const on = s.loraSizes.filter((x) => x.targets === targets);
    if (on.length) {
      text += `${text ? " · " : ""}LoRA on ${targets} trains ${on.map((x) => `${fmtInt(x.trainable_params)} at r=${x.rank}`).join(", ")}`;
    }
  }
  setText("lrdim-summary", text);
}
