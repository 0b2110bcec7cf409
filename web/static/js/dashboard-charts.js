// Small inline-SVG charts for the dashboard (no chart library): vertical bars over time,
// horizontal bars per category, and a stacked bar for a few parts of a whole.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** A round upper bound for an axis (1, 2, 5 × 10^n) and its tick step. */
function niceMax(value) {
  if (value <= 4) return { max: Math.max(1, value), step: 1 };
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) {
    if (m * exp >= value) return { max: m * exp, step: (m * exp) / (m === 1 || m === 10 ? 5 : m === 2 ? 4 : 5) };
  }
  return { max: value, step: value / 4 };
}

/**
 * Vertical bars: points = [{label, value, title}], every *labelEvery*-th label shown.
 * The chart reads as an image with a title and a description for screen readers.
 */
export function columnChart(points, { title, desc, labelEvery = 3, width = 720, height = 220 }) {
  const pad = { l: 36, r: 8, t: 10, b: 26 };
  const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
  const top = Math.max(0, ...points.map((p) => p.value));
  const { max, step } = niceMax(top);
  const slot = w / Math.max(1, points.length);
  const grid = [];
  for (let v = 0; v <= max + 1e-9; v += step) {
    const y = pad.t + h - (v / max) * h;
    grid.push(svg("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "grid" }),
      svg("text", { x: pad.l - 6, y: y + 4, class: "axis", "text-anchor": "end" }, Math.round(v)));
  }
  const bars = points.map((p, i) => {
    const bh = (p.value / max) * h;
    const x = pad.l + i * slot + slot * 0.15;
    return svg("g", {},
      svg("rect", { class: "bar", x, y: pad.t + h - bh, width: slot * 0.7, height: Math.max(bh, 0),
                    "data-value": p.value }, svg("title", {}, p.title ?? `${p.label}: ${p.value}`)),
      i % labelEvery === 0
        ? svg("text", { x: x + slot * 0.35, y: height - 8, class: "axis", "text-anchor": "middle" }, p.label)
        : null);
  });
  const id = "c" + Math.random().toString(36).slice(2, 8);
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart",
                      "aria-labelledby": `${id}-t ${id}-d`, preserveAspectRatio: "xMidYMid meet" },
    svg("title", { id: `${id}-t` }, title), svg("desc", { id: `${id}-d` }, desc), grid, bars);
}

/** Horizontal bars, one row per item = {label, value, cls}. */
export function barList(items, { title, desc, width = 420 }) {
  const rowH = 26, labelW = 170, pad = 8;
  const height = Math.max(1, items.length) * rowH + pad * 2;
  const max = Math.max(1, ...items.map((i) => i.value));
  const barW = width - labelW - 50;
  const rows = items.map((item, i) => {
    const y = pad + i * rowH;
    const len = (item.value / max) * barW;
    return svg("g", { class: "row" },
      svg("text", { x: labelW - 8, y: y + 17, class: "label", "text-anchor": "end" }, item.label),
      svg("rect", { class: `bar ${item.cls || ""}`, x: labelW, y: y + 4, width: Math.max(len, 1), height: rowH - 8 },
        svg("title", {}, `${item.label}: ${item.value}`)),
      svg("text", { x: labelW + len + 6, y: y + 17, class: "value" }, item.value));
  });
  const id = "b" + Math.random().toString(36).slice(2, 8);
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart bars",
                      "aria-labelledby": `${id}-t ${id}-d` },
    svg("title", { id: `${id}-t` }, title), svg("desc", { id: `${id}-d` }, desc), rows);
}

/** One stacked bar: parts = [{value, cls, label}] (e.g. online / offline / other). */
export function stackBar(parts, { width = 160, height = 14 } = {}) {
  const total = parts.reduce((s, p) => s + p.value, 0) || 1;
  let x = 0;
  const rects = parts.filter((p) => p.value > 0).map((p) => {
    const w = (p.value / total) * width;
    const r = svg("rect", { x, y: 0, width: w, height, class: p.cls }, svg("title", {}, `${p.label}: ${p.value}`));
    x += w;
    return r;
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "stack", "aria-hidden": "true" },
    svg("rect", { x: 0, y: 0, width, height, class: "empty" }), rects);
}
