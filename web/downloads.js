// downloads.js saves a finished run to the user's disk: its adapter as a zip of its two files in the method's own
// format (PEFT's pair, or the tensors and golora_adapter.json; fflate writes the zip), and its settings, curves and
// samples as JSON. The files' names say the task, the method and its size.
import { zipSync, strToU8 } from "./vendor/fflate.js";

// download hands blob to the browser as a file called name.
export function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// runBaseName names a run's files: the base it trained on, its task, method, size, targets and token rows, and its id:
// golora-base-e2e-lora-r4-qv-<id>, golora-stories260K-e2e-top-k2-<id>, golora-base-v1-custom-lora-r4-qv-rows10-<id>.
export function runBaseName(rec) {
  const size = (rec.sizeText || (rec.rank != null ? `r=${rec.rank}` : "")).replace("=", "").replace("_", "");
  const rows = rec.info && rec.info.tokenIds && rec.info.tokenIds.length && rec.method !== "tokens" ?
    `rows${rec.info.tokenIds.length}` : "";
  const what = [rec.method, size, (rec.targets || []).join(""), rows].filter(Boolean).join("-");
  const base = rec.base ? rec.base.file.replace(/\.(safetensors|bin)$/i, "").replace(/[^A-Za-z0-9_.-]+/g, "_") : "base";
  return `golora-${base}-${rec.task}-${what}-${rec.id.split("-")[1]}`;
}

// adapterZip is the zip of rec's two files: adapter_model.safetensors (stored: float32 noise barely deflates) and its
// config, adapter_config.json (PEFT) or golora_adapter.json.
export function adapterZip(rec) {
  return zipSync({
    "adapter_model.safetensors": [rec.adapter, { level: 0 }],
    [rec.adapterConfigName || "adapter_config.json"]: strToU8(rec.adapterConfig),
  }, { level: 6 });
}

export function downloadAdapter(rec) {
  download(new Blob([adapterZip(rec)], { type: "application/zip" }), `${runBaseName(rec)}-adapter.zip`);
}

// downloadModel saves a full or intrinsic run's fine-tuned model (model.safetensors: its method's own result, every
// weight; the CLI reads it as a base: golora generate -base FILE).
export function downloadModel(rec) {
  download(new Blob([rec.fineTuned], { type: "application/octet-stream" }), `${runBaseName(rec)}-model.safetensors`);
}

export function downloadMetrics(rec) {
  const out = {
    id: rec.id, time: new Date(rec.time).toISOString(), base: rec.base || null, model: rec.model, engine: rec.engine,
    config: rec.config,
    task: rec.taskInfo, info: rec.info,
    final: { valLoss: rec.valLoss, accuracy: rec.accuracy, correct: rec.correct, total: rec.total },
    tokensPerSec: rec.tokensPerSec, stepMs: rec.stepMs, seconds: rec.seconds, trainLoss: Array.from(rec.losses), evals: rec.evals,
    samples: rec.samples,
  };
  download(new Blob([JSON.stringify(out, null, 1)], { type: "application/json" }), `${runBaseName(rec)}-metrics.json`);
}
