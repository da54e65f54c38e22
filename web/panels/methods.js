// panels/methods.js is the "Methods sweep" panel: LoRA against the other ways to fine-tune, as the LoRA paper's
// Figure 2 draws it. The user picks methods (each at its ladder of sizes from the engine's table, at the sizes typed
// beside it, or at its smallest for a quick sweep); the engine checks the whole sweep, then its runs go one after
// another through the run panel (sweep.js's queue, resumable after a reload), and two charts of the newest methods
// sweep fill in as its runs finish: test accuracy against trainable parameters (log axis), one series per method, full
// fine-tuning as a point and a dashed line; and each run's step time relative to full fine-tuning's.
import { Chart, COLORS, niceMax } from "../charts.js";
import { $, el, setText } from "../dom.js";
import { fmtCompact, fmtInt, fmtPct } from "../format.js";
import { methodLabel, methodLine, methodName, methodShort, methods, SIZES, sizeText } from "../methods.js";
import { customFile } from "./settings.js";
import * as sweep from "./sweep.js";

// PALETTE gives each method its colour, in the table's order (full fine-tuning is ink, as in the rank sweep).
const PALETTE = ["#2456d6", "#2e9e44", "#e67e22", "#8e44ad", "#16a085", "#d35400", "#c2185b", "#7f8c8d", "#273c75",
  "#9a7d0a", "#00838f"];

let ctx;
let list = [];      // the methods a sweep can run: the engine's table without "frozen"
let accChart;
let timeChart;
let shown = [];     // the finished runs the charts show, newest methods sweep
let xs = [];        // their trainable counts, sorted: the charts' x values
let checking = 0;   // the id of the sweep being checked
let error = "";     // why the sweep was refused, shown under the methods

export function init(c) {
  ctx = c;
  ctx.on("ready", () => build());
  ctx.on("sweepChecked", (p) => {
    if (p.id !== checking) return;
    checking = 0;
    if (!p.ok) error = p.error; // the whole message: which run, which setting
    else sweep.beginSweep("methods", p.configs);
    ctx.invalidate();
  });
  $("methods-start").addEventListener("click", () => { if (ctx.canStart() && !checking) start(); });
  $("methods-quick").addEventListener("change", () => { error = ""; placeholders(); ctx.invalidate(); });
}

// build makes one row per method (a checkbox, its sizes, its one line) and the charts, once the table is known.
function build() {
  list = methods().filter((m) => m.name !== "frozen");
  $("methods-picks").replaceChildren(...list.map((m) => {
    const k = SIZES[m.size];
    const box = el("input", { type: "checkbox", value: m.name, checked: m.name !== "intrinsic" });
    const row = el("div", { class: "mpick" },
      el("label", { class: "mname" }, box, el("span", { text: methodName(m.name) })),
      k ? el("label", { class: "msizes" }, el("span", { class: "knob", text: k.short }),
        el("input", { type: "text", class: "sizes", spellcheck: false, ariaLabel: `${methodName(m.name)}: sizes (${k.short})` }))
        : el("span", { class: "msizes none", text: "one size" }),
      el("p", { class: "mline", text: methodLine(m.name) }));
    row.dataset.method = m.name;
    for (const input of row.querySelectorAll("input")) {
      input.addEventListener(input.type === "checkbox" ? "change" : "input", () => { error = ""; ctx.invalidate(); });
    }
    return row;
  }));
  placeholders();

  const series = list.map((m, i) => ({ name: methodShort(m.name), color: m.name === "full" ? COLORS.ink :
    PALETTE[i % PALETTE.length], points: true, ...(m.name === "full" ? { line: false } : {}) }));
  const x = { label: "trainable parameters (log scale)", fmt: fmtCompact, log: 10, splits: () => decades() };
  accChart = new Chart($("methods-acc-chart"), {
    x, y: { fmt: (v) => `${Math.round(v * 100)}%`, splits: () => [0, 0.25, 0.5, 0.75, 1] }, series, tip,
  });
  timeChart = new Chart($("methods-time-chart"), {
    x, y: { fmt: (v) => (fullRun() || !shown.length ? `${+v.toFixed(2)}×` : `${Math.round(v)} ms`) }, series, tip,
  });
}

