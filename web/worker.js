// worker.js runs golora's WebAssembly build off the main thread and speaks typed messages {type, payload} with app.js.
//
// Go's wasm has no threads and no preemption, so a training call blocks whatever thread runs it: here, this worker,
// never the page. Training goes in chunks of steps sized to about 100 ms, and between chunks the worker yields to its
// event loop so that pause, resume and stop arrive at once.
//
// page -> worker                                   worker -> page
//   init     {modelURL, modelName}                   ready     {model, simd, wasmURL, wasmBytes, wasmEncodedBytes,
//                                                                modelBytes, loadMs, defaults, lrs, methods,
//                                                                maxBaseBytes}
//   loadBase {id, shipped?, name, model: Blob,       baseLoaded {id, model?, error?}   the engine's base from now on
//             tokenizerName?, tokenizer?: Blob}                  (a refused file leaves the base as it was)
//   unseen   {id, config, custom}                    unseen    {id, unseen, tokens, error?}   (train.UnseenChars)
//   chooseTokens {id, config, custom}                tokensChosen {id, spec, tokens, params, error?, field?}
//   validate {id, config, custom}                    validated {id, ok, error?, field?, fields?}
//   preview  {id, config, custom, n}                 preview   {id, examples, error?, field?}
//            custom: the user's file {name, data: Uint8Array} for the task "custom", else null
//   generate {id, prompt, maxTokens, temperature,    generated {id, text, error?}
//             seed}
//   validateSweep {id, config, custom, ranks, full,  sweepChecked {id, ok, configs?, error?, field?, fields?}
//                  trainTokens?}
//            or {id, config, custom, methods, sizes}   (a methods sweep: sizes {method: [n, ...]} where not the ladder)
//            or {..., kind: "lrs" | "dims", values, full, lora} for the learning-rate or intrinsic-dimension sweep
//   sweepSummary {id, kind, results, targets}        sweepSummary {id, lrs?, intrinsic?, loraSizes?, error?}
//   analyse  {id, a: run, b?: run, options?}         analysed  {id, report?, error?, ms}
//            run: {name, adapter?, adapterConfig?, fineTuned?}: what the page keeps of a finished run
//   start    {runId, config, custom, snapshot?}      started   {runId, info, task, workers}
//                                                    evaluating {runId, step, initial}   an evaluation begins
//                                                    eval      {runId, step, valLoss, accuracy, correct, total,
//                                                               samples, initial}
//                                                    progress  {runId, step, steps, fromStep, losses: Float32Array,
//                                                               lr, tokens, tokensPerSec, elapsed, ms}
//   pause    {runId}                                 state     {runId, state: "running" | "paused"}
//   resume   {runId}
//                                                    snapshot  {runId, step, snapshot: Uint8Array}   the run so far,
//                                                              for resuming it after a reload (golora.snapshot)
//   stop     {runId}                                 done      {runId, status: "done" | "stopped", info, final,
//                                                               adapter: Uint8Array | null, adapterConfig,
//                                                               adapterConfigName, adapterError?,
//                                                               fineTuned: Uint8Array | null, seconds}
//   merge    {runId}                                 merged    {runId, maxAbsLogitDiff, error?}
//                                                    error     {runId?, message, field?, fields?, fatal?,
//                                                               stopped? (a non-finite loss or gradient stopped it),
//                                                               skip? (why the run cannot run at its size on its task)}
//
// Two workers train one run. This worker (the lead) starts a helper: a second copy of this script, with its own
// wasm instance, which opens the same session. A training step's batch is split into the session's shards parts
// (train.Config.Shards): the lead computes part 0 while the helper computes part 1, they swap the parts' gradients,
// and both apply the same step, so their weights stay identical bit for bit and every number equals a one-worker
// (or native) run's. Evaluations are shared the same way (golora.evaluatePart / mergeEval). Without a helper
// (one core, or it failed) the lead computes every part itself: same numbers, slower.
//
// lead -> helper                                   helper -> lead (exactly one reply per message, in order)
//   init  {modelURL, modelName, forceScalar}         ready   {} | error {message}
//   load  {name, model: Uint8Array, tokenizerName,   loaded  {} | error        (the lead's new base)
//          tokenizer?: Uint8Array}
//   start {config, custom, snapshot?}                started {} | error {message}
//   shard {part}                                     shard   {part, loss, grad: Float32Array} | error
//   put   {part, loss, grad}                         applied {step, loss} | error      (put the lead's part, apply)
//   evalPart {part, parts}                           evalPart {part: EvalPart} | error
"use strict";

