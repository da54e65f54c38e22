// app.js is the page's main thread: one state object, event handlers that change it, and one render() per animation
// frame that draws it (controls, charts on canvas, tables). All training happens in worker.js.
"use strict";

// ---------------------------------------------------------------------------------------------------------------
// State

const MODEL_URL = "models/base.safetensors";
const TARGETS = ["q", "k", "v", "o", "gate", "up", "down"];
const NUMERIC = ["difficulty", "facts", "rank", "alpha", "dropout", "lr", "steps", "batch", "seed", "warmup",
  "weightDecay", "clip", "evalEvery", "evalLimit"];
const INTEGER = new Set(["difficulty", "facts", "rank", "steps", "batch", "seed", "warmup", "evalEvery", "evalLimit"]);
// The settings kept in the URL hash, in this order.
const HASH_KEYS = ["task", "difficulty", "facts", "method", "rank", "alpha", "rslora", "targets", "init", "dropout",
  "lr", "steps", "batch", "warmup", "weightDecay", "clip", "seed", "evalEvery", "evalLimit"];

const state = {
  ready: false,
  engine: null,       // {simd, wasmURL, wasmBytes, wasmEncodedBytes, modelBytes, loadMs}
  model: null,        // {name, params, dim, hiddenDim, layers, heads, kvHeads, vocab, seqLen}
  defaults: null,     // train.DefaultConfig() as the wasm reports it
  config: null,       // the settings in the form
  custom: null,       // {name, text, lines} of the user's JSON Lines file
  interrupted: null,  // a run saved in IndexedDB that a reload interrupted: {runId, config, step, snapshot, ...}
  fieldErrors: {},    // field -> message, from local parsing and from Go's Validate
  validating: 0,      // id of the validation in flight
  examples: [],
  previewKey: "",
  gen: { prompt: "", text: "", busy: false, error: "", auto: true },
  run: null,          // the current or last run, see newRun
  sweep: null,        // {id, queue: [{method, rank}], done, total, status}
  runs: [],           // finished runs, newest first, kept in IndexedDB
  error: "",
  hover: null,        // {chart, x, y} in CSS pixels over a canvas
  autostart: false,
};

let worker = null;
let nextId = 1;
let dirty = true;
let scheduled = false;

// invalidate asks for one render() on the next animation frame, however many changes happen before it.
function invalidate() {
  dirty = true;
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; if (dirty) { dirty = false; render(); } });
  }
}

function newRun(runId, config, sweepId) {
  return {
    id: runId, config, sweepId: sweepId || "", status: "starting", info: null,
    step: 0, steps: config.steps, losses: [], lr: 0, tokens: 0, tokensPerSec: 0, elapsed: 0, ms: 0,
    evals: [], before: null, after: null, merge: "", startedAt: Date.now(), pausedMs: 0, pausedAt: 0,
  };
}

// fieldErrors turns a wasm error {error, field, fields} into form errors; one without a field goes under the buttons.
function fieldErrors(p) {
  const out = {};
  const known = (f) => f && document.querySelector(`.err[data-for="${f}"]`);
  if (p.fields) for (const [f, msg] of Object.entries(p.fields)) out[known(f) ? f : "_"] = { msg, local: false };
  else out[known(p.field) ? p.field : "_"] = { msg: p.error, local: false };
  return out;
}

function showError(msg) {
  state.error = msg;
  invalidate();
}

// ---------------------------------------------------------------------------------------------------------------
// Worker

function send(type, payload) {
  worker.postMessage({ type, payload });
}

const onWorker = {
  ready(p) {
    state.ready = true;
    state.engine = p;
    state.model = p.model;
    // Go's float32 values arrive as float64 (0.003 as 0.003000000026077032): round them back to float32 precision.
    state.defaults = Object.fromEntries(Object.entries(p.defaults).map(([k, v]) =>
      [k, typeof v === "number" && !Number.isInteger(v) ? +v.toPrecision(7) : v]));
    state.config = { ...state.defaults, ...readHash() };
    state.gen.prompt = "";
    fillForm();
    configChanged();
  },
  validated(p) {
    if (p.id !== state.validating) return;
    state.validating = 0;
    const errs = {};
    for (const [k, v] of Object.entries(state.fieldErrors)) if (v.local) errs[k] = v;
    if (!p.ok) Object.assign(errs, fieldErrors(p));
    state.fieldErrors = errs;
    if (state.autostart && p.ok) {
      state.autostart = false;
      startRun();
    } else if (state.autostart) {
      state.autostart = false;
      showError(`autostart refused: ${p.error}`);
    }
    invalidate();
  },
  preview(p) {
    state.examples = p.examples || [];
    if (p.error) Object.assign(state.fieldErrors, fieldErrors({ field: "task", ...p }));
    if (state.gen.auto && state.examples.length) {
      state.gen.auto = false;
      state.gen.prompt = state.examples[0].prompt;
      generate();
    }
    invalidate();
  },
  generated(p) {
    state.gen.busy = false;
    state.gen.done = !p.error;
    state.gen.text = p.text || "";
    state.gen.error = p.error || "";
    invalidate();
  },
  snapshot(p) {
    const r = state.run;
    if (!r || r.id !== p.runId || !running()) return;
    saveInflight(r, p);
  },
  started(p) {
    const r = state.run;
    if (!r || r.id !== p.runId) return;
    r.info = p.info;
    r.workers = p.workers || 1;
    r.status = "running";
    invalidate();
  },
  state(p) {
    const r = state.run;
    if (!r || r.id !== p.runId) return;
    if (p.state === "paused") { r.status = "paused"; r.pausedAt = Date.now(); }
    if (p.state === "running") { r.status = "running"; r.pausedMs += Date.now() - r.pausedAt; r.pausedAt = 0; }
    invalidate();
  },
  progress(p) {
    const r = state.run;
    if (!r || r.id !== p.runId) return;
    for (let i = 0; i < p.losses.length; i++) r.losses.push(p.losses[i]);
    r.step = p.step;
    r.lr = p.lr;
    // The live speed: the chunks' speeds smoothed (one chunk is one step here, and steps vary in length).
    r.tokensPerSec = r.tokensPerSec ? 0.8 * r.tokensPerSec + 0.2 * p.tokensPerSec : p.tokensPerSec;
    r.tokens = p.tokens;             // processed so far (padding included, as natively)
    r.elapsed = p.elapsed;
    r.ms += p.ms;
    invalidate();
  },
  eval(p) {
    const r = state.run;
    if (!r || r.id !== p.runId) return;
    if (p.initial) r.before = p.samples;
    else r.after = p.samples;
    r.evals.push({ step: p.step, valLoss: p.valLoss, accuracy: p.accuracy, correct: p.correct, total: p.total });
    invalidate();
  },
  done(p) {
    const r = state.run;
    if (!r || r.id !== p.runId) return;
    r.status = p.status;
    r.seconds = p.seconds + (r.secondsBefore || 0); // a resumed run counts the time before the reload too
    clearInflight(); // finished or stopped on purpose: nothing to resume
    dropRunLock(); // a sweep's next run takes it again
    // A finished run shows and records its average speed: tokens over the time spent in training steps.
    if (r.tokens && r.ms) r.tokensPerSec = r.tokens / (r.ms / 1000);
    if (p.status === "done") {
      r.info = p.info || r.info;
      saveRun(runRecord(r, p));
    }
    continueSweep(p.status);
    invalidate();
  },
  merged(p) {
    const r = state.run;
    if (!r || r.id !== p.runId) return;
    r.merge = p.error ? `Merge failed: ${p.error}` :
      `Merged. Largest |logit difference| merged vs unmerged: ${p.maxAbsLogitDiff.toExponential(2)}`;
    r.merged = !p.error;
    invalidate();
  },
  error(p) {
    const r = state.run;
    if (p.runId && r && r.id === p.runId) {
      r.status = "error";
      r.errorText = p.message;
      if (p.field) Object.assign(state.fieldErrors, fieldErrors({ error: p.message, field: p.field, fields: p.fields }));
      if (state.sweep) { state.sweep.status = "error"; }
      clearInflight(); // a failed run (NaN loss, bad settings) would fail again
      dropRunLock();
    }
    if (p.fatal) state.loadError = p.message;
    showError(p.message);
  },
};

