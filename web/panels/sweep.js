// panels/sweep.js is the "Rank sweep" panel: the form's settings run once per LoRA rank (and once with full
// fine-tuning), one run after another through the run panel, and two charts of the newest sweep's results: accuracy
// against rank, and against the number of trainable parameters.
//
// It also runs every other kind of sweep (state.sweep.kind: "lrs" and "dims" from panels/lrdim.js, "methods" from
// panels/methods.js): beginSweep starts one from its runs' settings, each run goes through the run panel (so it is
// resumable after a reload: state.sweep, with its queue, is saved with the run in progress), and the next starts when
// one ends. sweepRuns(kind) gives the newest sweep's kept runs of a kind.
import { Chart, COLORS } from "../charts.js";
import { $, setText } from "../dom.js";
import { fmtCompact, fmtInt, fmtPct } from "../format.js";
import * as run from "./run.js";
import { customFile } from "./settings.js";

let ctx;
let rankChart;
let paramsChart;
let shown = { lora: [], rows: [], full: null }; // the runs the charts show: LoRA without and with token rows, full
let checking = 0; // the id of the sweep being checked

export function init(c) {
  ctx = c;
  const { state } = ctx;
  ctx.on("sweepChecked", (p) => {
    if (p.id !== checking) return;
    checking = 0;
    if (!p.ok) {
      state.sweepError = p.error; // the whole message: which run, which setting
      ctx.invalidate();
      return;
    }
    beginSweep("ranks", p.configs);
  });
  ctx.listen("runEnded", ({ run: r, status, error }) => {
    const s = state.sweep;
    if (!s || s.status !== "running" || r.sweepId !== s.id) return;
    // A learning-rate sweep looks for the rates that are too high: a run stopped by a non-finite loss is a result
    // there (kept as diverged), and the sweep goes on. A methods sweep skips a run the engine says cannot run at its
    // size on the task (train.SkipError: a prefix that leaves the examples no room in the context, token rows with
    // nothing to train), as the CLI's sweep skips it, and goes on.
    const diverged = status === "error" && s.kind === "lrs" && r.stopped;
    const skipped = status === "error" && s.kind === "methods" && r.step === 0 && !!(error && error.skip);
    if (skipped) {
      s.skipped = [...(s.skipped || []), { config: r.config, why: error.skip }];
      state.error = "";
    }
    if (status !== "done" && !diverged && !skipped) { s.status = status === "error" ? "error" : "stopped"; return; }
    s.done++;
    if (s.done >= s.total) { s.status = "done"; return; }
    nextRun();
  });
  $("sweep-start").addEventListener("click", () => { if (ctx.canStart()) start(); });
  $("sweep-ranks").addEventListener("input", () => { state.sweepError = ""; ctx.invalidate(); });
  $("sweep-full").addEventListener("change", () => { state.sweepError = ""; ctx.invalidate(); });
  $("sweep-tokens").addEventListener("change", () => { state.sweepError = ""; ctx.invalidate(); });

  const pct = (v) => `${Math.round(v * 100)}%`;
  rankChart = new Chart($("rank-chart"), {
    x: { label: "rank r (log scale)", fmt: String, log: 2, splits: () => rankTicks() },
    y: { fmt: pct, splits: () => [0, 0.25, 0.5, 0.75, 1] },
    series: [{ name: "LoRA", color: COLORS.accent, points: true },
      { name: "LoRA + token rows", color: ROWS_COLOR, points: true, dash: [6, 3] }],
    tip: (i) => rankTip(rankChart.u.data[0][i]),
  });
  paramsChart = new Chart($("params-chart"), {
    x: { label: "trainable parameters (log scale)", fmt: fmtCompact, log: 10, splits: () => decades() },
    y: { fmt: pct, splits: () => [0, 0.25, 0.5, 0.75, 1] },
    series: [{ name: "LoRA", color: COLORS.accent, points: true },
      { name: "LoRA + token rows", color: ROWS_COLOR, points: true, dash: [6, 3] },
      { name: "full", color: COLORS.ink, points: true, line: false }],
    tip: (i) => {
      const x = paramsChart.u.data[0][i];
      const f = shown.full;
      if (f && f.trainableParams === x) {
        return ["full fine-tuning", `accuracy ${fmtPct(f.accuracy)}`, `${fmtInt(f.trainableParams)} trainable`];
      }
      return loraTip([...shown.lora, ...shown.rows].find((r) => r.trainableParams === x));
    },
  });
}

