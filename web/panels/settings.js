// panels/settings.js holds the run's settings: the task panel (dataset, its options, the user's JSON Lines file, the
// first examples) and the fine-tuning panel (the method, with its one line and its own settings, the optimiser
// settings, Start / Pause / Stop). The form, state.config and the URL hash hold the same settings; the engine's
// Validate is the authority on them, and its errors show next to their fields.
//
// Any input with data-key="name" is the setting "name": it is read by the type of the engine's default for it (a
// number, true/false, text), whole numbers where its step is 1. A new setting needs only its input in index.html; a
// field with data-methods="m1 m2" shows only for those methods (the method's size knob, LoRA's settings).
import { $, el, keyed, setText } from "../dom.js";
import { fmtInt } from "../format.js";
import { readHash, writeHash } from "../hash.js";
import { methodLine, methodName, methods, setTable, usesLoRA } from "../methods.js";
import * as run from "./run.js";
import { isBaseFile } from "./base.js";

let ctx;
let nextId = 1;
let previewKey = "";

export function init(c) {
  ctx = c;
  const { state, on } = ctx;
  on("ready", (p) => {
    setTable(p.methods);
    $("method").replaceChildren(...methods().map((m) => el("option", { value: m.name, text: methodName(m.name) })));
    const h = readHash(state.defaults);
    state.config = hashConfig(h.config);
    state.autostart = h.autostart;
    fillForm();
    configChanged();
  });
  on("validated", (p) => {
    if (p.id !== state.validating) return;
    state.validating = 0;
    const errs = {};
    for (const [k, v] of Object.entries(state.fieldErrors)) if (v.local) errs[k] = v;
    if (!p.ok) Object.assign(errs, fieldErrors(p));
    state.fieldErrors = errs;
    if (state.autostart) {
      state.autostart = false;
      if (p.ok) run.startRun();
      else ctx.showError(`autostart refused: ${p.error}`);
    }
    ctx.invalidate();
  });
  on("preview", (p) => {
    state.examples = p.examples || [];
    if (p.error) Object.assign(state.fieldErrors, fieldErrors({ field: "task", ...p }));
    ctx.emit("examples");
    ctx.invalidate();
  });
  wire();
}

// hashConfig is the settings a URL hash gives: the defaults, with the hash's values over them; a method named without a
// learning rate runs at its own default rate (#method=full is full fine-tuning at 1e-3, not at LoRA's rate).
function hashConfig(given) {
  const { state } = ctx;
  const c = { ...state.defaults, ...given };
  if (given.lr === undefined && c.method in state.lrs) c.lr = +state.lrs[c.method].toPrecision(7);
  return c;
}

// fieldErrors turns an engine error {error, field, fields} into form errors; one of no known field goes under the
// buttons ("_").
export function fieldErrors(p) {
  const out = {};
  const known = (f) => f && document.querySelector(`.err[data-for="${f}"]`);
  if (p.fields) for (const [f, msg] of Object.entries(p.fields)) out[known(f) ? f : "_"] = { msg, local: false };
  else out[known(p.field) ? p.field : "_"] = { msg: p.error, local: false };
  return out;
}

export function fillForm() {
  const c = ctx.state.config;
  for (const e of document.querySelectorAll("[data-key]")) {
    const k = e.dataset.key;
    if (e.type === "radio") e.checked = e.value === c[k];
    else if (typeof ctx.state.defaults[k] === "boolean") e.value = String(!!c[k]);
    else e.value = c[k] ?? "";
  }
  for (const box of $("targets").querySelectorAll("input")) box.checked = (c.targets || []).includes(box.value);
}

// appliesTo reports whether the input or field e belongs to method's settings: a field with data-methods lists its
// methods, one of class lora-only is LoRA's and DoRA's, any other field applies to every method.
function appliesTo(e, method) {
  const f = e.closest("[data-methods], .lora-only");
  if (!f) return true;
  return f.dataset.methods ? f.dataset.methods.split(" ").includes(method) : usesLoRA(method);
}

