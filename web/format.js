// format.js turns numbers, sizes, durations and settings into the short text the page shows.

const nf = new Intl.NumberFormat("en-US");

export function fmtInt(n) { return n == null ? "–" : nf.format(Math.round(n)); }

// fmtCompact writes 5,376 as 5.4k and 431,136 as 431k (chart axes).
export function fmtCompact(n) {
  if (n == null) return "–";
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

export function fmtBytes(b) {
  if (b == null) return "–";
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

export function fmtPct(x) { return x == null ? "–" : `${(100 * x).toFixed(1)}%`; }

export function fmtLoss(x) { return x == null || !Number.isFinite(x) ? "–" : x.toFixed(3); }

export function fmtDuration(s) {
  if (!Number.isFinite(s) || s < 0) return "–";
  s = Math.round(s);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export function fmtWhen(t) {
  const d = new Date(t);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ` +
    `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export function taskName(t) {
  return { e2e: "E2E", cipher: "Cipher", facts: "Facts", custom: "Custom" }[t] || t;
}

// taskDetail is what a run's task was beyond its name, from the task the engine built (golora's start reply):
// "6 letters" for the cipher, "100 facts", the custom file's name.
export function taskDetail(task) {
  if (!task) return "";
  if (task.name === "cipher" && task.difficulty) return `${task.difficulty} letters`;
  if (task.name === "facts" && task.facts) return `${task.facts} facts`;
  if (task.name === "custom" && task.file) return task.file;
  return "";
}

// methodLabel describes a run's method and its settings in a few words (methods.js, beside the methods' names).
export { methodLabel } from "./methods.js";

// smooth is an exponential moving average of ys, de-biased at the start (as TensorBoard draws it).
export function smooth(ys, a) {
  const out = new Array(ys.length);
  let m = 0;
  for (let i = 0; i < ys.length; i++) {
    m = a * m + (1 - a) * ys[i];
    out[i] = m / (1 - a ** (i + 1));
  }
  return out;
}
