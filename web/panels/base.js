// panels/base.js is the choice of base in the "Base model" panel: the shipped base, one kept in this browser, or a
// file the user picks or drops: golora's .safetensors, or a llama2.c .bin checkpoint with its tokenizer.bin. The
// engine reads it (train.ReadPageBase, the CLI's readers) in both workers; a file it refuses (too large, of a shape
// golora cannot run, damaged) is named next to the control with the reason, and the page keeps the base it had. A
// chosen base's files are kept in IndexedDB (store.js), so that a run on it resumes after a reload.
import { $, el, keyed, setText } from "../dom.js";
import { fmtBytes } from "../format.js";
import * as store from "../store.js";
import { configChanged } from "./settings.js";

let ctx;
let nextId = 1;
let pending = []; // files chosen that do not make a base yet: a llama2.c .bin waiting for the other .bin
const waiting = new Map(); // load id -> {resolve, reject}

export function init(c) {
  ctx = c;
  const { state, on } = ctx;
  Object.assign(state, {
    shippedModel: null, // the shipped base as the engine described it (its fingerprint says when it is loaded)
    maxBaseBytes: 0,    // the largest base file the engine takes (train.MaxPageBaseBytes)
    kept: [],           // the bases kept in this browser: [{fingerprint, name, tokenizerName, bytes, time}]
    baseBusy: "",       // what is being loaded
    baseMsg: "",        // what the control says: a refusal (baseBad), or what the page waits for
    baseBad: false,
    baseTries: 0,       // loads answered (for the browser test)
  });
  on("ready", (p) => {
    state.shippedModel = p.model;
    state.maxBaseBytes = p.maxBaseBytes || 0;
    refreshKept();
  });
  on("baseLoaded", (p) => {
    const w = waiting.get(p.id);
    if (!w) return;
    waiting.delete(p.id);
    if (p.error) w.reject(new Error(p.error));
    else w.resolve(p.model);
  });
  $("base-select").addEventListener("change", (e) => choose(e.target.value));
  $("base-file").addEventListener("change", (e) => {
    addFiles([...e.target.files]);
    e.target.value = ""; // choosing the same file again fires change again
  });
  // A base file dropped anywhere on the page lands here (a JSON Lines file goes to the task: settings.js).
  document.addEventListener("drop", (e) => {
    const files = [...((e.dataTransfer && e.dataTransfer.files) || [])].filter(isBaseFile);
    if (files.length && state.ready && !ctx.running()) addFiles(files);
  });
}

// isBaseFile tells a base model's file (or a tokenizer.bin) from a data file, by its name.
export function isBaseFile(f) { return /\.(safetensors|bin)$/i.test(f.name); }

// describe names a base for people: its file, and its tokenizer's file.
export function describe(m) {
  if (!m) return "";
  return m.tokenizerFile ? `${m.file} + ${m.tokenizerFile}` : m.file;
}

// baseRecord is what a run records of the base it trained on (runs table, downloads, resume).
export function baseRecord(m) {
  const s = ctx.state.shippedModel;
  return m ? { file: m.file, tokenizerFile: m.tokenizerFile || "", name: m.name, fingerprint: m.fingerprint,
    format: m.format, params: m.params, shipped: !!s && s.fingerprint === m.fingerprint } : null;
}

async function refreshKept() {
  try {
    ctx.state.kept = await store.listBases();
  } catch (err) {
    ctx.state.kept = [];
  }
  ctx.invalidate();
}

// load asks the engine to make spec its base ({shipped: true}, or {name, model: Blob, tokenizerName, tokenizer}) and
// resolves with the base's description, or rejects with why the engine refused it (the base then stays).
function load(spec) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    ctx.send("loadBase", { id, ...spec });
  });
}

// useBase loads spec and, when it takes, makes it the page's base: the settings are checked again against it, the
// examples and the sample generation redone, and a user's files kept for a resume. what names it in messages.
export async function useBase(spec, what) {
  const { state } = ctx;
  if (ctx.running() || state.baseBusy) return false;
  state.baseBusy = what;
  state.baseMsg = "";
  state.baseBad = false;
  ctx.invalidate();
  try {
    const m = await load(spec);
    state.model = m;
    state.baseMsg = "";
    pending = [];
    if (!spec.shipped && !spec.kept) await keep(m, spec);
    else if (spec.kept) touch(m.fingerprint);
    // The settings are checked against the new base (a rank that fit the old one may not), its examples and first
    // generation shown again.
    for (const [k, v] of Object.entries(state.fieldErrors)) if (!v.local) delete state.fieldErrors[k];
    state.gen = { ...state.gen, auto: true, text: "", done: false, error: "" };
    configChanged();
    ctx.emit("baseChanged", m);
    return true;
  } catch (err) {
    state.baseMsg = err.message;
    state.baseBad = true;
    return false;
  } finally {
    state.baseBusy = "";
    state.baseTries++;
    ctx.invalidate();
  }
}

// keep stores a user's base files in IndexedDB under its fingerprint (not fatal when the browser refuses: a run on
// it then asks for the files again to resume).
async function keep(m, spec) {
  const rec = { fingerprint: m.fingerprint, name: spec.name, model: spec.model, tokenizerName: spec.tokenizer ? spec.tokenizerName : "",
    tokenizer: spec.tokenizer || null, bytes: m.bytes + (m.tokenizerBytes || 0), time: Date.now() };
  const inflight = ctx.state.interrupted && ctx.state.interrupted.base;
  try {
    await store.saveBase(rec, inflight ? inflight.fingerprint : "");
  } catch (err) {
    ctx.state.baseMsg = `Loaded, but this browser would not keep it (${err.message}): a run on it resumes after a ` +
      "reload only once you choose the files again.";
  }
  await refreshKept();
}