importScripts("dist/wasm_exec.js");

// A tiny module using one SIMD128 instruction (i8x16.splat, i8x16.popcnt): valid only where wasm SIMD is supported.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0,
  253, 15, 253, 98, 11]);

// The methods whose change lives in the base weights themselves: a finished run keeps its fine-tuned model
// (golora.exportModel) for the Analyse panel, as a LoRA run keeps its adapter.
const MODEL_METHODS = ["full", "intrinsic"];

const CHUNK_MS = 100; // aim for one progress message (and one chance to pause) per ~100 ms of training
const SNAPSHOT_MS = 10000; // save the run for a resume at least this often (and at every evaluation)

let g = null;        // the golora object that the wasm instance registers
let job = null;      // the run in progress: {runId, paused, stopped, wake}
let sessionRun = ""; // the runId whose session the instance holds ("" for a preview session)
let helper = null;   // the lead's helper: {worker, queue: [{resolve, reject}], ready: Promise<boolean>}
let shipped = null;  // the shipped base: {modelURL, modelName}
let methodFiles = {}; // what each method's run writes (train.MethodSpec.Files): "peft", "golora", "model" or ""
const isHelper = self.name === "golora-helper";

function post(type, payload, transfer) {
  self.postMessage({ type, payload }, transfer || []);
}

// yieldNow lets queued messages (pause, stop) run: a MessageChannel round trip costs far less than setTimeout's 4 ms.
function yieldNow() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
    ch.port2.postMessage(0);
  });
}

// call runs the engine's method (train.Engine, through golora.call) with args (an object, sent as JSON) and bulk typed
// arrays, and returns the reply with its arrays among its keys. An {error} reply throws, carrying the field at fault.
function call(method, args, bulk) {
  const r = g.call(method, JSON.stringify(args || {}), bulk || {});
  const out = JSON.parse(r.json);
  if (out.error) {
    const e = new Error(out.error);
    e.field = out.field;
    e.fields = out.fields;
    e.stopped = !!out.stopped;
    e.skip = out.skip || "";
    throw e;
  }
  return Object.assign(out, r.bulk);
}

// withConfig is the arguments and the bulk of a method that takes the page's settings and the user's file.
function withConfig(config, custom) {
  return [{ config, fileName: custom ? custom.name : "" }, custom ? { file: custom.data } : {}];
}

async function init({ modelURL, modelName, forceScalar }) {
  const t0 = performance.now();
  const simd = !forceScalar && WebAssembly.validate(SIMD_PROBE);
  const wasmURL = simd ? "dist/golora.wasm" : "dist/golora-scalar.wasm";
  const go = new Go();
  let instance;
  try {
    const res = await fetch(wasmURL);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    ({ instance } = await WebAssembly.instantiateStreaming(res, go.importObject));
  } catch (err) {
    throw new Error(`could not load ${wasmURL}: ${err.message}. Build it with \`make wasm\` (or run \`make serve\`).`);
  }
  go.run(instance).then(() => post("error", { message: "the Go instance exited; reload the page" }));
  g = self.golora;
  if (!g) throw new Error("the wasm module did not register golora");

  shipped = { modelURL, modelName };
  const bytes = await fetchModel(modelURL);
  const { model, maxBaseBytes } = call("load", { name: modelName }, { model: bytes });
  const { config, lrs, methods } = call("defaults");
  methodFiles = Object.fromEntries(methods.map((m) => [m.name, m.files]));

  if (!isHelper) startHelper({ modelURL, modelName, forceScalar: !simd });
  if (isHelper) return;
  const entry = performance.getEntriesByType("resource").find((e) => e.name.endsWith(wasmURL));
  post("ready", {
    model, simd, wasmURL, defaults: config, lrs, methods, maxBaseBytes,
    wasmBytes: entry ? entry.decodedBodySize : 0,
    wasmEncodedBytes: entry ? entry.encodedBodySize : 0,
    modelBytes: bytes.length,
    loadMs: performance.now() - t0,
  });
}