// readForm parses the form into state.config; values that do not parse are refused here with a reason. The settings
// of other methods than the chosen one keep their values unread (hidden, they cannot be corrected).
function readForm() {
  const { state } = ctx;
  const c = { ...state.config, method: $("method").value };
  const errs = {};
  for (const e of document.querySelectorAll("[data-key]")) {
    const k = e.dataset.key;
    if (!appliesTo(e, c.method)) continue;
    const d = state.defaults[k];
    if (e.type === "radio") { if (e.checked) c[k] = e.value; continue; }
    if (typeof d === "boolean") { c[k] = e.value === "true"; continue; }
    if (typeof d !== "number") { c[k] = e.value; continue; }
    const raw = e.value.trim();
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v)) errs[k] = { msg: "enter a number", local: true };
    else if (e.step === "1" && !Number.isInteger(v)) errs[k] = { msg: "enter a whole number", local: true };
    else if (v < 0) errs[k] = { msg: "must not be negative", local: true };
    else c[k] = v;
  }
  c.targets = [...$("targets").querySelectorAll("input:checked")].map((b) => b.value);
  if (usesLoRA(c.method) && c.targets.length === 0) errs.targets = { msg: "choose at least one matrix", local: true };
  state.config = c;
  state.fieldErrors = errs;
}

// customFile is the user's file as the worker takes it ({name, data}), when the task is "custom".
// methodChanged moves the learning rate to the new method's default when it was at the old one's (LoRA's 2e-2
// would throw full fine-tuning off; a rate the user typed stays).
function methodChanged(before) {
  const { state } = ctx;
  const c = state.config;
  if (c.method === before || !(before in state.lrs) || !(c.method in state.lrs)) return;
  if (Math.fround(c.lr) !== Math.fround(state.lrs[before])) return;
  c.lr = +state.lrs[c.method].toPrecision(7);
  fillForm();
}

export function customFile() {
  const { state } = ctx;
  return state.config.task === "custom" && state.custom ? { name: state.custom.name, data: state.custom.data } : null;
}

// configChanged re-validates (the engine's Validate is the authority), rewrites the hash and refreshes the task's
// examples.
export function configChanged() {
  const { state } = ctx;
  writeHash(state.config, state.defaults);
  // A message about the last run or the old settings no longer applies (a failed engine load still does).
  if (!state.loadError) state.error = "";
  state.sweepError = "";
  if (Object.keys(state.fieldErrors).length === 0) {
    state.validating = nextId++;
    // Start waits for the engine's verdict: disabled now, not at the next frame, so that a quick click finds it so.
    $("start").disabled = true;
    $("sweep-start").disabled = true;
    $("methods-start").disabled = true;
    ctx.send("validate", { id: state.validating, config: state.config, custom: customFile() });
  } else if (state.autostart) {
    state.autostart = false;
    ctx.showError("autostart refused: fix the settings marked in red");
  }
  const c = state.config;
  const key = JSON.stringify([c.task, c.difficulty, c.facts, c.seed, state.custom && state.custom.name,
    state.model && state.model.fingerprint]);
  if (key !== previewKey && !ctx.running() && !(c.task === "custom" && !state.custom)) {
    previewKey = key;
    ctx.send("preview", { id: nextId++, config: { ...c, method: "frozen" }, custom: customFile(), n: 3 });
  }
  if (c.task === "custom" && !state.custom) state.examples = [];
  ctx.invalidate();
}

async function loadFile(file) {
  const { state } = ctx;
  try {
    // The bytes as they are: the engine refuses invalid UTF-8 naming its line (file.text() would replace it).
    const data = new Uint8Array(await file.arrayBuffer());
    let lines = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 10 && (i === 0 || data[i - 1] !== 10)) lines++;
    if (data.length && data[data.length - 1] !== 10) lines++;
    state.custom = { name: file.name, data, lines };
    state.config.task = "custom";
    fillForm();
    readForm();
    configChanged();
  } catch (err) {
    ctx.showError(`Could not read ${file.name}: ${err.message}`);
  }
}

