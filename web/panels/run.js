// panels/run.js is the "Run" panel: it starts, follows and ends one run (the current or last, state.run), shows its
// progress, figures, curves and generations, merges its adapter, and keeps it resumable: the worker posts snapshots
// (the trainable weights, AdamW's state, the step) at every evaluation and every few seconds, the page keeps the
// latest in IndexedDB with what it has drawn so far, and after a reload offers to resume the run from there, bit for
// bit.
import { Chart, COLORS, niceMax } from "../charts.js";
import { $, el, keyed, setText } from "../dom.js";
import { fmtBytes, fmtDuration, fmtInt, fmtLoss, fmtPct, methodLabel, smooth, taskName } from "../format.js";
import * as store from "../store.js";
import { customFile, fillForm } from "./settings.js";
import { writeHash } from "../hash.js";
import { baseRecord, describe, useKept } from "./base.js";
import { methodName, methodShort, spec } from "../methods.js";

let ctx;
let nextId = 1;
let lossChart;
let accChart;

// newRun is a run's state: its settings, what the engine reports of it, and for a sweep's run which one it is.
function newRun(runId, config, sweep) {
  return {
    id: runId, config, sweepId: sweep ? sweep.id : "", sweepKind: sweep ? sweep.kind || "ranks" : "",
    sweepIndex: sweep ? sweep.index : 0,
    sweepTotal: sweep ? sweep.total : 0, status: "starting", info: null, task: null, workers: 1,
    step: 0, steps: config.steps, losses: [], lr: 0, tokens: 0, tokensPerSec: 0, elapsed: 0, ms: 0,
    evals: [], evalSeconds: [], evaluating: null, before: null, after: null, merge: "", mergeDiff: null,
    startedAt: Date.now(), pausedMs: 0, pausedAt: 0, base: baseRecord(ctx.state.model),
  };
}

// current returns the run a worker message is about, or null when it is about another (an older) run.
function current(p) {
  const r = ctx.state.run;
  return r && r.id === p.runId ? r : null;
}

