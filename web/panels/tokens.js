// panels/tokens.js holds what the page says about the user's data against the base, and the token rows a run trains
// (train.ChooseTokens, PEFT's trainable_token_indices):
//   - next to the user's file, before anything trains, the characters of the data that the base has (almost) never
//     seen and what to do (train.UnseenChars), the first remedy, token rows (auto), one click away;
//   - the "Token rows" setting (none, auto, every token of the data, characters or ids), kept in the hidden input
//     data-key="trainTokens" that settings.js reads like any setting;
//   - under the examples, which tokens' rows the settings train, and how many values that adds.
import { $, el, keyed, setText } from "../dom.js";
import { fmtInt } from "../format.js";
import { customFile } from "./settings.js";

let ctx;
let nextId = 1;
let unseenKey = "";
let choiceKey = "";

const MODES = ["none", "auto", "all-in-data", "chars", "ids"];

export function init(c) {
  ctx = c;
  const { state, on } = ctx;
  Object.assign(state, {
    unseen: null, // {id, report, tokens, error} for the user's file on the current base; null: nothing to say
    tokenChoice: null, // {id, spec, tokens, params, error} for the settings' train_tokens
  });
  on("unseen", (p) => {
    if (!state.unseen || state.unseen.id !== p.id) return;
    Object.assign(state.unseen, { busy: false, report: p.unseen || null, tokens: p.tokens || [], error: p.error || "" });
    ctx.invalidate();
  });
  on("tokensChosen", (p) => {
    if (!state.tokenChoice || state.tokenChoice.id !== p.id) return;
    Object.assign(state.tokenChoice, { busy: false, spec: p.spec, tokens: p.tokens || [], params: p.params || 0,
      error: p.error || "" });
    ctx.invalidate();
  });
  $("train-tokens-mode").addEventListener("change", () => {
    const mode = $("train-tokens-mode").value;
    const list = $("train-tokens-list");
    if ((mode === "chars" || mode === "ids") && !list.value) list.value = mode === "chars" ? "0123456789" : "";
    write();
  });
  $("train-tokens-list").addEventListener("input", write);
  $("unseen").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-tokens]");
    if (b) setSpec(b.dataset.tokens);
  });
}

// spec is the train_tokens value the two controls make.
function spec() {
  const mode = $("train-tokens-mode").value;
  const list = $("train-tokens-list").value.trim();
  if (mode === "chars" || mode === "ids") return `${mode}:${list}`;
  return mode === "none" ? "" : mode;
}

// write hands the controls' value to settings.js through the hidden input, as any setting's input.
function write() {
  const h = $("trainTokens");
  h.value = spec();
  h.dispatchEvent(new Event("input"));
}

// setSpec sets train_tokens (the remedy's one click).
export function setSpec(value) {
  const h = $("trainTokens");
  h.value = value;
  sync(true);
  h.dispatchEvent(new Event("input"));
}

// sync shows the hidden input's value (from the URL, a resumed run, the remedy) in the two controls.
function sync(force) {
  const v = $("trainTokens").value || "";
  if (!force && v === spec()) return;
  const mode = v === "" || v === "none" ? "none" : v.startsWith("chars:") ? "chars" : v.startsWith("ids:") ? "ids" :
    MODES.includes(v) ? v : "chars";
  $("train-tokens-mode").value = mode;
  const list = $("train-tokens-list");
  if (mode === "chars" || mode === "ids") {
    if (document.activeElement !== list) list.value = v.slice(v.indexOf(":") + 1);
  }
}

// rowsOff says why a method takes no token rows ("" when it does).
function rowsOff(method) {
  if (method === "full") return "full fine-tuning trains every row already";
  if (method === "frozen") return "a frozen run trains nothing";
  return "";
}

// request asks the worker for the unseen report and the token choice when what they depend on changed.
function request() {
  const { state } = ctx;
  const c = state.config;
  if (!state.ready || !c || ctx.running() || state.baseBusy || !state.model) return;
  const fp = state.model.fingerprint;
  const file = state.custom ? [state.custom.name, state.custom.data.length] : null;
  const uk = c.task === "custom" && file ? JSON.stringify([fp, file]) : "";
  if (uk !== unseenKey) {
    unseenKey = uk;
    state.unseen = null;
    if (uk && !state.fieldErrors.custom) {
      state.unseen = { id: nextId++, busy: true };
      ctx.send("unseen", { id: state.unseen.id, config: { ...c, method: "frozen", trainTokens: "" }, custom: customFile() });
    }
  }
  const wants = c.trainTokens && c.trainTokens !== "none" && !rowsOff(c.method) || c.method === "tokens";
  const ck = wants && !state.fieldErrors.trainTokens && !state.fieldErrors.custom && !(c.task === "custom" && !file) ?
    JSON.stringify([fp, c.task, c.difficulty, c.facts, file, c.trainTokens, c.method]) : "";
  if (ck !== choiceKey) {
    choiceKey = ck;
    state.tokenChoice = null;
    if (ck) {
      state.tokenChoice = { id: nextId++, busy: true, spec: c.trainTokens };
      ctx.send("chooseTokens", { id: state.tokenChoice.id, config: c, custom: customFile() });
    }
  }
}