async function fetchModel(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not fetch the base model ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

// loadBase makes the shipped base or the user's file (a Blob, with its tokenizer's for a llama2.c checkpoint) the
// engine's base, in this worker and in the helper. The engine refuses a file too large before it is read, and a
// refused file leaves the base as it was.
async function loadBase({ shipped: wantShipped, name, model, tokenizerName, tokenizer }) {
  let bytes;
  let tok = null;
  if (wantShipped) {
    name = shipped.modelName;
    bytes = await fetchModel(shipped.modelURL);
  } else {
    call("checkBase", { name, bytes: model.size });
    bytes = new Uint8Array(await model.arrayBuffer());
    if (tokenizer) tok = new Uint8Array(await tokenizer.arrayBuffer());
  }
  const args = { name, tokenizerName: tok ? tokenizerName : "" };
  const r = call("load", args, tok ? { model: bytes, tokenizer: tok } : { model: bytes });
  sessionRun = "";
  if (helper) {
    // The helper loads the same base after whatever it is doing; one that cannot is dropped (the lead trains alone).
    const payload = { ...args, model: bytes, tokenizer: tok };
    ask("load", payload, tok ? [bytes.buffer, tok.buffer] : [bytes.buffer]).catch((err) => { if (helper) dropHelper(err); });
  }
  return r.model;
}

// ---------------------------------------------------------------------------------------------------------------
// The helper worker (lead side)

// startHelper starts the helper where a second core exists; the lead trains alone if it cannot.
function startHelper(init) {
  if ((self.navigator.hardwareConcurrency || 1) < 2) return;
  let w;
  try {
    w = new Worker("worker.js", { name: "golora-helper" });
  } catch (err) {
    return;
  }
  const h = { worker: w, queue: [], ready: null };
  w.onmessage = (e) => {
    const { type, payload } = e.data || {};
    const waiter = h.queue.shift();
    if (!waiter) return;
    if (type === "error") waiter.reject(new Error(`helper worker: ${payload.message}`));
    else waiter.resolve(payload);
  };
  w.onerror = (e) => {
    e.preventDefault();
    dropHelper(new Error(`helper worker: ${e.message || "failed"}`));
  };
  helper = h;
  h.ready = ask("init", init).then(() => true, () => { dropHelper(); return false; });
}

// ask sends the helper one message and resolves with its reply.
function ask(type, payload, transfer) {
  const h = helper;
  if (!h) return Promise.reject(new Error("no helper worker"));
  return new Promise((resolve, reject) => {
    h.queue.push({ resolve, reject });
    h.worker.postMessage({ type, payload }, transfer || []);
  });
}

// dropHelper stops using the helper (the lead then computes every part itself).
function dropHelper(err) {
  const h = helper;
  if (!h) return;
  helper = null;
  for (const w of h.queue.splice(0)) w.reject(err || new Error("helper worker stopped"));
  h.worker.terminate();
}

// helperFor opens the run's session in the helper; it returns whether the helper takes part in this run.
async function helperFor(config, custom, shards, snapshot) {
  if (!helper || !(await helper.ready) || !helper || shards < 2) return false;
  try {
    await ask("start", { config, custom, snapshot });
    return true;
  } catch (err) {
    dropHelper(err);
    return false;
  }
}

// parallelStep takes one training step with the helper computing part 1 (parts beyond 1, if any, stay local).
async function parallelStep(run) {
  const theirs = ask("shard", { part: 1 });
  const mine = call("computeShard", { part: 0 });
  await checkApplied(run);
  for (let p = 2; p < run.shards; p++) call("computeShard", { part: p });
  let t = null;
  try {
    t = await theirs;
  } catch (err) {
    if (helper) dropHelper(err);
  }
  run.applied = null;
  if (t) {
    call("putShard", { part: 1, loss: t.loss }, { grad: t.grad });
    run.applied = ask("put", { part: 0, loss: mine.loss, grad: mine.grad }, [mine.grad.buffer]);
  } else {
    call("computeShard", { part: 1 }); // the helper is gone: compute its part here and train on alone
  }
  const m = call("applyShards");
  run.lastStep = m.step;
  run.lastLoss = m.loss;
  return m;
}

// checkApplied waits for the helper's reply to the last step's put (run.applied): both workers must report the same
// step and loss. A helper that failed to apply it is out of step: it is dropped, and the lead goes on alone.
async function checkApplied(run) {
  if (!run.applied) return;
  const a = await run.applied.catch(() => null);
  run.applied = null;
  if (!a) {
    if (helper) dropHelper(new Error("the helper worker could not apply a step"));
  } else if (a.step !== run.lastStep || Math.fround(a.loss) !== Math.fround(run.lastLoss)) {
    throw new Error(`the workers diverged at step ${a.step} (loss ${a.loss} vs ${run.lastLoss})`);
  }
}

// parallelEval shares an evaluation with the helper.
async function parallelEval() {
  const theirs = ask("evalPart", { part: 1, parts: 2 });
  const mine = call("evaluatePart", { part: 0, parts: 2 }).part;
  const t = await theirs;
  return call("mergeEval", { parts: [mine, t.part] });
}

// ---------------------------------------------------------------------------------------------------------------
// The helper worker (helper side): it answers each message of the lead with exactly one reply.

const helperHandlers = {
  async init(p) { await init(p); return ["ready", {}]; },
  load({ name, model, tokenizerName, tokenizer }) {
    call("load", { name, tokenizerName }, tokenizer ? { model, tokenizer } : { model });
    return ["loaded", {}];
  },
  start({ config, custom, snapshot }) {
    call("start", ...withConfig(config, custom));
    if (snapshot) call("restore", {}, { snapshot });
    return ["started", {}];
  },
  shard({ part }) {
    const r = call("computeShard", { part });
    return ["shard", { part: r.part, loss: r.loss, grad: r.grad }, [r.grad.buffer]];
  },
  put({ part, loss, grad }) {
    call("putShard", { part, loss }, { grad });
    const m = call("applyShards");
    return ["applied", { step: m.step, loss: m.loss }];
  },
  evalPart({ part, parts }) { return ["evalPart", { part: call("evaluatePart", { part, parts }).part }]; },
};

// frozenSession makes a session that only reads the data and generates, for previews while no run is active.
function frozenSession(config, custom) {
  // One row of activations: a preview never trains, and a base with a large vocabulary would need a batch's worth.
  call("start", ...withConfig({ ...config, method: "frozen", batch: 1 }, custom));
  sessionRun = "";
}

async function run({ runId, config, custom, snapshot }) {
  job = { runId, paused: false, stopped: false, wake: null };
  const t0 = performance.now();
  try {
    const { info, shards, task } = call("start", ...withConfig(config, custom));
    sessionRun = runId;
    // A resumed run continues from its snapshot, in this worker and in the helper.
    const resumed = snapshot ? call("restore", {}, { snapshot }) : null;
    const par = { on: await helperFor(config, custom, shards, snapshot), shards, applied: null, lastStep: 0, lastLoss: 0,
      tokens: resumed ? resumed.tokens : 0 };
    post("started", { runId, info, task, workers: par.on ? 2 : 1 });
    // evaluate scores the model at the current step (step 0: the base) on both workers; the page shows "Evaluating"
    // meanwhile and times it for its estimate of the time left.
    const evaluate = async (at) => {
      post("evaluating", { runId, step: at, initial: at === 0 && !resumed });
      await checkApplied(par); // the helper must hold the same step before it evaluates its part
      if (par.on && helper) {
        try {
          return await parallelEval();
        } catch (err) {
          if (helper) throw err;
          par.on = false; // the helper died: evaluate here
        }
      }
      return call("evaluate");
    };

    // Step 0: the untrained model's generations are the "before" column (a resumed run has them).
    if (!resumed) post("eval", { runId, initial: true, ...(await evaluate(0)) });

    const steps = config.steps;
    const every = config.evalEvery > 0 ? config.evalEvery : 0;
    let step = resumed ? resumed.step : 0;
    let chunk = 1;
    // save posts the run so far, so that the page can resume it after a reload; it is taken between steps.
    let lastSave = performance.now();
    const save = () => {
      const { snapshot: snap } = call("snapshot");
      post("snapshot", { runId, step, snapshot: snap }, [snap.buffer]);
      lastSave = performance.now();
    };
    while (step < steps) {
      await yieldNow();
      if (job.stopped) break;
      if (job.paused) {
        post("state", { runId, state: "paused" });
        await new Promise((resolve) => { job.wake = resolve; });
        job.wake = null;
        if (!job.stopped) post("state", { runId, state: "running" });
        continue;
      }
      let n = Math.min(chunk, steps - step);
      if (every) n = Math.min(n, every - (step % every));
      const c0 = performance.now();
      let r;
      if (par.on && helper) {
        const losses = new Float32Array(n);
        let m;
        for (let i = 0; i < n; i++) {
          m = await parallelStep(par);
          losses[i] = m.loss;
        }
        r = { step: m.step, lr: m.lr, losses, elapsed: m.elapsed, tokens: m.tokens };
      } else {
        if (par.on) par.on = false; // the helper died: train here (the same numbers, on one core)
        r = call("step", { n });
      }
      const ms = performance.now() - c0;
      if (r.tokens !== undefined) {
        r.tokensPerSec = (r.tokens - (par.tokens || 0)) / Math.max(ms / 1000, 1e-3);
        par.tokens = r.tokens;
      }
      const fromStep = r.step - n + 1;
      step = r.step;
      const bad = r.losses.findIndex((x) => !Number.isFinite(x));
      post("progress", {
        runId, step, steps, fromStep, losses: r.losses, lr: r.lr, tokens: r.tokens, tokensPerSec: r.tokensPerSec,
        elapsed: r.elapsed, ms,
      }, [r.losses.buffer]);
      if (bad >= 0) throw new Error(`the loss became NaN at step ${fromStep + bad}; try a smaller learning rate`);
      chunk = Math.max(1, Math.min(64, Math.round(n * CHUNK_MS / Math.max(ms, 1))));
      if (every && step % every === 0 && step < steps) {
        await yieldNow();
        if (job.stopped) break;
        post("eval", { runId, ...(await evaluate(step)) });
        save();
      } else if (performance.now() - lastSave > SNAPSHOT_MS && step < steps) {
        save();
      }
    }
    if (job.stopped) {
      post("done", { runId, status: "stopped", seconds: (performance.now() - t0) / 1000 });
      return;
    }
    const final = await evaluate(steps);
    post("eval", { runId, ...final });
    // The adapter's files in the method's own format (PEFT's, or golora_adapter.json where PEFT has none); a run that
    // cannot be written (full fine-tuning's result is the whole model) is still a result, without a download.
    let adapter = null;
    let adapterConfig = "";
    let adapterConfigName = "";
    let adapterError = "";
    if (["peft", "golora"].includes(methodFiles[config.method])) {
      try {
        const ex = call("exportAdapter");
        adapter = ex.safetensors;
        adapterConfig = ex.config;
        adapterConfigName = ex.configName;
      } catch (err) {
        adapterError = err.message;
      }
    }
    const fineTuned = MODEL_METHODS.includes(config.method) ? call("exportModel").safetensors : null;
    post("done", {
      runId, status: "done", final, info: call("info").info, adapter, adapterConfig, adapterConfigName, adapterError,
      fineTuned,
      seconds: (performance.now() - t0) / 1000,
    }, [adapter, fineTuned].filter(Boolean).map((b) => b.buffer));
  } catch (err) {
    post("error", { runId, message: err.message, field: err.field, fields: err.fields, stopped: err.stopped, skip: err.skip });
  } finally {
    job = null;
  }
}

function busy(type, id) {
  if (!job) return false;
  post("error", { id, message: `${type}: the worker is training; wait for the run to finish or stop it` });
  return true;
}

const handlers = {
  async init(p) { await init(p); },
  validate({ id, config, custom }) {
    try {
      call("validate", ...withConfig(config, custom));
      post("validated", { id, ok: true });
    } catch (err) {
      post("validated", { id, ok: false, error: err.message, field: err.field, fields: err.fields });
    }
  },
  // validateSweep checks a whole sweep before its first run starts, and returns each run's settings.
  validateSweep({ id, config, custom, ...sweep }) {
    try {
      const [args, bulk] = withConfig(config, custom);
      const { configs } = call("validateSweep", { ...args, ...sweep }, bulk);
      post("sweepChecked", { id, ok: true, configs });
    } catch (err) {
      post("sweepChecked", { id, ok: false, error: err.message, field: err.field, fields: err.fields });
    }
  },
  preview({ id, config, custom, n }) {
    if (busy("preview", id)) return;
    try {
      frozenSession(config, custom);
      post("preview", { id, examples: call("examples", { split: "train", n: n || 3 }).examples });
    } catch (err) {
      post("preview", { id, examples: [], error: err.message, field: err.field, fields: err.fields });
    }
  },
  async loadBase(p) {
    if (job) {
      post("baseLoaded", { id: p.id, error: "the worker is training: wait for the run to finish or stop it" });
      return;
    }
    try {
      post("baseLoaded", { id: p.id, model: await loadBase(p) });
    } catch (err) {
      post("baseLoaded", { id: p.id, error: err.message });
    }
  },
  // unseen reports the characters of the user's data that the base has (almost) never seen (train.UnseenChars).
  unseen({ id, config, custom }) {
    if (busy("unseen", id)) return;
    try {
      const r = call("unseen", ...withConfig(config, custom));
      post("unseen", { id, unseen: r.unseen, tokens: r.tokens });
    } catch (err) {
      post("unseen", { id, error: err.message });
    }
  },
  // chooseTokens says which token rows a run of these settings trains (train.ChooseTokens).
  chooseTokens({ id, config, custom }) {
    if (busy("chooseTokens", id)) return;
    try {
      const r = call("chooseTokens", ...withConfig(config, custom));
      post("tokensChosen", { id, spec: r.spec, tokens: r.tokens, params: r.params });
    } catch (err) {
      post("tokensChosen", { id, error: err.message, field: err.field });
    }
  },
  generate({ id, prompt, maxTokens, temperature, seed, config, custom }) {
    if (busy("generate", id)) return;
    try {
      if (!sessionRun && config) frozenSession(config, custom);
      post("generated", { id, text: call("generate", { prompt, maxTokens, temperature, seed }).text });
    } catch (err) {
      post("generated", { id, error: err.message });
    }
  },
  sweepSummary({ id, kind, results, targets }) {
    try {
      post("sweepSummary", { id, ...call("sweepSummary", { kind, results, targets }) });
    } catch (err) {
      post("sweepSummary", { id, error: err.message });
    }
  },
  // analyse computes the LoRA paper's analyses of one or two kept runs (the engine's analyse: every SVD in Go, here).
  // It reads only the base, not the session, so it also runs between two chunks of a run in progress.
  analyse({ id, a, b, options }) {
    const t0 = performance.now();
    try {
      const bulk = {};
      const slot = (name, r) => {
        if (r.adapter) {
          bulk[`${name}.adapter`] = r.adapter;
          bulk[`${name}.adapterConfig`] = new TextEncoder().encode(r.adapterConfig || "");
        }
        if (r.fineTuned) bulk[`${name}.model`] = r.fineTuned;
        return { name: r.name || name };
      };
      const args = { a: slot("a", a) };
      if (b) args.b = slot("b", b);
      if (options) args.options = options;
      const report = call("analyse", args, bulk);
      post("analysed", { id, report, ms: performance.now() - t0 });
    } catch (err) {
      post("analysed", { id, error: err.message, ms: performance.now() - t0 });
    }
  },
  start(p) {
    if (busy("start", p.runId)) return;
    run(p);
  },
  pause({ runId }) { if (job && job.runId === runId) job.paused = true; },
  resume({ runId }) {
    if (job && job.runId === runId) { job.paused = false; if (job.wake) job.wake(); }
  },
  stop({ runId }) {
    if (job && job.runId === runId) { job.stopped = true; if (job.wake) job.wake(); }
  },
  merge({ runId }) {
    if (busy("merge", runId)) return;
    if (sessionRun !== runId) {
      post("merged", { runId, error: "this run's adapter is no longer loaded; merge right after training" });
      return;
    }
    try {
      post("merged", { runId, maxAbsLogitDiff: call("merge").maxAbsLogitDiff });
    } catch (err) {
      post("merged", { runId, error: err.message });
    }
  },
};

// helperTurn chains the helper's messages: each is handled once the one before is answered (init awaits the wasm and
// the base; a base the lead loads meanwhile must wait for it), so that the replies come in the messages' order.
let helperTurn = Promise.resolve();

self.onmessage = async (e) => {
  const { type, payload } = e.data || {};
  if (isHelper) {
    helperTurn = helperTurn.then(async () => {
      try {
        const h = helperHandlers[type];
        if (!h) throw new Error(`unknown message type ${JSON.stringify(type)}`);
        const [rtype, rpayload, transfer] = await h(payload || {});
        post(rtype, rpayload, transfer);
      } catch (err) {
        post("error", { message: err.message });
      }
    });
    return;
  }
  const h = handlers[type];
  if (!h) {
    post("error", { message: `worker: unknown message type ${JSON.stringify(type)}` });
    return;
  }
  try {
    await h(payload || {});
  } catch (err) {
    post("error", { message: err.message, fatal: type === "init" });
  }
};