export function init(c) {
  ctx = c;
  const { state, on } = ctx;
  on("snapshot", (p) => {
    const r = current(p);
    if (r && ctx.running()) saveInflight(r, p);
  });
  on("started", (p) => {
    const r = current(p);
    if (!r) return;
    r.info = p.info;
    r.task = p.task;
    r.workers = p.workers || 1;
    r.status = "running";
    ctx.invalidate();
  });
  on("state", (p) => {
    const r = current(p);
    if (!r) return;
    if (p.state === "paused") { r.status = "paused"; r.pausedAt = Date.now(); }
    if (p.state === "running") { r.status = "running"; r.pausedMs += Date.now() - r.pausedAt; r.pausedAt = 0; }
    ctx.invalidate();
  });
  on("progress", (p) => {
    const r = current(p);
    if (!r) return;
    for (let i = 0; i < p.losses.length; i++) r.losses.push(p.losses[i]);
    r.step = p.step;
    r.lr = p.lr;
    // The live speed: the chunks' speeds smoothed (one chunk is one step here, and steps vary in length).
    r.tokensPerSec = r.tokensPerSec ? 0.8 * r.tokensPerSec + 0.2 * p.tokensPerSec : p.tokensPerSec;
    r.tokens = p.tokens; // processed so far (padding included, as natively)
    r.elapsed = p.elapsed;
    r.ms += p.ms;
    ctx.invalidate();
  });
  on("evaluating", (p) => {
    const r = current(p);
    if (!r) return;
    r.evaluating = { step: p.step, initial: p.initial, since: Date.now() };
    ctx.invalidate();
  });
  on("eval", (p) => {
    const r = current(p);
    if (!r) return;
    if (r.evaluating) r.evalSeconds.push((Date.now() - r.evaluating.since) / 1000);
    r.evaluating = null;
    if (p.initial) r.before = p.samples;
    else r.after = p.samples;
    r.evals.push({ step: p.step, valLoss: p.valLoss, accuracy: p.accuracy, correct: p.correct, total: p.total });
    ctx.invalidate();
  });
  on("done", (p) => {
    const r = current(p);
    if (!r) return;
    r.status = p.status;
    r.seconds = p.seconds + (r.secondsBefore || 0); // a resumed run counts the time before the reload too
    clearInflight(); // finished or stopped on purpose: nothing to resume
    store.dropRunLock(); // a sweep's next run takes it again
    // A finished run shows and records its average speed: tokens over the time spent in training steps.
    if (r.tokens && r.ms) r.tokensPerSec = r.tokens / (r.ms / 1000);
    if (p.status === "done") r.info = p.info || r.info;
    ctx.emit("runEnded", { run: r, status: p.status, done: p });
    ctx.invalidate();
  });
  on("merged", (p) => {
    const r = current(p);
    if (!r) return;
    r.merged = !p.error;
    r.mergeDiff = p.error ? null : p.maxAbsLogitDiff;
    // Merged weights compute the same function up to float32 rounding: a larger difference means a broken merge.
    r.merge = p.error ? `Merge failed: ${p.error}` : p.maxAbsLogitDiff <= MERGE_BOUND ?
      `Merged: the merged model's logits are within ${p.maxAbsLogitDiff.toExponential(2)} of the unmerged model's.` :
      `Merged, but the logits moved by ${p.maxAbsLogitDiff.toExponential(2)} (more than ${MERGE_BOUND}): ` +
      "the merged model is not the one trained.";
    ctx.invalidate();
  });
  on("error", (p) => {
    const r = p.runId ? current(p) : null;
    if (!r) return;
    // The message goes to the banner and the progress line, not next to a field: a sweep's run has settings the
    // form does not show, and a mark on a valid field would keep Start disabled.
    r.status = "error";
    r.errorText = p.message;
    r.stopped = !!p.stopped; // a non-finite loss or gradient: a learning-rate sweep keeps it as a diverged rate
    r.skip = p.skip || ""; // cannot run at its size on the task: a methods sweep skips it and goes on
    r.evaluating = null;
    clearInflight(); // a failed run (NaN loss, bad settings) would fail again
    store.dropRunLock();
    ctx.emit("runEnded", { run: r, status: "error", error: p });
  });

  $("merge").addEventListener("click", () => {
    const r = state.run;
    r.merge = "Merging…";
    ctx.send("merge", { runId: r.id });
    ctx.invalidate();
  });
  $("resume-run").addEventListener("click", resumeRun);
  $("discard-run").addEventListener("click", clearInflight);

  lossChart = new Chart($("loss-chart"), {
    x: { label: "step", fmt: fmtInt, integer: true },
    y: { fmt: (v) => v.toFixed(lossChart && lossChart.range.y[1] < 2 ? 2 : 1) },
    series: [
      { color: COLORS.accentSoft, width: 1 },
      { name: "train", color: COLORS.accent, width: 2 },
      { name: "validation", color: COLORS.ink, width: 1.5, points: true },
    ],
    tip: (i) => lossTip(i),
  });
  accChart = new Chart($("acc-chart"), {
    x: { label: "step", fmt: fmtInt, integer: true },
    y: { fmt: (v) => `${Math.round(v * 100)}%`, splits: () => [0, 0.25, 0.5, 0.75, 1] },
    series: [{ color: COLORS.accent, points: true }],
    tip: (i) => {
      const e = state.run && state.run.evals[i];
      return e ? [`step ${fmtInt(e.step)}`, `accuracy ${fmtPct(e.accuracy)}`, `${e.correct} / ${e.total}`] : null;
    },
  });
  loadInflight();
  setInterval(() => { if (ctx.running()) ctx.invalidate(); }, 1000); // the time left moves during an evaluation too
}

// startRun starts a run of the form's settings with overrides (a sweep's run), as run sweep.index of sweep.total
// of sweep sweep.id if given.
export function startRun(overrides, sweep) {
  const { state } = ctx;
  if (state.interrupted) clearInflight(); // a new run replaces the interrupted one
  store.holdRunLock();
  const config = { ...state.config, ...(overrides || {}) };
  const runId = `run-${Date.now().toString(36)}-${nextId++}`;
  state.run = newRun(runId, config, sweep);
  state.error = "";
  ctx.send("start", { runId, config, custom: customFile() });
  ctx.invalidate();
}

