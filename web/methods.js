// methods.js names the fine-tuning methods for the page and says in one line what each trains, for people learning
// what LoRA is. The facts about each method (its size knob, its ladder of sizes, its learning rate, whether it merges,
// the files it writes) come from the engine's table (train.Methods, in the worker's "ready"); a method the page has no
// words for yet shows the engine's own summary.

// TEXT is each method's name on the page and its one line.
const TEXT = {
  lora: ["LoRA", "Freezes every weight and trains two thin matrices B·A of rank r beside each target matrix; after " +
    "training B·A folds into it, so the model runs as fast as before."],
  dora: ["DoRA", "LoRA split into direction and length: B·A turns each row of a target matrix, and one trained number " +
    "per row sets its length. Folds in like LoRA."],
  full: ["Full fine-tuning", "Trains every weight of the model: the baseline the others are measured against, and the " +
    "most memory (gradients and optimiser state for every weight)."],
  frozen: ["Frozen base", "Trains nothing: scores the base model as it is."],
  top: ["Top k blocks", "Trains only the last k blocks (and the final norm) as they are; everything below stays " +
    "frozen, and the backward pass stops there."],
  bitfit: ["BitFit", "Trains only per-channel numbers: the norm gains, and a new bias on each of the seven linear " +
    "layers of every block (Llama has no biases of its own)."],
  ia3: ["(IA)³", "Trains one scale per channel of the keys, the values and the MLP's inner activation, each starting " +
    "at 1; folds into the weights."],
  "adapter-h": ["Adapters (Houlsby)", "Inserts a small bottleneck layer (down to width m and back up) after the " +
    "attention and after the MLP of every block, and trains those and the norms; they stay as extra layers."],
  "adapter-l": ["Adapter (Lin)", "Inserts one small bottleneck layer of width m, with its own norm, after each " +
    "block's MLP, and trains it; it stays as an extra layer."],
  "prefix-embed": ["Prompt tuning", "Trains l_p input vectors that the model reads before every prompt, as if they " +
    "were words; they take l_p positions of the context."],
  "prefix-layer": ["Prefix tuning", "Trains l_p keys and values in every layer, which every token attends to before " +
    "the input; they take l_p positions of the context."],
  tokens: ["Token rows", "Trains copies of chosen rows of the embedding (which tokens: the Token rows setting, auto " +
    "by default) and nothing else: a base that never learned some characters can tell them apart again."],
  intrinsic: ["Intrinsic dimension", "Trains only d numbers z that move all the weights along a fixed random " +
    "d-dimensional subspace (θ0 + P·z): how few numbers does the task need?"],
};

// SIZES describes each size knob (train.MethodSpec.Size): the page's setting that holds it and its short name.
export const SIZES = {
  rank: { key: "rank", short: "r" },
  layers: { key: "layers", short: "k" },
  bottleneck: { key: "bottleneck", short: "m" },
  prefix_len: { key: "prefixLen", short: "l_p" },
  intrinsic_dim: { key: "intrinsicDim", short: "d" },
};

let table = []; // the engine's methods, in its order

// setTable keeps the engine's methods table (the worker's "ready").
export function setTable(methods) { table = methods || []; }

// methods is the engine's table: [{name, summary, size, ladder, lr, merges, files}].
export function methods() { return table; }

export function spec(name) { return table.find((m) => m.name === name) || null; }

export function methodName(name) { return (TEXT[name] || [name])[0]; }

// methodShort is a method's name where space is short (a table cell, a legend): LoRA, DoRA, BitFit, (IA)³, else the
// engine's name (top, adapter-h, prefix-embed, ...).
export function methodShort(name) {
  return { lora: "LoRA", dora: "DoRA", full: "full", bitfit: "BitFit", ia3: "(IA)³", tokens: "token rows" }[name] || name;
}

// methodLine is the method's one line: what it trains.
export function methodLine(name) {
  if (TEXT[name]) return TEXT[name][1];
  const s = spec(name);
  return s ? s.summary : "";
}

// usesLoRA reports whether a method reads LoRA's settings (rank, alpha, targets, init, dropout, LoRA+).
export function usesLoRA(name) { return name === "lora" || name === "dora"; }

// sizeOf is the value of config c's size knob and its short name ({n, short}), or null for a method without one.
export function sizeOf(c) {
  const s = spec(c.method);
  const k = s && SIZES[s.size];
  return k ? { n: c[k.key], short: k.short } : null;
}

// sizeText writes a run's size as "r=4", "k=2", "l_p=16" ("" for a method without a size knob).
export function sizeText(c) {
  const z = sizeOf(c);
  return z ? `${z.short}=${z.n}` : "";
}

// methodLabel describes a run's method and its settings in a few words: "LoRA r=4, α=16 on q, v", "top k=2".
export function methodLabel(c) {
  if (c.method === "full") return "full fine-tuning";
  if (usesLoRA(c.method)) {
    let s = `${c.method === "dora" ? "DoRA" : "LoRA"} r=${c.rank}, α=${c.alpha}${c.rslora ? " (rsLoRA)" : ""} on ` +
      `${(c.targets || []).join(", ")}`;
    if (c.init === "pissa") s += ", PiSSA init";
    if (c.lrRatioB > 0) s += `, LoRA+ ×${c.lrRatioB}`;
    return s;
  }
  const size = sizeText(c);
  let s = `${methodName(c.method)}${size ? ` ${size}` : ""}`;
  if (c.method === "prefix-layer" && c.prefixProjection) s += " through an MLP";
  return s;
}
