// charts.js draws the page's charts with uPlot (web/vendor): a Chart is one plot in a <figure>, fed columnar arrays,
// with a legend, a tooltip for the point under the cursor, dashed reference lines and a note while it is empty.
// uPlot sizes its canvas by devicePixelRatio; a ResizeObserver keeps the plot as wide as its figure.
import uPlot from "./vendor/uPlot.esm.js";
import { el } from "./dom.js";

export const COLORS = {
  accent: "#2456d6", accentSoft: "rgba(36, 86, 214, 0.22)", ink: "#1b2230", muted: "#6b7485", grid: "#e7eaf0",
  axis: "#c3c9d4", ref: "#8a93a3",
};
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const HEIGHT = 240;
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2500, 5e3, 1e4, 2e4, 25e3, 5e4, 1e5, 2e5,
  25e4, 5e5, 1e6];

// niceMax rounds hi up to a round number (1, 2, 2.5 or 5 times a power of ten) for the top of a linear scale.
export function niceMax(hi) {
  if (!(hi > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(hi));
  return [1, 2, 2.5, 5, 10].map((f) => f * mag).find((v) => v >= hi * (1 - 1e-9));
}

// Chart is one plot. spec:
//   x: {label, fmt(v), log (2 or 10; linear if absent), splits?: () => [ticks], integer (ticks on whole numbers)},
//   y: {fmt(v), splits?}
//   series: [{name, color, width, dash, points (draw markers), line (false: markers only), legend (false: not listed)}]
//   tip(idx) -> [lines] for the data index under the cursor, or null
export class Chart {
  constructor(figure, spec) {
    this.figure = figure;
    this.spec = spec;
    this.sig = "";
    this.range = { x: [0, 1], y: [0, 1] };
    this.refs = [];
    this.legendItems = spec.series.map((s) => {
      if (!s.name || s.legend === false) return null;
      const swatch = el("i", { class: s.dash ? "dash" : "" });
      swatch.style.borderColor = s.color;
      return el("span", {}, swatch, s.name);
    });
    this.legend = el("div", { class: "legend" }, ...this.legendItems.filter(Boolean));
    this.refLegend = el("span", { class: "refs" });
    this.legend.append(this.refLegend);
    this.plot = el("div", { class: "plot" });
    this.empty = el("div", { class: "empty" });
    this.tip = el("div", { class: "tip", hidden: true });
    figure.append(this.legend, this.plot, this.empty);
    const axis = (a) => ({
      stroke: COLORS.muted, font: FONT, labelFont: FONT, label: a.label, labelSize: a.label ? 16 : 0, labelGap: 0,
      grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.axis, width: 1, size: 4 },
      values: (u, splits) => splits.map((v) => (v == null ? "" : a.fmt(v))),
      ...(a.splits ? { splits: () => a.splits() } : {}),
      ...(a.integer ? { incrs: INTEGER_INCRS } : {}), // steps: never a tick between two of them
    });
    const scale = (key, a) => ({
      time: false, range: () => this.range[key], ...(a.log ? { distr: 3, log: a.log } : {}),
    });
    this.u = new uPlot({
      width: this.width(), height: HEIGHT, legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 8 } },
      scales: { x: scale("x", spec.x), y: scale("y", spec.y) },
      axes: [{ ...axis(spec.x), size: 28 }, { ...axis(spec.y), size: 48 }],
      series: [{}, ...spec.series.map((s) => ({
        label: s.name || "", stroke: s.color, width: s.width || 2, dash: s.dash, spanGaps: true,
        points: s.points ? { show: true, size: 8, width: 2, fill: "#fff", stroke: s.color } : { show: false },
        ...(s.line === false ? { paths: () => null } : {}),
      }))],
      hooks: { draw: [(u) => this.drawRefs(u)], setCursor: [(u) => this.showTip(u)] },
    }, [[], ...spec.series.map(() => [])], this.plot);
    this.u.over.append(this.tip);
    figure.chart = this; // for the browser test: where a value is drawn, and the tooltip's text (dataset.tip)
    new ResizeObserver(() => {
      const w = this.width();
      if (w > 0 && w !== this.u.width) this.u.setSize({ width: w, height: HEIGHT });
    }).observe(figure);
  }

  width() { return Math.max(this.figure.clientWidth - 18, 120); }

  // update draws data = [xs, ys of each series] (null where a series has no value) on the ranges given:
  // {data, x: [min, max], y: [min, max], refs: [{y, label}], empty: "note shown while there is nothing to draw"}.
  // A reference line is horizontal at y, or vertical at x ({x, label}); color overrides the grey. shown: whether each
  // series is listed in the legend (a series with nothing to draw need not be). key: what identifies the data when its
  // length and last values do not (it is redrawn when they or key change).
  update({ data, x, y, refs = [], empty = "", shown = null, key = "" }) {
    if (shown) this.legendItems.forEach((it, i) => { if (it) it.hidden = !shown[i]; });
    const sig = JSON.stringify([x, y, refs, key, data.map((d) => [d.length, d.at(-1)])]);
    this.empty.textContent = empty;
    this.empty.hidden = !empty;
    if (sig === this.sig) return;
    this.sig = sig;
    this.range = { x, y };
    this.refs = refs;
    this.refLegend.replaceChildren(...refs.map((r) => {
      const swatch = el("i", { class: r.x != null ? "dash vertical" : "dash" });
      swatch.style.borderColor = r.color || COLORS.ref;
      return el("span", {}, swatch, r.label);
    }));
    this.u.setData(data);
  }

  // pos is where the value (xv, yv) is drawn, in the page's client coordinates.
  pos(xv, yv) {
    const b = this.u.over.getBoundingClientRect();
    return [b.left + this.u.valToPos(xv, "x"), b.top + this.u.valToPos(yv, "y")];
  }

  // drawRefs draws the dashed reference lines (full fine-tuning's accuracy) across the plot: horizontal at a y,
  // vertical at an x.
  drawRefs(u) {
    const { ctx, bbox } = u;
    for (const r of this.refs) {
      ctx.save();
      ctx.setLineDash([5 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
      ctx.strokeStyle = r.color || COLORS.ref;
      ctx.lineWidth = 1.5 * uPlot.pxRatio;
      ctx.beginPath();
      if (r.x != null) {
        const x = Math.round(u.valToPos(r.x, "x", true)) + 0.5;
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
      } else {
        const y = Math.round(u.valToPos(r.y, "y", true)) + 0.5;
        ctx.moveTo(bbox.left, y);
        ctx.lineTo(bbox.left + bbox.width, y);
      }
      ctx.stroke();
      ctx.restore();
    }
  }

  showTip(u) {
    const idx = u.cursor.idx;
    const lines = idx == null || !this.spec.tip ? null : this.spec.tip(idx);
    this.tip.hidden = !lines;
    const text = lines ? lines.join(" · ") : "";
    if (this.figure.dataset.tip !== text) this.figure.dataset.tip = text;
    if (!lines) return;
    this.tip.replaceChildren(...lines.map((l) => el("div", { text: l })));
    const left = u.valToPos(u.data[0][idx], "x");
    const w = u.over.clientWidth;
    this.tip.style.left = left > w / 2 ? "" : `${left + 12}px`;
    this.tip.style.right = left > w / 2 ? `${w - left + 12}px` : "";
    this.tip.style.top = `${Math.max(4, (u.cursor.top || 0) - 20)}px`;
  }
}