const ROWS_COLOR = "#1d7a4a";

// hasRows tells a run that trained token rows beside LoRA.
function hasRows(r) { return !!(r.info && r.info.tokenIds && r.info.tokenIds.length); }

// rowsOn reports whether the settings train token rows beside LoRA: a sweep can then compare with and without them.
function rowsOn(c) { return !!c && c.method === "lora" && !!c.trainTokens && c.trainTokens !== "none"; }

function loraTip(r) {
  if (!r) return null;
  const rows = hasRows(r) ? ` + ${r.info.tokenIds.length} token rows` : "";
  return [`rank ${r.rank}${rows}`, `accuracy ${fmtPct(r.accuracy)}`, `${fmtInt(r.trainableParams)} trainable`];
}

function rankTip(rank) {
  const a = shown.lora.find((r) => r.rank === rank);
  const b = shown.rows.find((r) => r.rank === rank);
  if (!a && !b) return null;
  if (!b) return loraTip(a);
  if (!a) return loraTip(b);
  return [`rank ${rank}`, `accuracy ${fmtPct(a.accuracy)}, with ${b.info.tokenIds.length} token rows ${fmtPct(b.accuracy)}`];
}

function parseRanks(text) {
  const ranks = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const r = Number(part);
    if (!Number.isInteger(r) || r < 1) return { error: `"${part}" is not a rank (a whole number from 1)` };
    if (!ranks.includes(r)) ranks.push(r);
  }
  if (ranks.length === 0) return { error: "list at least one rank" };
  return { ranks: ranks.sort((a, b) => a - b) };
}

// start checks the whole sweep with the engine (every run's settings, as the CLI does) before its first run starts;
// "sweepChecked" then starts it, or shows what is wrong under the ranks.
function start() {
  const { state } = ctx;
  const parsed = parseRanks($("sweep-ranks").value);
  if (parsed.error) {
    state.sweepError = parsed.error;
    ctx.invalidate();
    return;
  }
  state.sweepError = "";
  checking = Date.now();
  // With token rows in the settings, each rank can run without them and with them.
  const trainTokens = $("sweep-tokens").checked && rowsOn(state.config) ? ["none", state.config.trainTokens] : undefined;
  ctx.send("validateSweep", { id: checking, config: state.config, custom: customFile(), ranks: parsed.ranks,
    full: $("sweep-full").checked, trainTokens });
  ctx.invalidate();
}

// beginSweep runs configs (each run's settings, as the engine's validateSweep gives them) one after another as a
// sweep of kind ("ranks", "lrs", "dims", "methods").
export function beginSweep(kind, configs) {
  ctx.state.sweep = { id: `sweep-${Date.now().toString(36)}`, kind, queue: configs, done: 0, total: configs.length,
    status: "running", skipped: [] };
  nextRun();
}

function nextRun() {
  const s = ctx.state.sweep;
  run.startRun(s.queue[s.done], { id: s.id, kind: s.kind, index: s.done + 1, total: s.total });
}

// kindOf is a sweep's (or a kept run's) kind: sweeps from before kinds were rank sweeps.
export function kindOf(x) { return x.kind || x.sweepKind || "ranks"; }

// sweepRuns returns the finished runs of the newest sweep of kind (default "ranks"), from the results table (so they
// survive a reload).
export function sweepRuns(kind = "ranks") {
  const { state } = ctx;
  const s = state.sweep && kindOf(state.sweep) === kind ? state.sweep : null;
  const id = s ? s.id : (state.runs.find((r) => r.sweepId && kindOf(r) === kind) || {}).sweepId;
  if (!id) return [];
  return state.runs.filter((r) => r.sweepId === id);
}