function startWorker() {
  try {
    worker = new Worker("worker.js");
  } catch (err) {
    state.loadError = `Could not start the Web Worker: ${err.message}`;
    showError(state.loadError);
    return;
  }
  worker.onmessage = (e) => {
    const { type, payload } = e.data;
    const h = onWorker[type];
    if (h) h(payload);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    state.loadError = `The worker failed: ${e.message || "could not load worker.js or wasm_exec.js"}`;
    showError(state.loadError);
  };
  // ?engine=scalar loads the scalar build even where WebAssembly SIMD works (to compare, or to test the fallback).
  const forceScalar = new URLSearchParams(location.search).get("engine") === "scalar";
  send("init", { modelURL: MODEL_URL, modelName: "base", forceScalar });
}

// ---------------------------------------------------------------------------------------------------------------
// Settings: form <-> state.config <-> URL hash

function $(id) { return document.getElementById(id); }

function readHash() {
  const out = {};
  const params = new URLSearchParams(location.hash.slice(1));
  for (const k of HASH_KEYS) {
    if (!params.has(k)) continue;
    const v = params.get(k);
    if (k === "targets") out.targets = v ? v.split(",").filter(Boolean) : [];
    else if (k === "rslora") out.rslora = v === "1" || v === "true";
    else if (NUMERIC.includes(k)) out[k] = Number(v);
    else out[k] = v;
  }
  state.autostart = params.get("autostart") === "1";
  return out;
}

// writeHash records the settings that differ from the defaults (so a shared link stays short).
function writeHash() {
  const params = new URLSearchParams();
  for (const k of HASH_KEYS) {
    const v = state.config[k];
    const d = state.defaults[k];
    if (JSON.stringify(v) === JSON.stringify(d)) continue;
    if (k === "targets") params.set(k, v.join(","));
    else if (k === "rslora") params.set(k, v ? "1" : "0");
    else params.set(k, String(v));
  }
  const h = params.toString();
  history.replaceState(null, "", h ? `#${h}` : location.pathname + location.search);
}

function fillForm() {
  const c = state.config;
  for (const el of document.querySelectorAll("[data-key]")) {
    const k = el.dataset.key;
    if (el.type === "radio") el.checked = el.value === c[k];
    else if (k === "rslora") el.value = String(!!c.rslora);
    else el.value = c[k] ?? "";
  }
  for (const box of $("targets").querySelectorAll("input")) box.checked = (c.targets || []).includes(box.value);
}

// readForm parses the form into state.config; values that do not parse are refused locally with a reason.
function readForm() {
  const c = { ...state.config };
  const errs = {};
  for (const el of document.querySelectorAll("[data-key]")) {
    const k = el.dataset.key;
    if (el.type === "radio") { if (el.checked) c[k] = el.value; continue; }
    if (k === "rslora") { c.rslora = el.value === "true"; continue; }
    if (!NUMERIC.includes(k)) { c[k] = el.value; continue; }
    const raw = el.value.trim();
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v)) errs[k] = { msg: "enter a number", local: true };
    else if (INTEGER.has(k) && !Number.isInteger(v)) errs[k] = { msg: "enter a whole number", local: true };
    else if (v < 0) errs[k] = { msg: "must not be negative", local: true };
    else c[k] = v;
  }
  c.targets = [...$("targets").querySelectorAll("input:checked")].map((b) => b.value);
  if (c.method === "lora" && c.targets.length === 0) errs.targets = { msg: "choose at least one matrix", local: true };
  state.config = c;
  state.fieldErrors = errs;
}

function customText() {
  return state.config.task === "custom" && state.custom ? state.custom.text : "";
}

// configChanged re-validates (Go's Validate is the authority), rewrites the hash and refreshes the task preview.
function configChanged() {
  writeHash();
  const hasLocal = Object.keys(state.fieldErrors).length > 0;
  if (!hasLocal) {
    state.validating = nextId++;
    send("validate", { id: state.validating, config: state.config, custom: customText() });
  } else if (state.autostart) {
    state.autostart = false;
    showError("autostart refused: fix the settings marked in red");
  }
  const c = state.config;
  const key = JSON.stringify([c.task, c.difficulty, c.facts, c.seed, state.custom && state.custom.name]);
  if (key !== state.previewKey && !running() && !(c.task === "custom" && !state.custom)) {
    state.previewKey = key;
    send("preview", { id: nextId++, config: { ...c, method: "frozen" }, custom: customText(), n: 3 });
  }
  if (c.task === "custom" && !state.custom) state.examples = [];
  invalidate();
}

function running() {
  return !!state.run && ["starting", "running", "paused"].includes(state.run.status);
}

function canStart() {
  return state.ready && !running() && Object.keys(state.fieldErrors).length === 0 && !state.validating &&
    !(state.config.task === "custom" && !state.custom);
}

