// app.js is the page's main thread: one state object, the panels (web/panels/, one module each) that change it in
// their event handlers, and one render() per animation frame that draws it. All training happens in the Web Worker
// (worker.js); client.js speaks to it.
//
// A panel is a module with init(ctx), called once, and render(), called every frame. ctx gives it the state, the
// worker (send, on), the page's own events (listen, emit) and a few shared predicates. A new panel is a <section> in
// index.html, a module in panels/, and one line in the list below.
import * as client from "./client.js";
import { $, setText } from "./dom.js";
import { fmtBytes } from "./format.js";
import * as model from "./panels/model.js";
import * as base from "./panels/base.js";
import * as tokens from "./panels/tokens.js";
import * as settings from "./panels/settings.js";
import * as run from "./panels/run.js";
import * as sweep from "./panels/sweep.js";
import * as methods from "./panels/methods.js";
import * as runs from "./panels/runs.js";
import * as lrdim from "./panels/lrdim.js";
import * as analyse from "./panels/analyse.js";
import * as store from "./store.js";

// runs records a finished run before sweep starts the next (of any sweep: lrdim's and methods' too)
const panels = [model, base, settings, tokens, run, runs, sweep, lrdim, methods, analyse];

const MODEL_URL = "models/base.safetensors";
const MODEL_FILE = "base.safetensors"; // the name adapters record as base_model_name_or_path, as the CLI's

const state = {
  ready: false,
  loadError: "",
  engine: null,       // {simd, wasmURL, wasmBytes, wasmEncodedBytes, modelBytes, loadMs}
  model: null,        // the base (train.PageModel): {name, file, format, tokenizer, fingerprint, params, dim, ...}
  defaults: null,     // the engine's default settings (train.DefaultConfig as the page spells it)
  lrs: {},            // each method's default learning rate, by name
  config: null,       // the settings in the form
  custom: null,       // the user's JSON Lines file: {name, data: Uint8Array, lines}
  fieldErrors: {},    // field -> {msg, local}: local parsing and the engine's Validate; "_" for errors of no field
  validating: 0,      // id of the validation in flight
  autostart: false,   // the URL asked to start a run as soon as its settings are valid
  examples: [],       // the task's first training examples
  gen: { prompt: "", text: "", busy: false, done: false, error: "", auto: true },
  run: null,          // the current or last run (panels/run.js)
  interrupted: null,  // a run saved in IndexedDB that a reload interrupted, offered for resuming
  sweep: null,        // the sweep in progress or last run (panels/sweep.js)
  sweepError: "",     // why the sweep's settings were refused, shown under its ranks
  runs: [],           // finished runs, newest first, kept in IndexedDB
  error: "",          // the banner under the header
};

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

function running() {
  return !!state.run && ["starting", "running", "paused"].includes(state.run.status);
}

function canStart() {
  return state.ready && !running() && !state.baseBusy && Object.keys(state.fieldErrors).length === 0 && !state.validating &&
    !(state.config.task === "custom" && !state.custom);
}

function showError(msg) {
  state.error = msg;
  invalidate();
}

// engineName is the wasm build, and how many workers train when a run says so.
function engineName(workers) {
  if (!state.engine) return "";
  const name = state.engine.simd ? "wasm SIMD128" : "wasm scalar";
  return workers ? `${name} × ${workers} worker${workers > 1 ? "s" : ""}` : name;
}

// The page's own events, between panels: "runEnded" {run, status} after a run finished, stopped or failed.
const listeners = new Map();
function listen(type, fn) {
  if (!listeners.has(type)) listeners.set(type, []);
  listeners.get(type).push(fn);
}
function emit(type, payload) {
  for (const fn of listeners.get(type) || []) fn(payload);
}

const ctx = {
  state, invalidate, running, canStart, showError, engineName, listen, emit, send: client.send, on: client.on,
};

function render() {
  renderStatus();
  for (const p of panels) p.render();
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
  setText(st, text);
  $("error").hidden = !state.error;
  setText("error-text", state.error);
}

function main() {
  // For the console and the browser test: the state, the store, and a panel's helpers.
  window.app = { state, store, sweep, runs, methods, base };
  client.on("ready", (p) => {
    state.ready = true;
    state.engine = p;
    state.model = p.model;
    // Go's float32 values may arrive as float64 (0.003 as 0.003000000026077032): round them back to float32 precision.
    state.lrs = p.lrs || {};
    state.defaults = Object.fromEntries(Object.entries(p.defaults).map(([k, v]) =>
      [k, typeof v === "number" && !Number.isInteger(v) ? +v.toPrecision(7) : v]));
  });
  client.on("error", (p) => {
    if (p.fatal) state.loadError = p.message;
    // A rate that diverges is one of a learning-rate sweep's results (the sweep goes on), not an error to announce.
    if (p.stopped && state.sweep && state.sweep.kind === "lrs" && state.sweep.status === "running") return;
    showError(p.message);
  });
  for (const p of panels) p.init(ctx);
  $("error-close").addEventListener("click", () => { state.error = ""; invalidate(); });
  if (!window.Worker || !window.WebAssembly) {
    state.loadError = "This browser lacks Web Workers or WebAssembly, which golora needs.";
    showError(state.loadError);
    return;
  }
  const fail = (msg) => { state.loadError = msg; showError(msg); };
  // ?engine=scalar loads the scalar build even where WebAssembly SIMD works (to compare, or to test the fallback).
  const forceScalar = new URLSearchParams(location.search).get("engine") === "scalar";
  client.start({ modelURL: MODEL_URL, modelName: MODEL_FILE, forceScalar }, fail);
  invalidate();
}

main();