function wire() {
  const { state } = ctx;
  for (const e of document.querySelectorAll("[data-key], #targets input")) {
    e.addEventListener(e.type === "radio" || e.tagName === "SELECT" || e.type === "checkbox" ? "change" : "input",
      () => {
        const before = state.config.method;
        readForm();
        methodChanged(before);
        configChanged();
      });
  }
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) loadFile(e.target.files[0]); });
  // Dropping a file anywhere on the page reads it locally; nothing is uploaded.
  document.addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
  document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) $("drop").classList.remove("over"); });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    $("drop").classList.remove("over");
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f && !isBaseFile(f) && state.ready && !ctx.running()) loadFile(f); // a base file: panels/base.js
  });
  $("start").addEventListener("click", () => { if (ctx.canStart()) { state.sweep = null; run.startRun(); } });
  $("pause").addEventListener("click", () => {
    const r = state.run;
    if (r) ctx.send(r.status === "paused" ? "resume" : "pause", { runId: r.id });
  });
  $("stop").addEventListener("click", () => {
    if (!state.run) return;
    if (state.sweep && state.sweep.status === "running") state.sweep.status = "stopped";
    ctx.send("stop", { runId: state.run.id });
  });
  window.addEventListener("hashchange", () => {
    if (!state.ready || ctx.running()) return;
    const h = readHash(state.defaults);
    state.config = hashConfig(h.config);
    state.autostart = h.autostart;
    fillForm();
    readForm();
    configChanged();
  });
}

export function render() {
  const { state } = ctx;
  const c = state.config;
  const locked = !state.ready || ctx.running();
  const applies = (e) => !c || appliesTo(e, c.method);
  for (const e of document.querySelectorAll("#task-panel select, #task-panel input, #settings-panel input, " +
    "#settings-panel select, #sweep-ranks, #sweep-full")) {
    e.disabled = locked || !applies(e);
  }
  for (const f of document.querySelectorAll("#settings-panel [data-methods], #settings-panel .lora-only")) {
    f.hidden = !applies(f);
  }
  setText("method-line", c ? methodLine(c.method) : "");
  for (const f of document.querySelectorAll("[data-show]")) f.hidden = !c || c.task !== f.dataset.show;
  for (const span of document.querySelectorAll("#task-panel .err, #settings-panel .err")) {
    const e = state.fieldErrors[span.dataset.for];
    setText(span, e ? e.msg : "");
    const field = span.closest(".field");
    if (field) field.classList.toggle("invalid", !!e);
    const folded = span.closest("details");
    if (e && folded && !folded.open) folded.open = true; // an error in "More settings" must be seen
  }
  const other = state.fieldErrors._;
  setText("form-note", other ? other.msg : c && c.task === "custom" && !state.custom && !state.fieldErrors.custom ?
    "Choose a JSON Lines file first." : "");
  $("form-note").classList.toggle("bad", !!other);
  setText("file-label", state.custom ? `${state.custom.name} · ${fmtInt(state.custom.lines)} lines` :
    "Choose or drop a .jsonl file of {\"prompt\", \"completion\"} lines. It stays on this machine.");
  keyed($("examples"), JSON.stringify(state.examples), () => state.examples.map((e) =>
    el("li", {}, el("span", { class: "prompt", text: e.prompt }), el("span", { class: "arrow", text: " → " }),
      el("span", { class: "target", text: e.completion }))));

  const r = state.run;
  $("start").disabled = !ctx.canStart();
  $("pause").disabled = !r || !["running", "paused"].includes(r.status);
  setText("pause", r && r.status === "paused" ? "Resume" : "Pause");
  $("stop").disabled = !ctx.running();
}