function rankTicks() {
  const rmax = Math.max(16, ...shown.lora.map((r) => r.rank), ...shown.rows.map((r) => r.rank));
  const ticks = [];
  for (let r = 1; r <= rmax; r *= 2) ticks.push(r);
  return ticks;
}

function paramRange() {
  const all = [...shown.lora, ...shown.rows].map((r) => r.trainableParams).concat(shown.full ? [shown.full.trainableParams] : [])
    .filter((v) => v > 0);
  if (!all.length) return [1e2, 1e6];
  return [10 ** Math.floor(Math.log10(Math.min(...all))), 10 ** Math.ceil(Math.log10(Math.max(...all)))];
}

function decades() {
  const [lo, hi] = paramRange();
  const out = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) out.push(v);
  return out;
}

export function render() {
  const { state } = ctx;
  const s = state.sweep && kindOf(state.sweep) === "ranks" ? state.sweep : null;
  let text = "";
  if (s) {
    const label = (it) => it.method === "full" ? "full fine-tuning" :
      `r=${it.rank}${it.trainTokens && it.trainTokens !== "none" ? ` + rows (${it.trainTokens})` : ""}`;
    if (s.status === "running") {
      text = `Sweep: run ${s.done + 1} of ${s.total} (${label(s.queue[s.done])}) · ` +
        `done: ${s.queue.slice(0, s.done).map(label).join(", ") || "none yet"}`;
    } else if (s.status === "done") {
      text = `Sweep finished: ${s.total} runs.`;
    } else {
      text = `Sweep ${s.status} after ${s.done} of ${s.total} runs.`;
    }
  } else if (sweepRuns().length) {
    text = "Showing the last sweep from the results below.";
  }
  setText("sweep-progress", text);
  const err = state.sweepError || "";
  setText(document.querySelector('.err[data-for="sweep-ranks"]'), err);
  $("sweep-ranks").closest(".field").classList.toggle("invalid", !!err);
  $("sweep-start").disabled = !ctx.canStart() || !!checking;
  const rows = rowsOn(state.config);
  $("sweep-tokens").disabled = !ctx.canStart() || !rows;
  $("sweep-tokens-field").classList.toggle("off", !rows);
  $("sweep-tokens-field").title = rows ? `each rank once without token rows and once with ${state.config.trainTokens}` :
    "choose token rows in the settings to compare";
  drawCharts();
}

function drawCharts() {
  const runs = sweepRuns();
  const all = runs.filter((r) => r.method === "lora").sort((a, b) => a.rank - b.rank);
  const lora = all.filter((r) => !hasRows(r));
  const rows = all.filter(hasRows);
  const full = runs.find((r) => r.method === "full") || null;
  shown = { lora, rows, full };
  const refs = full ? [{ y: full.accuracy, label: `full fine-tuning ${fmtPct(full.accuracy)}` }] : [];
  const empty = runs.length ? "" : "Run a sweep to see accuracy against rank";
  const ticks = rankTicks();
  const ranks = [...new Set(all.map((r) => r.rank))].sort((a, b) => a - b);
  const byRank = (list) => ranks.map((k) => { const r = list.find((q) => q.rank === k); return r ? r.accuracy : null; });
  rankChart.update({
    data: [ranks, byRank(lora), byRank(rows)],
    x: [1, ticks.at(-1)], y: [0, 1], refs, empty, shown: [true, rows.length > 0],
  });
  const xs = [...new Set(all.map((r) => r.trainableParams).concat(full ? [full.trainableParams] : []))]
    .sort((a, b) => a - b);
  const acc = (list) => xs.map((x) => { const r = list.find((q) => q.trainableParams === x); return r ? r.accuracy : null; });
  paramsChart.update({
    data: [xs, acc(lora), acc(rows), acc(full ? [full] : [])], x: paramRange(), y: [0, 1], refs, empty,
    shown: [true, rows.length > 0, !!full],
  });
}