// placeholders shows in each sizes box what runs when it is left empty: the ladder, or its smallest size.
function placeholders() {
  const quick = $("methods-quick").checked;
  for (const m of list) {
    const input = document.querySelector(`.mpick[data-method="${m.name}"] input.sizes`);
    if (input) input.placeholder = (quick ? m.ladder.slice(0, 1) : m.ladder).join(", ");
  }
}

// picked reads the rows: the methods ticked, in the table's order, and the sizes of those given or quick ones; or an
// error naming the method whose sizes do not parse.
function picked() {
  const quick = $("methods-quick").checked;
  const out = { methods: [], sizes: {} };
  for (const m of list) {
    const row = document.querySelector(`.mpick[data-method="${m.name}"]`);
    if (!row.querySelector("input[type=checkbox]").checked) continue;
    out.methods.push(m.name);
    const input = row.querySelector("input.sizes");
    if (!input) continue;
    const sizes = [];
    for (const part of input.value.split(/[\s,]+/).filter(Boolean)) {
      const n = Number(part);
      if (!Number.isInteger(n) || n < 1) {
        return { error: `${methodName(m.name)}: "${part}" is not a size (a whole number from 1)` };
      }
      if (!sizes.includes(n)) sizes.push(n);
    }
    if (sizes.length) out.sizes[m.name] = sizes.sort((a, b) => a - b);
    else if (quick) out.sizes[m.name] = m.ladder.slice(0, 1);
  }
  if (!out.methods.length) return { error: "tick at least one method" };
  return out;
}

// runCount is how many runs the picks make (each method at each of its sizes).
function runCount(p) {
  return p.methods.reduce((n, name) => {
    const m = list.find((q) => q.name === name);
    return n + (p.sizes[name] ? p.sizes[name].length : m.size ? m.ladder.length : 1);
  }, 0);
}

// start asks the engine to check the whole sweep (every run's settings) before its first run; "sweepChecked" then
// starts it, or shows what is wrong under the methods.
function start() {
  const { state } = ctx;
  const p = picked();
  error = p.error || "";
  if (!p.error) {
    checking = Date.now();
    ctx.send("validateSweep", { id: checking, config: state.config, custom: customFile(), methods: p.methods,
      sizes: p.sizes });
  }
  ctx.invalidate();
}

function fullRun() { return shown.find((r) => r.method === "full") || null; }

// relTime is a run's step time relative to full fine-tuning's in the same sweep (its ms per step without one).
function relTime(r) {
  const f = fullRun();
  if (r.stepMs == null) return null;
  return f && f.stepMs ? r.stepMs / f.stepMs : r.stepMs;
}

// tip lists every run drawn at the x under the cursor, with its settings.
function tip(i) {
  const x = xs[i];
  const at = shown.filter((r) => r.trainableParams === x);
  if (!at.length) return null;
  const lines = [];
  for (const r of at) {
    const rel = relTime(r);
    lines.push(methodLabel(r.config), `accuracy ${fmtPct(r.accuracy)} (${r.correct} / ${r.total})`,
      `${fmtInt(r.trainableParams)} trainable · lr ${r.config.lr}`);
    if (rel != null) lines.push(fullRun() ? `step ${rel.toFixed(2)}× full fine-tuning's` : `step ${Math.round(rel)} ms`);
  }
  return lines;
}

function decades() {
  const all = shown.map((r) => r.trainableParams).filter((v) => v > 0);
  if (!all.length) return [1e2, 1e3, 1e4, 1e5, 1e6];
  const out = [];
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  for (let v = 10 ** Math.floor(Math.log10(Math.min(...all))); v <= hi * 1.0001; v *= 10) out.push(v);
  return out;
}