async function saveInflight(r, p) {
  const { state } = ctx;
  const rec = {
    runId: r.id, config: r.config, sweepId: r.sweepId, sweepIndex: r.sweepIndex, sweepTotal: r.sweepTotal,
    sweep: r.sweepId ? state.sweep : null, evalSeconds: r.evalSeconds, task: r.task,
    custom: r.config.task === "custom" ? state.custom : null, step: p.step, steps: r.steps, snapshot: p.snapshot,
    base: r.base, // the base it trains on: a resume loads it again (its files are kept by fingerprint: panels/base.js)
    losses: Float32Array.from(r.losses.slice(0, p.step)), evals: r.evals.filter((e) => e.step <= p.step),
    before: r.before, after: r.after, ms: r.ms, tokens: r.tokens, info: r.info, time: Date.now(),
    seconds: (r.secondsBefore || 0) + (Date.now() - r.startedAt - r.pausedMs) / 1000,
  };
  try {
    await store.saveInflight(rec);
  } catch (err) {
    // Not fatal: the run goes on, only a resume after a reload is lost.
    console.warn(`golora: could not save the run in progress: ${err.message}`);
  }
}

async function clearInflight() {
  ctx.state.interrupted = null;
  ctx.invalidate();
  try { await store.clearInflight(); } catch (err) { /* nothing to keep */ }
}

async function loadInflight() {
  const { state } = ctx;
  try {
    const rec = await store.loadInflight();
    if (rec && rec.snapshot && rec.config && !(await store.runElsewhere())) state.interrupted = rec;
  } catch (err) {
    state.interrupted = null;
  }
  ctx.invalidate();
}

// resumeRun continues the interrupted run: its base is loaded again if another is loaded (from the files kept in
// this browser; without them the page asks for the files), its settings, curves and samples come back, and the
// worker restores the snapshot into a new session (which refuses a snapshot of another base).
async function resumeRun() {
  const { state } = ctx;
  const rec = state.interrupted;
  if (!rec || !state.ready || ctx.running() || state.baseBusy) return;
  const want = rec.base || (state.shippedModel ? baseRecord(state.shippedModel) : null); // runs saved before bases had one
  if (want && state.model && want.fingerprint !== state.model.fingerprint) {
    state.resumeMsg = `Loading ${describe(want)}, the base this run trained on…`;
    ctx.invalidate();
    const ok = await useKept(want.fingerprint);
    state.resumeMsg = ok ? "" : `This run trained on ${describe(want)}, which this browser no longer keeps: choose ` +
      "those files under Base model, then resume.";
    ctx.invalidate();
    if (!ok || state.interrupted !== rec || ctx.running()) return;
  }
  state.resumeMsg = "";
  state.interrupted = null;
  state.config = { ...state.defaults, ...rec.config };
  if (rec.custom) state.custom = rec.custom;
  state.sweep = rec.sweep ? { ...rec.sweep, status: "running" } : null;
  fillForm();
  writeHash(state.config, state.defaults);
  const r = newRun(rec.runId, rec.config, rec.sweepId ?
    { id: rec.sweepId, kind: rec.sweep && rec.sweep.kind, index: rec.sweepIndex, total: rec.sweepTotal } : null);
  Object.assign(r, {
    evalSeconds: rec.evalSeconds || [], task: rec.task || null,
    step: rec.step, losses: Array.from(rec.losses), evals: rec.evals || [], before: rec.before, after: rec.after,
    ms: rec.ms || 0, tokens: rec.tokens || 0, info: rec.info, secondsBefore: rec.seconds || 0,
    base: want || r.base,
  });
  state.run = r;
  state.error = "";
  store.holdRunLock();
  ctx.send("start", { runId: r.id, config: rec.config, custom: rec.custom, snapshot: rec.snapshot });
  ctx.invalidate();
}

// MERGE_BOUND is the largest |logit difference| between the merged and the unmerged model that float32 rounding
// explains (the browser test measures about 2.5e-5).
export const MERGE_BOUND = 1e-3;

// evalsLeft counts the evaluations run r has still to make, not counting one in progress.
function evalsLeft(r) {
  const every = r.config.evalEvery > 0 ? r.config.evalEvery : 0;
  let n = 1; // the final one
  if (every) n += Math.max(0, Math.ceil(r.steps / every) - 1 - Math.floor(r.step / every));
  if (r.evaluating && r.step >= r.steps) n--; // the final one is under way
  return Math.max(0, n);
}

// etaSeconds estimates the time run r still needs at time now (ms): its steps left at its speed so far, and its
// evaluations left at the mean time of those done (the one under way counted by what remains of it). null while
// there is nothing to go by yet.
export function etaSeconds(r, now) {
  if (!r.step || !r.evalSeconds.length) return null;
  const mean = r.evalSeconds.reduce((a, b) => a + b, 0) / r.evalSeconds.length;
  let s = (r.ms / r.step) * (r.steps - r.step) / 1000 + evalsLeft(r) * mean;
  if (r.evaluating) s += Math.max(0, mean - (now - r.evaluating.since) / 1000);
  return s;
}

