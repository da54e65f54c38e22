// panels/model.js is the "Base model" panel: what the loaded base is, and a sample generation from it (or, after a
// run, from the fine-tuned model the worker holds).
import { $, el, setText } from "../dom.js";
import { fmtInt } from "../format.js";
import { customFile } from "./settings.js";

let ctx;

export function init(c) {
  ctx = c;
  const { state, on } = ctx;
  ctx.listen("examples", () => {
    // The task's first example is the first prompt to try.
    if (state.gen.auto && state.examples.length && !(state.config.task === "custom" && !state.custom)) {
      state.gen.auto = false;
      state.gen.prompt = state.examples[0].prompt;
      generate();
    }
  });
  on("generated", (p) => {
    state.gen.busy = false;
    state.gen.done = !p.error;
    state.gen.text = p.text || "";
    state.gen.error = p.error || "";
    ctx.invalidate();
  });
  $("gen-btn").addEventListener("click", () => { state.gen.prompt = $("gen-prompt").value; generate(); });
  // A textarea: the tasks' prompts end with a new line, which the model was trained to continue after.
  $("gen-prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); state.gen.prompt = e.target.value; generate(); }
  });
}

function generate() {
  const { state } = ctx;
  if (ctx.running() || state.gen.busy) return;
  Object.assign(state.gen, { busy: true, done: false, text: "", error: "" });
  ctx.send("generate", {
    id: Date.now(), prompt: state.gen.prompt, maxTokens: 48, temperature: 0, seed: 1,
    config: { ...state.config, method: "frozen" }, custom: customFile(),
  });
  ctx.invalidate();
}

export function render() {
  const { state } = ctx;
  const m = state.model;
  setText("model-name", m ? (m.file && m.file !== m.name ? `${m.name} (${m.file})` : m.name) : "–");
  setText("model-params", m ? fmtInt(m.params) : "–");
  setText("model-layers", m ? String(m.layers) : "–");
  setText("model-heads", m ? (m.kvHeads && m.kvHeads !== m.heads ? `${m.heads} (${m.kvHeads} key/value)` : String(m.heads)) : "–");
  setText("model-dim", m ? `${m.dim} (MLP ${m.hiddenDim}) · vocab ${fmtInt(m.vocab)}` : "–");
  setText("model-context", m ? `${fmtInt(m.seqLen)} tokens` : "–");
  const gp = $("gen-prompt");
  if (document.activeElement !== gp && gp.value !== state.gen.prompt) gp.value = state.gen.prompt;
  $("gen-btn").disabled = !state.ready || ctx.running() || state.gen.busy;
  const out = $("gen-out");
  const g = state.gen;
  const want = g.busy ? "…" : g.error ? g.error : `${g.done}|${g.text}`;
  if (out.dataset.text !== want) {
    out.dataset.text = want;
    if (!g.busy && !g.error && g.done) {
      out.replaceChildren(el("span", { class: "prompt", text: g.prompt }),
        el("span", { class: g.text ? "" : "muted", text: g.text || " (the model ended the text at once)" }));
    } else {
      out.textContent = g.busy ? "…" : g.error;
    }
    out.classList.toggle("bad", !!g.error);
  }
}