async function loadFile(file) {
  try {
    const text = await file.text();
    const lines = text.split("\n").filter((l) => l.trim()).length;
    state.custom = { name: file.name, text, lines };
    state.config.task = "custom";
    fillForm();
    readForm();
    configChanged();
  } catch (err) {
    showError(`Could not read ${file.name}: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Actions

function startRun(overrides, sweepId) {
  if (state.interrupted) clearInflight(); // a new run replaces the interrupted one
  holdRunLock();
  const config = { ...state.config, ...(overrides || {}) };
  const runId = `run-${Date.now().toString(36)}-${nextId++}`;
  state.run = newRun(runId, config, sweepId);
  state.error = "";
  send("start", { runId, config, custom: customText() });
  invalidate();
}

function generate() {
  if (running() || state.gen.busy) return;
  state.gen.busy = true;
  state.gen.done = false;
  state.gen.text = "";
  state.gen.error = "";
  send("generate", {
    id: nextId++, prompt: state.gen.prompt, maxTokens: 48, temperature: 0, seed: 1,
    config: { ...state.config, method: "frozen" }, custom: customText(),
  });
  invalidate();
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

function startSweep() {
  const parsed = parseRanks($("sweep-ranks").value);
  if (parsed.error) { state.fieldErrors["sweep-ranks"] = { msg: parsed.error, local: true }; invalidate(); return; }
  const queue = parsed.ranks.map((rank) => ({ method: "lora", rank }));
  if ($("sweep-full").checked) queue.push({ method: "full" });
  state.sweep = { id: `sweep-${Date.now().toString(36)}`, queue, done: 0, total: queue.length, status: "running" };
  nextSweepRun();
}

function nextSweepRun() {
  const s = state.sweep;
  const item = s.queue[s.done];
  startRun(item, s.id);
}

function continueSweep(status) {
  const s = state.sweep;
  if (!s || s.status !== "running") return;
  if (status !== "done") { s.status = "stopped"; return; }
  s.done++;
  if (s.done >= s.total) { s.status = "done"; return; }
  nextSweepRun();
}

// ---------------------------------------------------------------------------------------------------------------
// Results: IndexedDB

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      // Version 2 adds "inflight": the run in progress, saved as it trains (key "current").
      const req = indexedDB.open("golora", 2);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains("runs")) d.createObjectStore("runs", { keyPath: "id" });
        if (!d.objectStoreNames.contains("inflight")) d.createObjectStore("inflight");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

async function tx(mode, fn, store = "runs") {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(store, mode);
    const out = fn(t.objectStore(store));
    t.oncomplete = () => resolve(out && out.result);
    t.onerror = () => reject(t.error);
  });
}

async function loadRuns() {
  try {
    const all = await tx("readonly", (s) => s.getAll());
    state.runs = (all || []).sort((a, b) => b.time - a.time);
  } catch (err) {
    showError(`Could not read saved results: ${err.message}`);
  }
  invalidate();
}

// ---------------------------------------------------------------------------------------------------------------
// The run in progress survives a reload: the worker posts snapshots (golora.snapshot: the trainable weights, AdamW's
// state, the step) at every evaluation and every few seconds; the page keeps the latest with what it has drawn so
// far, and after a reload offers to resume the run from there. A resumed run continues bit for bit.

async function saveInflight(r, p) {
  const rec = {
    runId: r.id, config: r.config, sweepId: r.sweepId, sweep: r.sweepId ? state.sweep : null,
    custom: r.config.task === "custom" ? state.custom : null, step: p.step, steps: r.steps, snapshot: p.snapshot,
    losses: Float32Array.from(r.losses.slice(0, p.step)), evals: r.evals.filter((e) => e.step <= p.step),
    before: r.before, after: r.after, ms: r.ms, tokens: r.tokens, info: r.info, time: Date.now(),
    seconds: (r.secondsBefore || 0) + (Date.now() - r.startedAt - r.pausedMs) / 1000,
  };
  try {
    await tx("readwrite", (st) => st.put(rec, "current"), "inflight");
  } catch (err) {
    // Not fatal: the run goes on, only a resume after a reload is lost.
    console.warn(`golora: could not save the run in progress: ${err.message}`);
  }
}

async function clearInflight() {
  state.interrupted = null;
  invalidate();
  try { await tx("readwrite", (st) => st.delete("current"), "inflight"); } catch (err) { /* nothing to keep */ }
}

// A tab holds the Web Lock "golora-run" while it trains, so that another tab of the page does not offer to resume
// a run that is not interrupted at all.
let runLock = null; // {release, dropped} while this tab trains

function holdRunLock() {
  if (!navigator.locks || runLock) return;
  const lock = { release: null, dropped: false };
  runLock = lock;
  navigator.locks.request("golora-run", () => new Promise((resolve) => {
    if (lock.dropped) resolve();
    else lock.release = resolve;
  })).catch(() => {});
}

function dropRunLock() {
  const lock = runLock;
  runLock = null;
  if (!lock) return;
  lock.dropped = true;
  if (lock.release) lock.release();
}

async function runElsewhere() {
  if (!navigator.locks) return false;
  try {
    const { held } = await navigator.locks.query();
    return held.some((l) => l.name === "golora-run") && !runLock;
  } catch (err) {
    return false;
  }
}

async function loadInflight() {
  try {
    const rec = await tx("readonly", (st) => st.get("current"), "inflight");
    if (rec && rec.snapshot && rec.config && !(await runElsewhere())) state.interrupted = rec;
  } catch (err) {
    state.interrupted = null;
  }
  invalidate();
}

// resumeRun continues the interrupted run: its settings, curves and samples come back, and the worker restores the
// snapshot into a new session.
function resumeRun() {
  const rec = state.interrupted;
  if (!rec || !state.ready || running()) return;
  state.interrupted = null;
  state.config = { ...state.defaults, ...rec.config };
  if (rec.custom) state.custom = rec.custom;
  state.sweep = rec.sweep ? { ...rec.sweep, status: "running" } : null;
  fillForm();
  writeHash();
  const r = newRun(rec.runId, rec.config, rec.sweepId);
  Object.assign(r, {
    step: rec.step, losses: Array.from(rec.losses), evals: rec.evals || [], before: rec.before, after: rec.after,
    ms: rec.ms || 0, tokens: rec.tokens || 0, info: rec.info, secondsBefore: rec.seconds || 0,
  });
  state.run = r;
  state.error = "";
  holdRunLock();
  send("start", { runId: r.id, config: rec.config, custom: rec.custom ? rec.custom.text : "", snapshot: rec.snapshot });
  invalidate();
}

async function saveRun(rec) {
  state.runs.unshift(rec);
  invalidate();
  try {
    await tx("readwrite", (s) => s.put(rec));
  } catch (err) {
    showError(`Could not save the result: ${err.message}`);
  }
}

async function clearRuns() {
  state.runs = [];
  invalidate();
  try { await tx("readwrite", (s) => s.clear()); } catch (err) { showError(`Could not clear results: ${err.message}`); }
}

function runRecord(r, p) {
  const c = r.config;
  const last = p.final || r.evals[r.evals.length - 1] || {};
  return {
    id: r.id, time: Date.now(), sweepId: r.sweepId, config: c, task: c.task,
    taskDetail: c.task === "cipher" ? `${c.difficulty} letters` : c.task === "facts" ? `${c.facts} facts` :
      c.task === "custom" && state.custom ? state.custom.name : "",
    method: c.method, rank: c.method === "lora" ? c.rank : null, targets: c.method === "lora" ? c.targets : [],
    trainableParams: r.info ? r.info.trainableParams : 0, info: r.info,
    valLoss: last.valLoss, accuracy: last.accuracy, correct: last.correct, total: last.total,
    tokensPerSec: r.tokensPerSec, seconds: p.seconds, model: state.model, engine: engineName(r.workers),
    losses: Float32Array.from(r.losses), evals: r.evals, samples: p.final ? p.final.samples : r.after,
    adapter: p.adapter || null, adapterConfig: p.adapterConfig || "",
  };
}

// engineName is the wasm build, and how many workers train when a run says so.
function engineName(workers) {
  if (!state.engine) return "";
  const name = state.engine.simd ? "wasm SIMD128" : "wasm scalar";
  return workers ? `${name} × ${workers} worker${workers > 1 ? "s" : ""}` : name;
}

// ---------------------------------------------------------------------------------------------------------------
// Downloads: a zip (stored, no compression) holding PEFT's adapter pair, and a metrics JSON

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// zipStore writes files [{name, data: Uint8Array}] as a zip archive with the "stored" method (PKWARE APPNOTE 4.3).
function zipStore(files) {
  const enc = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  const now = new Date();
  const dosTime = (now.getHours() << 11) | (now.getMinutes() << 5) | (now.getSeconds() >> 1);
  const dosDate = ((now.getFullYear() - 1980) << 9) | ((now.getMonth() + 1) << 5) | now.getDate();
  for (const f of files) {
    const name = enc.encode(f.name);
    const crc = crc32(f.data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);           // version needed: 2.0
    local.setUint16(6, 0x0800, true);       // flags: UTF-8 names
    local.setUint16(8, 0, true);            // method: stored
    local.setUint16(10, dosTime, true);
    local.setUint16(12, dosDate, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, f.data.length, true);
    local.setUint32(22, f.data.length, true);
    local.setUint16(26, name.length, true);
    local.setUint16(28, 0, true);
    parts.push(new Uint8Array(local.buffer), name, f.data);
    const cen = new DataView(new ArrayBuffer(46));
    cen.setUint32(0, 0x02014b50, true);
    cen.setUint16(4, 20, true);
    cen.setUint16(6, 20, true);
    cen.setUint16(8, 0x0800, true);
    cen.setUint16(10, 0, true);
    cen.setUint16(12, dosTime, true);
    cen.setUint16(14, dosDate, true);
    cen.setUint32(16, crc, true);
    cen.setUint32(20, f.data.length, true);
    cen.setUint32(24, f.data.length, true);
    cen.setUint16(28, name.length, true);
    cen.setUint32(42, offset, true);
    central.push(new Uint8Array(cen.buffer), name);
    offset += 30 + name.length + f.data.length;
  }
  const cenSize = central.reduce((s, p) => s + p.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, cenSize, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, new Uint8Array(end.buffer)], { type: "application/zip" });
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function runBaseName(rec) {
  const what = rec.method === "lora" ? `lora-r${rec.rank}-${rec.targets.join("")}` : rec.method;
  return `golora-${rec.task}-${what}-${rec.id.split("-")[1]}`;
}

function downloadAdapter(rec) {
  const enc = new TextEncoder();
  download(zipStore([
    { name: "adapter_model.safetensors", data: rec.adapter },
    { name: "adapter_config.json", data: enc.encode(rec.adapterConfig) },
  ]), `${runBaseName(rec)}-adapter.zip`);
}

function downloadMetrics(rec) {
  const out = {
    id: rec.id, time: new Date(rec.time).toISOString(), model: rec.model, engine: rec.engine, config: rec.config,
    info: rec.info, final: { valLoss: rec.valLoss, accuracy: rec.accuracy, correct: rec.correct, total: rec.total },
    tokensPerSec: rec.tokensPerSec, seconds: rec.seconds, trainLoss: Array.from(rec.losses), evals: rec.evals,
    samples: rec.samples,
  };
  download(new Blob([JSON.stringify(out, null, 1)], { type: "application/json" }), `${runBaseName(rec)}-metrics.json`);
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const nf = new Intl.NumberFormat("en-US");

function fmtInt(n) { return n == null ? "–" : nf.format(Math.round(n)); }

function fmtCompact(n) {
  if (n == null) return "–";
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

function fmtBytes(b) {
  if (b == null) return "–";
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

function fmtPct(x) { return x == null ? "–" : `${(100 * x).toFixed(1)}%`; }

function fmtLoss(x) { return x == null || !Number.isFinite(x) ? "–" : x.toFixed(3); }

function fmtDuration(s) {
  if (!Number.isFinite(s) || s < 0) return "–";
  s = Math.round(s);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function fmtWhen(t) {
  const d = new Date(t);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ` +
    `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function taskName(t) {
  return { e2e: "E2E", cipher: "Cipher", facts: "Facts", custom: "Custom" }[t] || t;
}

// ---------------------------------------------------------------------------------------------------------------
// Charts: canvases sized by devicePixelRatio, fed columnar arrays

const COLORS = { accent: "#2456d6", accentSoft: "rgba(36, 86, 214, 0.22)", ink: "#1b2230", muted: "#6b7485",
  grid: "#e7eaf0", axis: "#c3c9d4", ref: "#8a93a3" };
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

// niceTicks returns about n round numbers spanning [lo, hi].
// integer keeps the ticks on whole numbers (steps, ranks).
function niceTicks(lo, hi, n, integer) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw && !(integer && !Number.isInteger(s))) || raw;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// niceMax rounds hi up to the next round number of a scale with about n ticks.
function niceMax(hi, n) {
  const t = niceTicks(0, hi, n);
  const step = t.length > 1 ? t[1] - t[0] : hi;
  return Math.ceil(hi / step - 1e-9) * step;
}

function setupCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

// drawChart draws spec onto canvas and returns the plotted points (for hover), in CSS pixels.
// spec: {x: {min, max, log, ticks, fmt, label}, y: {min, max, fmt, label}, series: [{name, color, xs, ys, line,
// points, width, dash}], refs: [{y, label, color}], empty}
function drawChart(canvas, spec) {
  const { ctx, w, h } = setupCanvas(canvas);
  const pad = { l: 52, r: 22, t: 30, b: 40 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const X = spec.x;
  const Y = spec.y;
  const tx = X.log ? (v) => Math.log10(v) : (v) => v;
  const x0 = tx(X.min);
  const x1 = tx(X.max);
  const sx = (v) => pad.l + (x1 === x0 ? pw / 2 : ((tx(v) - x0) / (x1 - x0)) * pw);
  const sy = (v) => pad.t + ph - ((v - Y.min) / (Y.max - Y.min || 1)) * ph;
  ctx.font = FONT;
  ctx.lineJoin = "round";

  // Grid and y ticks.
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of Y.ticks || niceTicks(Y.min, Y.max, 4)) {
    const y = Math.round(sy(v)) + 0.5;
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + pw, y); ctx.stroke();
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(Y.fmt(v), pad.l - 8, y);
  }
  // X ticks.
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of X.ticks || niceTicks(X.min, X.max, 5, X.integer)) {
    const x = Math.round(sx(v)) + 0.5;
    ctx.strokeStyle = COLORS.axis;
    ctx.beginPath(); ctx.moveTo(x, pad.t + ph); ctx.lineTo(x, pad.t + ph + 4); ctx.stroke();
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(X.fmt(v), x, pad.t + ph + 7);
  }
  ctx.strokeStyle = COLORS.axis;
  ctx.beginPath(); ctx.moveTo(pad.l, Math.round(pad.t + ph) + 0.5); ctx.lineTo(pad.l + pw, Math.round(pad.t + ph) + 0.5);
  ctx.stroke();
  ctx.fillStyle = COLORS.muted;
  ctx.fillText(X.label, pad.l + pw / 2, h - 15);

  // Reference lines (full fine-tuning).
  for (const r of spec.refs || []) {
    const y = sy(r.y);
    ctx.save();
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = r.color || COLORS.ref;
    ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + pw, y); ctx.stroke();
    ctx.restore();
    ctx.fillStyle = COLORS.muted;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText(r.label, pad.l + 6, y - 3);
  }

  // Series, clipped to the plot area.
  const pts = [];
  ctx.save();
  ctx.beginPath(); ctx.rect(pad.l, pad.t - 6, pw, ph + 12); ctx.clip();
  for (const s of spec.series) {
    if (s.line !== false && s.xs.length > 1) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 2;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      for (let i = 0; i < s.xs.length; i++) {
        const x = sx(s.xs[i]);
        const y = sy(s.ys[i]);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (let i = 0; i < s.xs.length; i++) {
      const p = { x: sx(s.xs[i]), y: sy(s.ys[i]), xv: s.xs[i], yv: s.ys[i], series: s, i };
      if (s.hover !== false) pts.push(p);
      if (s.points) {
        ctx.fillStyle = "#fff";
        ctx.strokeStyle = s.color;
        ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(p.x, p.y, s.radius || 4, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      }
    }
  }
  ctx.restore();

  // Legend, top right, above the plot area so that it never hides data.
  const named = spec.series.filter((s) => s.name).concat((spec.refs || []).filter((r) => r.legend));
  let lx = pad.l + pw;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = named.length - 1; i >= 0; i--) {
    const s = named[i];
    const label = s.name || s.legend;
    const tw = ctx.measureText(label).width;
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(label, lx, 10);
    ctx.strokeStyle = s.color || COLORS.ref;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dash || (s.legend ? [5, 4] : []));
    ctx.beginPath(); ctx.moveTo(lx - tw - 22, 10); ctx.lineTo(lx - tw - 6, 10); ctx.stroke();
    ctx.setLineDash([]);
    lx -= tw + 36;
  }

  if (spec.empty) {
    ctx.fillStyle = COLORS.muted;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(spec.empty, pad.l + pw / 2, pad.t + ph / 2);
  }

  // Hover: the nearest point within reach, with a crosshair and a label.
  canvas.points = pts; // for tests: where each value was drawn
  let tip = "";
  const hv = state.hover && state.hover.chart === canvas.dataset.chart ? state.hover : null;
  if (hv && pts.length && spec.tip) {
    let best = null;
    let bd = Infinity;
    for (const p of pts) {
      const d = spec.hoverX ? Math.abs(p.x - hv.x) : Math.hypot(p.x - hv.x, p.y - hv.y);
      if (d < bd) { bd = d; best = p; }
    }
    if (best && bd < (spec.hoverX ? 1e9 : 40)) {
      ctx.strokeStyle = COLORS.axis;
      ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(Math.round(best.x) + 0.5, pad.t); ctx.lineTo(Math.round(best.x) + 0.5, pad.t + ph);
      ctx.stroke();
      ctx.fillStyle = best.series.color;
      ctx.beginPath(); ctx.arc(best.x, best.y, 4.5, 0, 2 * Math.PI); ctx.fill();
      const lines = spec.tip(best);
      tip = lines.join(" · ");
      ctx.font = FONT;
      const tw = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 16;
      const th = lines.length * 17 + 10;
      let bx = best.x + 12;
      if (bx + tw > w - 4) bx = best.x - 12 - tw;
      let by = Math.max(4, Math.min(best.y - th / 2, h - th - 4));
      ctx.fillStyle = "rgba(27, 34, 48, 0.92)";
      roundRect(ctx, bx, by, tw, th, 5);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      lines.forEach((l, i) => ctx.fillText(l, bx + 8, by + 6 + i * 17));
    }
  }
  if (canvas.dataset.tip !== tip) canvas.dataset.tip = tip;
  return pts;
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

// smooth returns an exponential moving average of ys, de-biased at the start (as TensorBoard draws it).
function smooth(ys, a) {
  const out = new Array(ys.length);
  let m = 0;
  for (let i = 0; i < ys.length; i++) {
    m = a * m + (1 - a) * ys[i];
    out[i] = m / (1 - a ** (i + 1));
  }
  return out;
}

function drawLossChart() {
  const r = state.run;
  const canvas = $("loss-chart");
  const losses = r ? r.losses : [];
  const evals = r ? r.evals : [];
  const xs = losses.map((_, i) => i + 1);
  let ymax = 1;
  for (const v of losses) if (Number.isFinite(v) && v > ymax) ymax = v;
  for (const e of evals) if (Number.isFinite(e.valLoss) && e.valLoss > ymax) ymax = e.valLoss;
  ymax = niceMax(ymax, 4);
  const sm = smooth(losses, 0.9);
  drawChart(canvas, {
    x: { min: 0, max: r ? r.steps : 100, fmt: fmtInt, label: "step", integer: true },
    y: { min: 0, max: ymax, fmt: (v) => v.toFixed(ymax < 2 ? 2 : 1) },
    series: [
      { color: COLORS.accentSoft, xs, ys: losses, width: 1, hover: false },
      { name: "train", color: COLORS.accent, xs, ys: sm, width: 2 },
      { name: "validation", color: COLORS.ink, xs: evals.map((e) => e.step), ys: evals.map((e) => e.valLoss),
        points: true, width: 1.5, radius: 3.5 },
    ],
    empty: losses.length ? "" : "Loss curves appear here while training",
    hoverX: true,
    tip: (p) => p.series.name === "validation" ?
      [`step ${fmtInt(p.xv)}`, `val loss ${fmtLoss(p.yv)}`] :
      [`step ${fmtInt(p.xv)}`, `train loss ${fmtLoss(losses[p.i])}`, `smoothed ${fmtLoss(p.yv)}`],
  });
}

function drawAccChart() {
  const r = state.run;
  const evals = r ? r.evals : [];
  drawChart($("acc-chart"), {
    x: { min: 0, max: r ? r.steps : 100, fmt: fmtInt, label: "step", integer: true },
    y: { min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], fmt: (v) => `${Math.round(v * 100)}%` },
    series: [{ name: "", color: COLORS.accent, xs: evals.map((e) => e.step), ys: evals.map((e) => e.accuracy),
      points: true }],
    empty: evals.length ? "" : "Evaluated on held-out test prompts",
    tip: (p) => [`step ${fmtInt(p.xv)}`, `accuracy ${fmtPct(p.yv)}`, `${evals[p.i].correct} / ${evals[p.i].total}`],
  });
}

// sweepRuns returns the finished runs of the newest sweep, from the results table (so they survive a reload).
function sweepRuns() {
  const id = state.sweep ? state.sweep.id : (state.runs.find((r) => r.sweepId) || {}).sweepId;
  if (!id) return [];
  return state.runs.filter((r) => r.sweepId === id);
}

function drawSweepCharts() {
  const runs = sweepRuns();
  const lora = runs.filter((r) => r.method === "lora").sort((a, b) => a.rank - b.rank);
  const full = runs.find((r) => r.method === "full");
  const refs = full ? [{ y: full.accuracy, label: `full fine-tuning ${fmtPct(full.accuracy)}`, color: COLORS.ref }] : [];
  const ranks = lora.map((r) => r.rank);
  const rmax = Math.max(16, ...ranks);
  const rankTicks = [];
  for (let r = 1; r <= rmax; r *= 2) rankTicks.push(r);
  const empty = runs.length ? "" : "Run a sweep to see accuracy against rank";
  const loraTip = (p) => {
    const r = lora[p.i];
    return [`rank ${r.rank}`, `accuracy ${fmtPct(r.accuracy)}`, `${fmtInt(r.trainableParams)} trainable`];
  };
  drawChart($("rank-chart"), {
    x: { min: 1, max: rmax, log: true, ticks: rankTicks, fmt: String, label: "rank r (log scale)" },
    y: { min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], fmt: (v) => `${Math.round(v * 100)}%` },
    series: [{ name: "LoRA", color: COLORS.accent, xs: ranks, ys: lora.map((r) => r.accuracy), points: true }],
    refs, empty, tip: loraTip,
  });
  const params = lora.map((r) => r.trainableParams);
  const all = params.concat(full ? [full.trainableParams] : []).filter((v) => v > 0);
  const lo = all.length ? 10 ** Math.floor(Math.log10(Math.min(...all))) : 1e2;
  const hi = all.length ? 10 ** Math.ceil(Math.log10(Math.max(...all))) : 1e6;
  const decades = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) decades.push(v);
  const series = [{ name: "LoRA", color: COLORS.accent, xs: params, ys: lora.map((r) => r.accuracy), points: true }];
  if (full) {
    series.push({ name: "full", color: COLORS.ink, xs: [full.trainableParams], ys: [full.accuracy], points: true,
      line: false });
  }
  drawChart($("params-chart"), {
    x: { min: lo, max: hi, log: true, ticks: decades, fmt: fmtCompact, label: "trainable parameters (log scale)" },
    y: { min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], fmt: (v) => `${Math.round(v * 100)}%` },
    series, refs, empty,
    tip: (p) => p.series.name === "full" ?
      ["full fine-tuning", `accuracy ${fmtPct(full.accuracy)}`, `${fmtInt(full.trainableParams)} trainable`] :
      loraTip(p),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// render: state -> DOM, once per frame

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function render() {
  renderStatus();
  renderModel();
  renderForm();
  renderRun();
  renderSweep();
  renderRuns();
  drawLossChart();
  drawAccChart();
  drawSweepCharts();
}

function renderStatus() {
  const st = $("status");
  let kind = "busy";
  let text = "Loading the wasm engine and the base model…";
  if (state.loadError) { kind = "error"; text = "Engine failed to load"; }
  else if (state.ready) {
    const e = state.engine;
    kind = running() ? "run" : "ok";
    text = `${running() ? "Training" : "Ready"} · ${engineName(running() ? state.run.workers : 0)} · ` +
      `${fmtBytes(e.wasmEncodedBytes || e.wasmBytes)} download · ready in ${(e.loadMs / 1000).toFixed(2)} s`;
  }
  st.dataset.kind = kind;
  setText("status", text);
  const err = $("error");
  err.hidden = !state.error;
  setText("error-text", state.error);
}

function renderModel() {
  const m = state.model;
  setText("model-name", m ? m.name : "–");
  setText("model-params", m ? fmtInt(m.params) : "–");
  setText("model-layers", m ? String(m.layers) : "–");
  setText("model-heads", m ? (m.kvHeads && m.kvHeads !== m.heads ? `${m.heads} (${m.kvHeads} key/value)` : String(m.heads)) : "–");
  setText("model-dim", m ? `${m.dim} (MLP ${m.hiddenDim}) · vocab ${fmtInt(m.vocab)}` : "–");
  setText("model-context", m ? `${fmtInt(m.seqLen)} tokens` : "–");
  const gp = $("gen-prompt");
  if (document.activeElement !== gp && gp.value !== state.gen.prompt) gp.value = state.gen.prompt;
  $("gen-btn").disabled = !state.ready || running() || state.gen.busy;
  const out = $("gen-out");
  const want = state.gen.busy ? "…" : state.gen.error ? state.gen.error : `${state.gen.done}|${state.gen.text}`;
  if (out.dataset.text !== want) {
    out.dataset.text = want;
    out.replaceChildren();
    if (!state.gen.busy && !state.gen.error && state.gen.done) {
      const p = document.createElement("span");
      p.className = "prompt";
      p.textContent = state.gen.prompt;
      const t = document.createElement("span");
      t.textContent = state.gen.text || " (the model ended the text at once)";
      t.className = state.gen.text ? "" : "muted";
      out.append(p, t);
    } else {
      out.textContent = state.gen.busy ? "…" : state.gen.error;
    }
    out.classList.toggle("bad", !!state.gen.error);
  }
}

function renderForm() {
  const c = state.config;
  const locked = !state.ready || running();
  for (const el of document.querySelectorAll("#task-panel select, #task-panel input, #settings-panel input, " +
    "#settings-panel select, #sweep-ranks, #sweep-full")) {
    const loraOnly = el.closest(".lora-only") && c && c.method !== "lora";
    el.disabled = locked || !!loraOnly;
  }
  for (const f of document.querySelectorAll(".lora-only")) f.classList.toggle("off", !!c && c.method !== "lora");
  for (const f of document.querySelectorAll("[data-show]")) f.hidden = !c || c.task !== f.dataset.show;
  for (const span of document.querySelectorAll(".err")) {
    const e = state.fieldErrors[span.dataset.for];
    setText2(span, e ? e.msg : "");
    const field = span.closest(".field");
    if (field) field.classList.toggle("invalid", !!e);
    const folded = span.closest("details");
    if (e && folded && !folded.open) folded.open = true; // an error in "More settings" must be seen
  }
  const other = state.fieldErrors._;
  setText("form-note", other ? other.msg : state.config && state.config.task === "custom" && !state.custom ?
    "Choose a JSON Lines file first." : "");
  $("form-note").classList.toggle("bad", !!other);
  setText("file-label", state.custom ? `${state.custom.name} · ${fmtInt(state.custom.lines)} lines` :
    "Choose or drop a .jsonl file of {\"prompt\", \"completion\"} lines. It stays on this machine.");

  const ex = $("examples");
  const key = JSON.stringify(state.examples);
  if (ex.dataset.sig !== key) {
    ex.dataset.sig = key;
    ex.replaceChildren(...state.examples.map((e) => {
      const li = document.createElement("li");
      const p = document.createElement("span");
      p.className = "prompt";
      p.textContent = e.prompt;
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.textContent = " → ";
      const t = document.createElement("span");
      t.className = "target";
      t.textContent = e.completion;
      li.append(p, arrow, t);
      return li;
    }));
  }

  const r = state.run;
  $("start").disabled = !canStart();
  $("pause").disabled = !r || !["running", "paused"].includes(r.status);
  setText("pause", r && r.status === "paused" ? "Resume" : "Pause");
  $("stop").disabled = !running();
  $("sweep-start").disabled = !canStart() || (state.config && state.config.method !== "lora" && false);
}

function setText2(el, text) { if (el.textContent !== text) el.textContent = text; }

function renderResume() {
  const rec = state.interrupted;
  const box = $("resume");
  box.hidden = !rec || running();
  if (box.hidden) return;
  const c = rec.config;
  setText("resume-text", `A run was interrupted at step ${fmtInt(rec.step)} of ${fmtInt(rec.steps || c.steps)} ` +
    `(${taskName(c.task)} · ${c.method === "lora" ? `LoRA r=${c.rank} on ${c.targets.join(", ")}` : "full fine-tuning"}` +
    `${rec.sweepId ? ", part of a sweep" : ""}). Resume it from there, or discard it.`);
  $("resume-run").disabled = !state.ready;
}

function renderRun() {
  renderResume();
  const r = state.run;
  const bar = $("progress-bar");
  if (!r) {
    bar.style.width = "0%";
    return;
  }
  const frac = r.steps ? r.step / r.steps : 0;
  bar.style.width = `${(100 * frac).toFixed(2)}%`;
  bar.dataset.status = r.status;
  const c = r.config;
  setText("run-title", `${taskName(c.task)} · ${c.method === "lora" ?
    `LoRA r=${c.rank}, α=${c.alpha}${c.rslora ? " (rsLoRA)" : ""} on ${c.targets.join(", ")}` : "full fine-tuning"}` +
    (r.sweepId && state.sweep ? ` · sweep run ${state.sweep.done + (running() ? 1 : 0)} of ${state.sweep.total}` : ""));
  const msPerStep = r.step ? r.ms / r.step : 0;
  const eta = msPerStep * (r.steps - r.step) / 1000;
  const statusText = {
    starting: "Starting…", running: "Training", paused: "Paused", stopped: "Stopped", done: "Finished",
    error: `Failed: ${r.errorText || ""}`,
  }[r.status];
  let text = `${statusText} · step ${fmtInt(r.step)} of ${fmtInt(r.steps)} (${(100 * frac).toFixed(0)}%)`;
  if (r.status === "running" && r.step) text += ` · about ${fmtDuration(eta)} left`;
  if (r.status === "done") text += ` · ${fmtDuration(r.seconds)}`;
  setText("progress-text", text);
  const last = r.losses.length ? smooth(r.losses.slice(-50), 0.9).at(-1) : null;
  setText("train-loss", fmtLoss(last));
  const ev = r.evals.filter((e) => e.step > 0 || r.evals.length === 1).at(-1);
  setText("val-loss", ev ? fmtLoss(ev.valLoss) : "–");
  setText("accuracy", ev ? `${fmtPct(ev.accuracy)}` : "–");
  setText("tps", r.tokensPerSec ? fmtInt(r.tokensPerSec) : "–");
  const info = r.info;
  setText("trainable", info ? `${fmtInt(info.trainableParams)}` : "–");
  setText("memory", info ? fmtBytes(info.trainableBytes) : "–");
  const mb = $("memory-bars");
  const key = info ? `${info.trainableBytes}/${info.fullBytes}/${info.trainableParams}/${info.totalParams}` : "";
  if (mb.dataset.sig !== key) {
    mb.dataset.sig = key;
    mb.replaceChildren();
    if (info) {
      const share = info.fullBytes ? info.trainableBytes / info.fullBytes : 0;
      const line = (label, bytes, frac, cls) => {
        const row = document.createElement("div");
        row.className = "membar";
        const l = document.createElement("span");
        l.className = "k";
        l.textContent = label;
        const track = document.createElement("span");
        track.className = "track";
        const fill = document.createElement("span");
        fill.className = `fill ${cls}`;
        fill.style.width = `${Math.max(0.4, 100 * frac)}%`;
        track.append(fill);
        const v = document.createElement("span");
        v.className = "v";
        v.textContent = fmtBytes(bytes);
        row.append(l, track, v);
        return row;
      };
      const pct = info.totalParams ? (100 * info.trainableParams / info.totalParams) : 0;
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = `Weights, gradients and AdamW moments of the trainable parameters ` +
        `(${pct < 0.1 ? pct.toFixed(3) : pct.toFixed(2)}% of ${fmtInt(info.totalParams)}), ` +
        `against the same state for every weight.`;
      mb.append(line(info.method === "full" ? "This run (full)" : "This run (LoRA)", info.trainableBytes, share, "accent"),
        line("Full fine-tuning", info.fullBytes, 1, "grey"), note);
    }
  }
  renderSamples(r);
  $("merge").disabled = !(r.status === "done" && r.config.method === "lora" && !r.merged);
  setText("merge-out", r.merge || "");
}

function renderSamples(r) {
  const tbody = $("samples").tBodies[0];
  const before = r.before || [];
  const after = r.after || [];
  const key = JSON.stringify([r.id, before, after]);
  if (tbody.dataset.sig === key) return;
  tbody.dataset.sig = key;
  const rows = [];
  const n = Math.max(before.length, after.length);
  for (let i = 0; i < n; i++) {
    const b = before[i];
    const a = after[i];
    const s = b || a;
    const tr = document.createElement("tr");
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.className = cls || "";
      td.textContent = text;
      return td;
    };
    const judged = (x) => {
      if (!x) return cell(r.status === "running" || r.status === "paused" ? "…" : "–", "muted");
      const ok = x.got.trim() === x.want.trim();
      const td = cell(x.got || "(empty)", ok ? "ok" : x.got ? "no" : "no empty");
      td.title = ok ? "exact match" : "differs from the target";
      return td;
    };
    tr.append(cell(s.prompt, "mono"), cell(s.want, "mono"), judged(b), judged(a));
    tr.children[2].classList.add("mono");
    tr.children[3].classList.add("mono");
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = 4;
    td.textContent = "Shown once a run starts.";
    tr.append(td);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

function renderSweep() {
  const s = state.sweep;
  let text = "";
  if (s) {
    const label = (it) => it.method === "full" ? "full fine-tuning" : `r=${it.rank}`;
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
}

function renderRuns() {
  const tbody = $("runs").tBodies[0];
  const key = state.runs.map((r) => r.id).join(",");
  if (tbody.dataset.sig === key) return;
  tbody.dataset.sig = key;
  const rows = state.runs.map((rec) => {
    const tr = document.createElement("tr");
    tr.dataset.id = rec.id;
    const cell = (text, cls) => {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      td.textContent = text;
      return td;
    };
    const dl = document.createElement("td");
    dl.className = "dl";
    if (rec.adapter) {
      const a = document.createElement("button");
      a.type = "button";
      a.className = "link";
      a.textContent = "adapter";
      a.title = "adapter_model.safetensors + adapter_config.json (PEFT), zipped";
      a.addEventListener("click", () => downloadAdapter(rec));
      dl.append(a);
    }
    const m = document.createElement("button");
    m.type = "button";
    m.className = "link";
    m.textContent = "metrics";
    m.title = "settings, loss curve, evaluations and samples as JSON";
    m.addEventListener("click", () => downloadMetrics(rec));
    dl.append(m);
    tr.append(
      cell(fmtWhen(rec.time), "muted"),
      cell(taskName(rec.task) + (rec.taskDetail ? ` (${rec.taskDetail})` : "")),
      cell(rec.method === "lora" ? (rec.config.rslora ? "rsLoRA" : "LoRA") : "full"),
      cell(rec.rank == null ? "–" : String(rec.rank), "num"),
      cell(rec.targets.length ? rec.targets.join(" ") : "all"),
      cell(fmtInt(rec.trainableParams), "num"),
      cell(fmtLoss(rec.valLoss), "num"),
      cell(fmtPct(rec.accuracy), "num strong"),
      cell(fmtInt(rec.tokensPerSec), "num"),
      cell(fmtDuration(rec.seconds), "num"),
      dl,
    );
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = 11;
    td.textContent = "Finished runs are listed here and kept across reloads.";
    tr.append(td);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  $("clear-runs").disabled = state.runs.length === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

function wire() {
  for (const el of document.querySelectorAll("[data-key], #targets input")) {
    el.addEventListener(el.type === "radio" || el.tagName === "SELECT" || el.type === "checkbox" ? "change" : "input",
      () => { readForm(); configChanged(); });
  }
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) loadFile(e.target.files[0]); });
  // Dropping a file anywhere on the page reads it locally; nothing is uploaded.
  document.addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
  document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) $("drop").classList.remove("over"); });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    $("drop").classList.remove("over");
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f && state.ready && !running()) loadFile(f);
  });
  $("start").addEventListener("click", () => { if (canStart()) { state.sweep = null; startRun(); } });
  $("pause").addEventListener("click", () => {
    const r = state.run;
    if (!r) return;
    send(r.status === "paused" ? "resume" : "pause", { runId: r.id });
  });
  $("stop").addEventListener("click", () => {
    if (!state.run) return;
    if (state.sweep && state.sweep.status === "running") state.sweep.status = "stopped";
    send("stop", { runId: state.run.id });
  });
  $("merge").addEventListener("click", () => {
    const r = state.run;
    r.merge = "Merging…";
    send("merge", { runId: r.id });
    invalidate();
  });
  $("gen-btn").addEventListener("click", () => { state.gen.prompt = $("gen-prompt").value; generate(); });
  $("gen-prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { state.gen.prompt = e.target.value; generate(); }
  });
  $("sweep-start").addEventListener("click", () => { if (canStart()) startSweep(); });
  $("sweep-ranks").addEventListener("input", () => { delete state.fieldErrors["sweep-ranks"]; invalidate(); });
  $("clear-runs").addEventListener("click", () => { state.sweep = running() ? state.sweep : null; clearRuns(); });
  $("resume-run").addEventListener("click", resumeRun);
  $("discard-run").addEventListener("click", clearInflight);
  $("error-close").addEventListener("click", () => { state.error = ""; invalidate(); });
  for (const c of document.querySelectorAll("canvas[data-chart]")) {
    c.addEventListener("mousemove", (e) => {
      const b = c.getBoundingClientRect();
      state.hover = { chart: c.dataset.chart, x: e.clientX - b.left, y: e.clientY - b.top };
      invalidate();
    });
    c.addEventListener("mouseleave", () => { state.hover = null; invalidate(); });
  }
  // Charts follow their box and the device pixel ratio (zoom, moving to another screen).
  new ResizeObserver(invalidate).observe(document.body);
  const watchDPR = () => matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`)
    .addEventListener("change", () => { invalidate(); watchDPR(); }, { once: true });
  watchDPR();
  window.addEventListener("hashchange", () => {
    if (!state.ready || running()) return;
    state.config = { ...state.defaults, ...readHash() };
    fillForm();
    readForm();
    configChanged();
  });
}

function main() {
  wire();
  // autostart=1 is consumed once: a reload of the same address shows the results instead of training again.
  if (!window.Worker || !window.WebAssembly) {
    state.loadError = "This browser lacks Web Workers or WebAssembly, which golora needs.";
    showError(state.loadError);
    return;
  }
  startWorker();
  loadRuns();
  loadInflight();
  invalidate();
}

main();