// progressText is the line under the progress bar: what the run does now, its step, and the time left.
export function progressText(r, now) {
  const head = `step ${fmtInt(r.step)} of ${fmtInt(r.steps)} (${(100 * (r.steps ? r.step / r.steps : 0)).toFixed(0)}%)`;
  const eta = etaSeconds(r, now);
  const left = eta == null ? "" : ` · about ${fmtDuration(eta)} left, evaluations included`;
  if (r.status === "running" && r.evaluating) {
    const n = r.config.evalLimit > 0 ? `${fmtInt(r.config.evalLimit)} ` : "all ";
    const what = r.evaluating.initial ? "the base model" : r.evaluating.step >= r.steps ? "the final model" :
      `at step ${fmtInt(r.evaluating.step)}`;
    return `Evaluating ${what} on ${n}test prompts · ${head}${left}`;
  }
  switch (r.status) {
    case "starting": return `Starting… · ${head}`;
    case "running": return `Training · ${head}${left}`;
    case "paused": return `Paused · ${head}`;
    case "stopped": return `Stopped · ${head}`;
    case "done": return `Finished · ${head} · ${fmtDuration(r.seconds)}`;
    default: return r.skip && r.sweepKind === "methods" ? `Skipped: ${r.skip} · ${head}` :
      `Failed: ${r.errorText || ""} · ${head}`;
  }
}

export function render() {
  renderResume();
  const { state } = ctx;
  const r = state.run;
  const bar = $("progress-bar");
  drawCharts(r);
  if (!r) {
    bar.style.width = "0%";
    return;
  }
  const frac = r.steps ? r.step / r.steps : 0;
  bar.style.width = `${(100 * frac).toFixed(2)}%`;
  bar.dataset.status = r.status === "running" && r.evaluating ? "evaluating" : r.status;
  setText("run-title", `${taskName(r.config.task)} · ${methodLabel(r.config)}` +
    (r.base && !r.base.shipped ? ` · on ${describe(r.base)}` : "") +
    (r.sweepIndex ? ` · sweep run ${r.sweepIndex} of ${r.sweepTotal}` : ""));
  setText("progress-text", progressText(r, Date.now()));

  const last = r.losses.length ? smooth(r.losses.slice(-50), 0.9).at(-1) : null;
  setText("train-loss", fmtLoss(last));
  const ev = r.evals.filter((e) => e.step > 0 || r.evals.length === 1).at(-1);
  setText("val-loss", ev ? fmtLoss(ev.valLoss) : "–");
  setText("accuracy", ev ? `${fmtPct(ev.accuracy)}` : "–");
  setText("tps", r.tokensPerSec ? fmtInt(r.tokensPerSec) : "–");
  const info = r.info;
  setText("trainable", info ? `${fmtInt(info.trainableParams)}` : "–");
  setText("memory", info ? fmtBytes(info.trainableBytes) : "–");
  renderMemory(info);
  renderSamples(r);
  const merges = !!(spec(r.config.method) || {}).merges; // LoRA, DoRA, (IA)³ fold into the weights; adapters cannot
  $("merge").disabled = !(r.status === "done" && merges && !r.merged);
  setText("merge", r.config.method === "lora" || !merges ? "Merge adapter into the base" :
    `Merge ${methodName(r.config.method)} into the base`);
  setText("merge-out", r.merge || "");
}

function renderResume() {
  const { state } = ctx;
  const rec = state.interrupted;
  const box = $("resume");
  box.hidden = !rec || ctx.running();
  if (box.hidden) return;
  const c = rec.config;
  const stale = rec.base && state.model && rec.base.fingerprint === state.model.fingerprint; // its base is back
  setText("resume-text", (!stale && state.resumeMsg) || `A run was interrupted at step ${fmtInt(rec.step)} of ` +
    `${fmtInt(rec.steps || c.steps)} (${taskName(c.task)} · ${methodLabel(c)}` +
    `${rec.base && !rec.base.shipped ? ` · on ${describe(rec.base)}` : ""}` +
    `${rec.sweepId ? ", part of a sweep" : ""}). Resume it from there, or discard it.`);
  $("resume-run").disabled = !state.ready || !!state.baseBusy;
}