export function render() {
  const { state } = ctx;
  if (!accChart) return;
  const s = state.sweep && state.sweep.kind === "methods" ? state.sweep : null;
  const label = (c) => [methodShort(c.method), sizeText(c)].filter(Boolean).join(" ");
  let text = "";
  if (s) {
    if (s.status === "running") {
      text = `Methods sweep: run ${s.done + 1} of ${s.total} (${label(s.queue[s.done])}) · ` +
        `done: ${s.queue.slice(0, s.done).map(label).join(", ") || "none yet"}`;
    } else if (s.status === "done") {
      text = `Methods sweep finished: ${s.total} runs.`;
    } else {
      text = `Methods sweep ${s.status} after ${s.done} of ${s.total} runs.`;
    }
    for (const k of s.skipped || []) text += ` Skipped ${label(k.config)}: ${k.why}.`;
  } else if (sweep.sweepRuns("methods").length) {
    text = "Showing the last methods sweep from the results below.";
  }
  setText("methods-progress", text);
  const p = picked();
  setText("methods-count", p.error ? "" : `${p.methods.length} method${p.methods.length === 1 ? "" : "s"}, ` +
    `${runCount(p)} runs of ${fmtInt(state.config ? state.config.steps : 0)} steps`);
  setText(document.querySelector('.err[data-for="methods"]'), error);
  $("methods-start").disabled = !ctx.canStart() || !!checking;
  const locked = !state.ready || ctx.running();
  for (const input of document.querySelectorAll("#methods-panel input")) input.disabled = locked;
  drawCharts();
}

function drawCharts() {
  shown = sweep.sweepRuns("methods").filter((r) => r.trainableParams > 0).sort((a, b) => a.trainableParams - b.trainableParams);
  xs = [...new Set(shown.map((r) => r.trainableParams))];
  const full = fullRun();
  const present = list.map((m) => shown.some((r) => r.method === m.name));
  const column = (name, value) => xs.map((x) => {
    const r = shown.find((q) => q.method === name && q.trainableParams === x);
    return r ? value(r) : null;
  });
  const key = shown.map((r) => r.id).join(",");
  const empty = shown.length ? "" : "Run a methods sweep to see accuracy against trainable parameters";
  const x = decades();
  accChart.update({
    data: [xs, ...list.map((m) => column(m.name, (r) => r.accuracy))], x: [x[0], x.at(-1)], y: [0, 1],
    refs: full ? [{ y: full.accuracy, label: `full fine-tuning ${fmtPct(full.accuracy)}` }] : [],
    empty, shown: present, key,
  });
  const times = list.map((m) => column(m.name, relTime));
  const top = Math.max(1, ...times.flat().filter((v) => v != null));
  setText($("methods-time-chart").querySelector("figcaption"), full || !shown.length ?
    "Step time relative to full fine-tuning" : "Step time (ms per step; add full fine-tuning to compare)");
  timeChart.update({
    data: [xs, ...times], x: [x[0], x.at(-1)], y: [0, niceMax(top * 1.1)],
    refs: full ? [{ y: 1, label: "full fine-tuning = 1" }] : [],
    empty: shown.length ? "" : "Each run's mean time per training step in this tab", shown: present, key,
  });
}

// sweepTable is the newest methods sweep's runs in the order they ran, as the README's table gives them (for the
// browser test that times the sweep): method, size, trainable parameters, exact match, step time and its ratio to
// full fine-tuning's.
export function sweepTable() {
  const full = fullRun();
  return sweep.sweepRuns("methods").slice().sort((a, b) => a.time - b.time).map((r) => ({
    Method: r.method, Size: r.sizeText || "–", Params: r.trainableParams, Correct: r.correct, Total: r.total,
    Accuracy: r.accuracy, StepMs: r.stepMs, Seconds: r.seconds, Rate: full && full.stepMs ? r.stepMs / full.stepMs : 0,
  }));
}
