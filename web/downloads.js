// downloads.js saves a finished run to the user's disk: its adapter as a zip of PEFT's two files (fflate writes the
// zip), and its settings, curves and samples as JSON.
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

function runBaseName(rec) {
  const what = rec.method === "lora" ? `lora-r${rec.rank}-${rec.targets.join("")}` : rec.method;
  return `golora-${rec.task}-${what}-${rec.id.split("-")[1]}`;
}

// adapterZip is the zip of rec's PEFT pair: adapter_model.safetensors (stored: float32 noise barely deflates) and
// adapter_config.json.
export function adapterZip(rec) {
  return zipSync({
    "adapter_model.safetensors": [rec.adapter, { level: 0 }],
    "adapter_config.json": strToU8(rec.adapterConfig),
  }, { level: 6 });
}

export function downloadAdapter(rec) {
  download(new Blob([adapterZip(rec)], { type: "application/zip" }), `${runBaseName(rec)}-adapter.zip`);
}

export function downloadMetrics(rec) {
  const out = {
    id: rec.id, time: new Date(rec.time).toISOString(), model: rec.model, engine: rec.engine, config: rec.config,
    task: rec.taskInfo, info: rec.info,
    final: { valLoss: rec.valLoss, accuracy: rec.accuracy, correct: rec.correct, total: rec.total },
    tokensPerSec: rec.tokensPerSec, seconds: rec.seconds, trainLoss: Array.from(rec.losses), evals: rec.evals,
    samples: rec.samples,
  };
  download(new Blob([JSON.stringify(out, null, 1)], { type: "application/json" }), `${runBaseName(rec)}-metrics.json`);
}