function tokenList(tokens, max) {
  const shown = tokens.slice(0, max).map((t) => t.text).join(" ");
  return tokens.length > max ? `${shown} and ${tokens.length - max} more` : shown;
}

export function render() {
  const { state } = ctx;
  const c = state.config;
  request();
  sync(false);
  const off = c ? rowsOff(c.method) : "";
  const locked = !state.ready || ctx.running();
  $("train-tokens-mode").disabled = locked || !!off;
  const mode = $("train-tokens-mode").value;
  const list = $("train-tokens-list");
  list.hidden = mode !== "chars" && mode !== "ids";
  list.disabled = locked || !!off;
  list.placeholder = mode === "ids" ? "48, 49, 50" : "0123456789";
  $("rows-field").classList.toggle("off", !!off);
  setText("rows-note", off ? `Not for this method: ${off}.` : "");
  renderUnseen();
  renderChoice();
}

function renderUnseen() {
  const { state } = ctx;
  const u = state.unseen;
  const c = state.config;
  const box = $("unseen");
  const sig = JSON.stringify([u, c && c.trainTokens, c && c.method]);
  keyed(box, sig, () => {
    if (!u) return [];
    if (u.busy) return [el("p", { class: "note", text: "Checking which characters of the data the base knows…" })];
    if (u.error) return [el("p", { class: "note bad", text: `Could not check the data's characters: ${u.error}` })];
    const r = u.report || {};
    // The first remedy, one click away: train_tokens auto (the report's own value).
    const remedy = () => {
      const why = rowsOff(c.method);
      if (why) return el("p", { class: "note", text: `This run uses ${c.method === "full" ? "full fine-tuning" : c.method}: ${why}.` });
      if (c.trainTokens && c.trainTokens !== "none") {
        return el("p", { class: "note ok", text: `Token rows are on (${c.trainTokens}): their rows train beside the adapters.` });
      }
      const b = el("button", { type: "button", class: "secondary", text: "Train their rows (token rows: auto)",
        title: "trainable copies of these tokens' embedding rows beside LoRA (PEFT's trainable_token_indices)" });
      b.dataset.tokens = r.train_tokens || "auto";
      return b;
    };
    if (r.skipped) {
      const toks = u.tokens || [];
      if (!toks.length) return [el("p", { class: "note", text: `The base's tokenizer is not golora's bytes; it tells every token of the data apart and produces it.` })];
      return [el("div", { class: "unseen-warn" },
        el("p", { text: `The base cannot tell apart, or (almost) never produces, ${toks.length} of the data's tokens: ` },
          el("span", { class: "mono", text: tokenList(toks, 24) })),
        el("p", { class: "note", text: "LoRA alone will likely not learn them: train their embedding rows beside it, or use full fine-tuning." }),
        remedy())];
    }
    const chars = r.chars || [];
    if (!chars.length) {
      return [el("p", { class: "note ok", text: `The base knows every character of the ${fmtInt(r.examples)} examples checked.` })];
    }
    const listed = chars.slice(0, 24).map((ch) => `${ch.char} ×${fmtInt(ch.count)}`).join("  ");
    // What to do, best first (train.UnseenReport's remedies; the first is the button above).
    const cap = (t) => t.charAt(0).toUpperCase() + t.slice(1);
    const advice = r.remedies && r.remedies.length ?
      el("ul", { class: "note remedies" }, ...r.remedies.map((t) => el("li", { text: cap(t) }))) :
      el("p", { class: "note", text: r.advice || "" });
    return [el("div", { class: "unseen-warn" },
      el("p", { text: `The base has (almost) never seen ${chars.length} of the characters in your data: ` },
        el("span", { class: "mono", text: listed + (chars.length > 24 ? ` and ${chars.length - 24} more` : "") })),
      remedy(),
      el("p", { class: "note", text: "What to do, best first:" }), advice)];
  });
}

function renderChoice() {
  const { state } = ctx;
  const t = state.tokenChoice;
  let text = "";
  let bad = false;
  if (t) {
    if (t.busy) text = "Choosing the token rows…";
    else if (t.error) { text = t.error; bad = true; }
    else if (!t.tokens.length) text = `Token rows (${t.spec}): none chosen: the base tells every token of the data apart and produces it.`;
    else {
      text = `Token rows that train (${t.spec}): ${tokenList(t.tokens, 40)} · ${t.tokens.length} row${t.tokens.length > 1 ? "s" : ""}, ` +
        `${fmtInt(t.params)} values`;
    }
  }
  setText("token-rows", text);
  $("token-rows").classList.toggle("bad", bad);
}