async function touch(fingerprint) {
  try {
    const rec = await store.loadBase(fingerprint);
    if (rec) await store.saveBase({ ...rec, time: Date.now() });
  } catch (err) { /* the order of the list only */ }
  await refreshKept();
}

// useKept loads the base kept under fingerprint; it resolves false (saying why) when it is not kept.
export async function useKept(fingerprint) {
  const { state } = ctx;
  if (state.shippedModel && fingerprint === state.shippedModel.fingerprint) return useBase({ shipped: true }, "the shipped base");
  let rec = null;
  try { rec = await store.loadBase(fingerprint); } catch (err) { rec = null; }
  if (!rec) {
    state.baseMsg = "That base is no longer kept in this browser: choose its files again.";
    state.baseBad = true;
    ctx.invalidate();
    return false;
  }
  return useBase({ kept: true, name: rec.name, model: rec.model, tokenizerName: rec.tokenizerName, tokenizer: rec.tokenizer },
    rec.name);
}

function choose(value) {
  if (value === "shipped") useBase({ shipped: true }, "the shipped base");
  else if (value) useKept(value);
}

// addFiles takes files the user picked or dropped: a .safetensors (with a tokenizer .bin when it was fine-tuned from
// a llama2.c model), or two .bin files, a llama2.c checkpoint and its tokenizer (the larger is the checkpoint). One
// .bin waits for the other.
function addFiles(files) {
  const { state } = ctx;
  if (ctx.running() || state.baseBusy) return;
  const all = [...pending, ...files].filter(isBaseFile);
  const st = all.filter((f) => /\.safetensors$/i.test(f.name));
  const bins = all.filter((f) => /\.bin$/i.test(f.name)).sort((a, b) => b.size - a.size);
  pending = [];
  if (st.length > 1 || bins.length > 2 || (st.length && bins.length > 1)) {
    state.baseMsg = `${all.map((f) => f.name).join(", ")}: choose one base: a .safetensors file, or a llama2.c .bin ` +
      "with its tokenizer.bin";
    state.baseBad = true;
    ctx.invalidate();
    return;
  }
  let spec;
  if (st.length) spec = { name: st[0].name, model: st[0], tokenizerName: bins[0] ? bins[0].name : "", tokenizer: bins[0] || null };
  else if (bins.length === 2) spec = { name: bins[0].name, model: bins[0], tokenizerName: bins[1].name, tokenizer: bins[1] };
  else {
    pending = bins;
    state.baseMsg = `${bins[0].name}: a llama2.c checkpoint goes with its tokenizer.bin (tok512.bin for stories260K): ` +
      "add the other file.";
    state.baseBad = false;
    ctx.invalidate();
    return;
  }
  useBase(spec, spec.tokenizer ? `${spec.name} + ${spec.tokenizerName}` : spec.name).then((ok) => {
    // A .safetensors fine-tuned from a llama2.c model asks for its tokenizer: keep it for the next file.
    if (!ok && !spec.tokenizer && /tokenizer/.test(state.baseMsg)) pending = [spec.model];
  });
}

export function render() {
  const { state } = ctx;
  const m = state.model;
  const sel = $("base-select");
  const shipped = state.shippedModel;
  const current = m ? m.fingerprint : "";
  const options = [];
  if (shipped) options.push({ value: "shipped", fp: shipped.fingerprint, text: `${shipped.name} (shipped)` });
  for (const b of state.kept) {
    options.push({ value: b.fingerprint, fp: b.fingerprint, kept: true,
      text: `${b.tokenizerName ? `${b.name} + ${b.tokenizerName}` : b.name} · ${fmtBytes(b.bytes)}` });
  }
  if (m && !options.some((o) => o.fp === current)) options.push({ value: "", fp: current, text: describe(m) });
  const opt = (o) => el("option", { value: o.value, text: o.text, selected: o.fp === current });
  keyed(sel, JSON.stringify([options, current]), () => {
    const kept = options.filter((o) => o.kept);
    return [...options.filter((o) => !o.kept).map(opt),
      ...(kept.length ? [el("optgroup", { label: "Kept in this browser" }, ...kept.map(opt))] : [])];
  });
  const cur = options.find((o) => o.fp === current);
  if (cur && sel.value !== cur.value && !state.baseBusy) sel.value = cur.value; // a choice refused shows the base kept
  const locked = !state.ready || ctx.running() || !!state.baseBusy;
  sel.disabled = locked;
  $("base-file").disabled = locked;
  $("base-drop").classList.toggle("off", locked);
  const limit = state.maxBaseBytes ? ` Up to ${fmtBytes(state.maxBaseBytes)};` : "";
  setText("base-label", state.baseBusy ? `Loading ${state.baseBusy}…` : pending.length ? `${pending[0].name} · waiting for its tokenizer.bin` :
    `Choose or drop a golora .safetensors, or a llama2.c .bin with its tokenizer.bin.${limit} it stays on this machine.`);
  setText("base-msg", state.baseMsg);
  $("base-msg").classList.toggle("bad", state.baseBad);
  setText("model-tokenizer", m ? (m.tokenizer === "byte" ? "bytes (golora)" : `${m.tokenizerFile || m.tokenizer.slice(4)} (BPE, llama2.c)`) : "–");
}