// renderMemory draws the training state of this run against full fine-tuning's.
function renderMemory(info) {
  const sig = info ? `${info.trainableBytes}/${info.fullBytes}/${info.trainableParams}/${info.totalParams}` : "";
  keyed($("memory-bars"), sig, () => {
    if (!info) return [];
    const line = (label, bytes, frac, cls) => {
      const fill = el("span", { class: `fill ${cls}` });
      fill.style.width = `${Math.max(0.4, 100 * frac)}%`;
      return el("div", { class: "membar" }, el("span", { class: "k", text: label }),
        el("span", { class: "track" }, fill), el("span", { class: "v", text: fmtBytes(bytes) }));
    };
    const pct = info.totalParams ? (100 * info.trainableParams / info.totalParams) : 0;
    return [
      line(`This run (${methodShort(info.method)})`, info.trainableBytes,
        info.fullBytes ? info.trainableBytes / info.fullBytes : 0, "accent"),
      line("Full fine-tuning", info.fullBytes, 1, "grey"),
      el("p", { class: "note", text: `Weights, gradients and AdamW moments of the trainable parameters ` +
        `(${pct < 0.1 ? pct.toFixed(3) : pct.toFixed(2)}% of ${fmtInt(info.totalParams)}), ` +
        `against the same state for every weight.` }),
    ];
  });
}

function renderSamples(r) {
  const before = r.before || [];
  const after = r.after || [];
  keyed($("samples").tBodies[0], JSON.stringify([r.id, r.status === "running", before, after]), () => {
    const judged = (x) => {
      if (!x) return el("td", { class: "muted", text: r.status === "running" || r.status === "paused" ? "…" : "–" });
      const ok = x.got.trim() === x.want.trim();
      return el("td", { class: `mono ${ok ? "ok" : x.got ? "no" : "no empty"}`, text: x.got || "(empty)",
        title: ok ? "exact match" : "differs from the target" });
    };
    const rows = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      const s = before[i] || after[i];
      const cells = [el("td", { class: "mono", text: s.prompt }), el("td", { class: "mono", text: s.want }),
        judged(before[i]), judged(after[i])];
      ["Prompt", "Target", "Before", "After"].forEach((label, j) => { cells[j].dataset.label = label; }); // phone cards
      rows.push(el("tr", {}, ...cells));
    }
    if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colSpan: 4, text: "Shown once a run starts." })));
    return rows;
  });
}

function lossTip(i) {
  const r = ctx.state.run;
  if (!r) return null;
  const d = lossChart.u.data;
  const lines = [`step ${fmtInt(d[0][i])}`];
  if (d[1][i] != null) lines.push(`train loss ${fmtLoss(d[1][i])}`, `smoothed ${fmtLoss(d[2][i])}`);
  if (d[3][i] != null) lines.push(`val loss ${fmtLoss(d[3][i])}`);
  return lines.length > 1 ? lines : null;
}

// drawCharts feeds the loss and accuracy charts: x is the step (0 is the base before training), the raw and smoothed
// training loss at every step, the validation loss and the accuracy at each evaluation.
function drawCharts(r) {
  const losses = r ? r.losses : [];
  const evals = r ? r.evals : [];
  const steps = r ? r.steps : 100;
  const xs = [0, ...losses.map((_, i) => i + 1)];
  for (const e of evals) if (e.step > losses.length) xs.push(e.step);
  const val = new Map(evals.map((e) => [e.step, e.valLoss]));
  const sm = smooth(losses, 0.9);
  let ymax = 1;
  for (const v of losses) if (Number.isFinite(v) && v > ymax) ymax = v;
  for (const e of evals) if (Number.isFinite(e.valLoss) && e.valLoss > ymax) ymax = e.valLoss;
  lossChart.update({
    data: [xs, xs.map((x) => (x >= 1 && x <= losses.length ? losses[x - 1] : null)),
      xs.map((x) => (x >= 1 && x <= losses.length ? sm[x - 1] : null)), xs.map((x) => val.get(x) ?? null)],
    x: [0, steps], y: [0, niceMax(ymax)], empty: losses.length ? "" : "Loss curves appear here while training",
  });
  accChart.update({
    data: [evals.map((e) => e.step), evals.map((e) => e.accuracy)],
    x: [0, steps], y: [0, 1], empty: evals.length ? "" : "Evaluated on held-out test prompts",
  });
}
