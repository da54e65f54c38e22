// panels/runs.js is the "Results" panel: every finished run, newest first, kept in IndexedDB across reloads, with its
// method and size, its adapter (a zip of its two files in the method's own format) and its metrics (JSON) to download.
import { downloadAdapter, downloadMetrics, downloadModel } from "../downloads.js";
import { $, el, keyed } from "../dom.js";
import { fmtDuration, fmtInt, fmtLoss, fmtPct, fmtWhen, taskDetail, taskName } from "../format.js";
import { methodShort, sizeOf, sizeText, usesLoRA } from "../methods.js";
import * as store from "../store.js";
import { describe } from "./base.js";

let ctx;

export function init(c) {
  ctx = c;
  const { state } = ctx;
  ctx.listen("runEnded", ({ run, status, done }) => {
    if (status === "done") save(record(run, done));
    // A learning-rate sweep's rate that diverged is one of its results: kept, with why it stopped.
    else if (status === "error" && run.stopped && run.sweepKind === "lrs") save({ ...record(run, {}), valLoss: null, accuracy: null,
      correct: null, diverged: run.errorText });
  });
  $("clear-runs").addEventListener("click", () => {
    if (!ctx.running()) state.sweep = null;
    clear();
  });
  load();
}

async function load() {
  try {
    ctx.state.runs = await store.loadRuns();
  } catch (err) {
    ctx.showError(`Could not read saved results: ${err.message}`);
  }
  ctx.invalidate();
}

async function save(rec) {
  ctx.state.runs.unshift(rec);
  ctx.invalidate();
  try {
    await store.saveRun(rec);
  } catch (err) {
    ctx.showError(`Could not save the result: ${err.message}`);
  }
}

async function clear() {
  ctx.state.runs = [];
  ctx.invalidate();
  try { await store.clearRuns(); } catch (err) { ctx.showError(`Could not clear results: ${err.message}`); }
}

// record is what the table keeps of finished run r, from the worker's done message p.
export function record(r, p) {
  const { state } = ctx;
  const c = r.config;
  const last = p.final || r.evals[r.evals.length - 1] || {};
  const taskInfo = r.task || { name: c.task, difficulty: c.difficulty, facts: c.facts,
    file: c.task === "custom" && state.custom ? state.custom.name : "" };
  return {
    id: r.id, time: Date.now(), sweepId: r.sweepId, sweepKind: r.sweepKind || "", config: c, task: c.task, taskInfo,
    method: c.method, rank: c.method === "lora" ? c.rank : null, targets: usesLoRA(c.method) ? c.targets : [],
    size: sizeOf(c) ? sizeOf(c).n : null, sizeText: sizeText(c),
    stepMs: r.step ? r.ms / r.step : null, // the mean time of a training step in this tab (both workers' exchange included)
    trainableParams: r.info ? r.info.trainableParams : 0, info: r.info,
    valLoss: last.valLoss, accuracy: last.accuracy, correct: last.correct, total: last.total,
    tokensPerSec: r.tokensPerSec, seconds: r.seconds, model: state.model, engine: ctx.engineName(r.workers),
    losses: Float32Array.from(r.losses), evals: r.evals, samples: p.final ? p.final.samples : r.after,
    adapter: p.adapter || null, adapterConfig: p.adapterConfig || "",
    base: r.base, // the base it trained on (panels/base.js baseRecord)
    adapterConfigName: p.adapter ? p.adapterConfigName || "adapter_config.json" : "", adapterError: p.adapterError || "",
    fineTuned: p.fineTuned || null, // a full or intrinsic run's weights (the Analyse panel's ΔW = W_ft - W0)
  };
}

// baseCell names the base a run trained on (runs recorded before the page had a choice trained on the shipped one).
function baseCell(rec) {
  const b = rec.base;
  const text = !b || b.shipped ? "shipped" : b.file.replace(/\.(safetensors|bin)$/i, "");
  return el("td", { class: "base", text, title: b ? `${b.shipped ? `${b.name}, shipped: ` : ""}${describe(b)} · fingerprint ${b.fingerprint}` :
    "the shipped base" });
}

// methodCell is a run's method, with the token rows it trained.
function methodCell(rec) {
  const m = rec.method === "lora" && rec.config.rslora ? "rsLoRA" : methodShort(rec.method);
  const ids = rec.info && rec.info.tokenIds ? rec.info.tokenIds.length : 0;
  return ids && rec.method !== "tokens" ? `${m} + ${ids} row${ids > 1 ? "s" : ""}` : ids ? `${m} (${ids})` : m;
}

export function render() {
  const { state } = ctx;
  keyed($("runs").tBodies[0], state.runs.map((r) => r.id).join(","), () => {
    const rows = state.runs.map((rec) => {
      const cell = (text, cls) => el("td", { class: cls, text });
      const detail = rec.taskInfo ? taskDetail(rec.taskInfo) : rec.taskDetail; // records before the engine named it
      const dl = el("td", { class: "dl" });
      if (rec.adapter) {
        const name = rec.adapterConfigName || "adapter_config.json";
        dl.append(el("button", { type: "button", class: "link", text: "adapter", onclick: () => downloadAdapter(rec),
          title: `adapter_model.safetensors + ${name} (${name === "adapter_config.json" ? "PEFT" : "golora's own format"}), zipped` }));
      }
      if (rec.fineTuned) {
        dl.append(el("button", { type: "button", class: "link", text: "model", onclick: () => downloadModel(rec),
          title: "model.safetensors: the fine-tuned model, every weight (full fine-tuning's result is the model itself)" }));
      }
      dl.append(el("button", { type: "button", class: "link", text: "metrics", onclick: () => downloadMetrics(rec),
        title: "settings, loss curve, evaluations and samples as JSON" }));
      return el("tr", {}, cell(fmtWhen(rec.time), "muted"),
        cell(taskName(rec.task) + (detail ? ` (${detail})` : "")),
        baseCell(rec),
        cell(methodCell(rec), "method"),
        cell(rec.sizeText || (rec.rank == null ? "–" : `r=${rec.rank}`), "num"), // records before sizeText: rank only
        cell(rec.targets.length ? rec.targets.join(" ") : rec.method === "full" ? "all" : "–"),
        cell(fmtInt(rec.trainableParams), "num"),
        cell(fmtLoss(rec.valLoss), "num"),
        rec.diverged ? el("td", { class: "num bad", text: "diverged", title: rec.diverged }) : cell(fmtPct(rec.accuracy), "num strong"),
        cell(fmtInt(rec.tokensPerSec), "num"),
        cell(fmtDuration(rec.seconds), "num"),
        dl);
    });
    rows.forEach((tr, i) => { tr.dataset.id = state.runs[i].id; });
    if (!rows.length) {
      rows.push(el("tr", { class: "empty" },
        el("td", { colSpan: 12, text: "Finished runs are listed here and kept across reloads." })));
    }
    return rows;
  });
  $("clear-runs").disabled = state.runs.length === 0;
}
