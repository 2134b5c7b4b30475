"use strict";
// The explain page's script, part 1 of 6: data, helpers, colour scales, canvases, header.
// The page concatenates common.js, mlp.js, steps.js, cnn.js, blocks.js and main.js into one script.
const D = JSON.parse(document.getElementById("microgradnn-data").textContent);
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const S = { mode: "forward", batch: false, sel: null, step: 0, slide: null };
const LAYERS = D.layers;
const LAST = LAYERS.length - 1;
LAYERS.forEach((e, i) => { e.idx = i; e.gi = i; e.prev = i > 0 ? LAYERS[i - 1] : null; });
// Every entry the page draws, by number: the columns, then each block's inner maps (each
// reads the one before it on its path, the first the block's input), then a residual
// block's sum F(a[l-1]) + shortcut.
const ENT = LAYERS.slice();
LAYERS.forEach((e) => {
  if (!e.parts) return;
  const last = {};
  e.parts.forEach((p) => {
    p.block = e; p.prev = last[p.role] || e.prev; last[p.role] = p;
    p.gi = ENT.length; ENT.push(p);
  });
  if (e.sum) {
    const s = e.sum;
    Object.assign(s, { type: "Add", name: "sum", role: "sum", block: e, prev: null, layer: e.layer,
      shape: e.shape, symbol: "F(a[" + (e.layer - 1) + "]) + " + (e.shortcut === "identity" ? "a[" + (e.layer - 1) + "]" : "P(a[" + (e.layer - 1) + "])") });
    s.gi = ENT.length; ENT.push(s);
  }
});
// The names shown: each entry's symbol (NOTATION.md), indexable as A(e) + "[c][i,j]".
function sym(e) { return e.symbol || "a[" + e.idx + "]"; }
function A(e) {
  const s = sym(e).split(" = ")[0];
  return s.includes(" ") ? "(" + s + ")" : s;
}
function KN(e) { return "K[" + e.layer + "]" + (e.block ? "(" + e.name + ")" : ""); }
function BN(e) { return "b[" + e.layer + "]" + (e.block ? "(" + e.name + ")" : ""); }

// ---------------------------------------------------------------- helpers
function h(tag, attrs, text) {
  const e = document.createElement(tag);
  if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
function fmt(x) {
  if (x === null || x === undefined) return "n/a";
  if (!isFinite(x)) return isNaN(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  const m = Math.abs(x);
  if (m >= 1e6 || (m > 0 && m < 1e-4)) {
    return x.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
  }
  const t = x.toFixed(4);
  return t === "-0.0000" ? "0.0000" : t;
}
function par(x) { return x < 0 ? "(" + fmt(x) + ")" : fmt(x); }
function pct(p) { return (100 * p).toFixed(2) + "%"; }
// Percentages only where the outputs are a softmax; a network trained with the lectures'
// cost shows its output activations a[L][j] (NOTATION.md).
const SOFTMAX = D.loss_fn !== "mse";
function outputName(j) { return "a[" + LAYERS[LAST].layer + "][" + j + "]"; }
function outputText(j) { return SOFTMAX ? pct(D.probabilities[j]) : outputName(j) + " = " + fmt(flat(LAYERS[LAST].activations)[j]); }
function flat(v) { return Array.isArray(v) ? v.flat(Infinity) : [v]; }
function F(e, key) {
  const k = "_flat_" + key;
  if (!(k in e)) e[k] = e[key] === undefined || e[key] === null ? null : flat(e[key]);
  return e[k];
}
function maxAbs(a) { let m = 0; for (const v of a) if (v !== null && Math.abs(v) > m) m = Math.abs(v); return m; }
function argmaxAbs(a) { let m = -1, i = 0; a.forEach((v, k) => { if (Math.abs(v) > m) { m = Math.abs(v); i = k; } }); return i; }
function range(n) { return Array.from({ length: n }, (_, i) => i); }

// ---------------------------------------------------------------- colour scales
// Signed values: ColorBrewer PuOr (purple negative, orange positive), colour-blind safe.
// Activations >= 0: Blues, white for 0. The same scales as the project's graphs.
const NEG = [94, 60, 153], POS = [230, 97, 1], MID = [247, 247, 247];
const LO = [247, 251, 255], HI = [8, 48, 107];
function mixRGB(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }
function rgb(c) { return "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")"; }
function divRGB(v, m) {
  const t = m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0;
  return t < 0 ? mixRGB(MID, NEG, -t) : mixRGB(MID, POS, t);
}
function seqRGB(v, m) { return mixRGB(LO, HI, m > 0 ? Math.max(0, Math.min(1, v / m)) : 0); }
function signedScale(values, what) {
  const m = maxAbs(values) || 1e-12;
  return { kind: "div", max: m, rgb: (v) => divRGB(v, m), color: (v) => rgb(divRGB(v, m)),
           text: "-" + fmt(m) + " … 0 … +" + fmt(m), what: what };
}
function actScale(e) {
  const v = F(e, "activations");
  let mn = Infinity, mx = -Infinity;
  for (const x of v) { if (x < mn) mn = x; if (x > mx) mx = x; }
  const bounded = e.type === "Sigmoid" || e.type === "Softmax" ||
    (e.type === "Input" && D.input_mode === "unit");
  if (mn >= 0) {
    const top = bounded ? 1 : (mx || 1e-12);
    return { kind: "seq", max: top, rgb: (x) => seqRGB(x, top), color: (x) => rgb(seqRGB(x, top)),
             text: "0 … " + fmt(top), what: "activation" };
  }
  return signedScale(v, "value");
}
function gradKey(e) { return S.batch && e.batch_grad !== undefined ? "batch_grad" : "grad"; }
function gradOf(e) { return F(e, gradKey(e)); }
function gradScale(e) { return signedScale(gradOf(e), "∂C/∂"); }
function valueScale(e) { return S.mode === "forward" ? actScale(e) : gradScale(e); }
function valuesOf(e) { return S.mode === "forward" ? F(e, "activations") : gradOf(e); }

// ---------------------------------------------------------------- tooltip
const tip = $("mx-tip");
function hoverable(target, describe) {
  target.addEventListener("mousemove", (ev) => {
    const [fx, fy] = fraction(target, ev);
    const text = describe(fx, fy);
    if (text === null || text === undefined) { tip.hidden = true; return; }
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = (ev.clientX + 14) + "px";
    tip.style.top = (ev.clientY + 12) + "px";
  });
  target.addEventListener("mouseleave", () => { tip.hidden = true; });
}
// Where the pointer is inside an element's content box, as fractions of its width and height.
function fraction(target, ev) {
  const r = target.getBoundingClientRect();
  const w = target.clientWidth || r.width, hgt = target.clientHeight || r.height;
  return [(ev.clientX - r.left - target.clientLeft) / w, (ev.clientY - r.top - target.clientTop) / hgt];
}
function activate(target, fn) {
  target.addEventListener("click", fn);
  target.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); fn(ev); }
  });
}

// ---------------------------------------------------------------- canvases
// A heat map of rows x cols values; intrinsic size cols*cw x rows*ch, shown at cssW x cssH.
function heat(values, rows, cols, scale, opts) {
  opts = opts || {};
  const cw = opts.cw || 1, ch = opts.ch || 1;
  const c = h("canvas", { class: "mx-heat" + (opts.cls ? " " + opts.cls : "") });
  c.width = cols * cw; c.height = rows * ch;
  c.style.width = (opts.cssW || cols * cw) + "px";
  c.style.height = (opts.cssH || rows * ch) + "px";
  const g = c.getContext("2d");
  const img = g.createImageData(c.width, c.height);
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) {
    const v = values[r * cols + q];
    const col = v === null ? [255, 255, 255] : scale.rgb(v);
    for (let y = r * ch; y < (r + 1) * ch; y++) for (let x = q * cw; x < (q + 1) * cw; x++) {
      const o = (y * c.width + x) * 4;
      img.data[o] = col[0]; img.data[o + 1] = col[1]; img.data[o + 2] = col[2]; img.data[o + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
  if (opts.mark !== undefined && opts.mark !== null) {
    g.strokeStyle = "#d7191c"; g.lineWidth = Math.max(1, Math.min(cw, ch) / 4);
    const [mr, mc] = opts.mark;
    if (mc === null) g.strokeRect(0.5, mr * ch + 0.5, c.width - 1, ch - 1);
    else g.strokeRect(mc * cw + 0.5, mr * ch + 0.5, cw - 1, ch - 1);
  }
  if (opts.tip) hoverable(c, (fx, fy) => {
    const r = Math.min(rows - 1, Math.floor(fy * rows)), q = Math.min(cols - 1, Math.floor(fx * cols));
    return r < 0 || q < 0 || values[r * cols + q] === null ? null : opts.tip(r, q, values[r * cols + q]);
  });
  if (opts.label) c.setAttribute("aria-label", opts.label);
  return c;
}
function figure(child, caption, id) {
  const f = h("div", { class: "mx-fig" });
  if (id) f.id = id;
  f.appendChild(child);
  if (caption) f.appendChild(h("span", null, caption));
  return f;
}
function legendBar(scale) {
  const bar = h("span", { class: "mx-bar" });
  bar.style.background = scale.kind === "div"
    ? "linear-gradient(to right, " + rgb(NEG) + ", " + rgb(MID) + ", " + rgb(POS) + ")"
    : "linear-gradient(to right, " + rgb(LO) + ", " + rgb(HI) + ")";
  return bar;
}
function scaleKey(scale, caption) {
  const s = h("span", { class: "mx-legend-item" });
  s.appendChild(h("span", null, caption));
  s.appendChild(legendBar(scale));
  s.appendChild(h("span", { class: "mx-mono" }, scale.text));
  return s;
}
// A vector as coloured number cells (short) or a strip (long).
function vecRow(label, values, scale, id) {
  const wrap = h("div");
  if (id) wrap.id = id;
  wrap.appendChild(h("div", { class: "mx-veclabel" }, label));
  if (values.length === 784) {
    wrap.appendChild(heat(values, 28, 28, scale, { cw: 5, ch: 5, tip: (r, q, v) => "[" + (r * 28 + q) + "] = " + fmt(v) }));
  } else if (values.length > 64) {
    wrap.appendChild(heat(values, 1, values.length, scale, { cw: 3, ch: 14, cssW: Math.min(560, values.length * 3),
      tip: (r, q, v) => "[" + q + "] = " + fmt(v) }));
  } else {
    const row = h("div", { class: "mx-vec" });
    values.forEach((v, k) => {
      const c = scale.rgb(v);
      const cell = h("span", { title: "[" + k + "]" }, fmt(v));
      cell.style.background = rgb(c);
      cell.style.color = (c[0] * 0.3 + c[1] * 0.59 + c[2] * 0.11) < 130 ? "#fff" : "#000";
      row.appendChild(cell);
    });
    wrap.appendChild(row);
  }
  return wrap;
}

// ---------------------------------------------------------------- header, toolbar
const digitOf = (j) => String(j);
function summary() {
  const L = LAYERS[LAST].layer;
  const parts = [D.image_name, D.label_given ? "label " + D.label : "label " + D.label + " assumed (no label was given: the prediction is taken as the label)",
    "prediction " + D.prediction + " (" + outputText(D.prediction) + ")",
    "cost C = " + fmt(D.loss) + " (" + (D.loss_fn === "mse" ? "C = Σ_j (a[" + L + "][j] - y[j])², a[" + L + "] = σ(z[" + L + "]), the lectures' cost"
      : "C = -log softmax(z[" + L + "])[y], cross-entropy") + ")"];
  $("mx-summary").textContent = parts.join(" · ");
}
function setMode(mode) {
  S.mode = mode;
  $("mx-mode-forward").setAttribute("aria-pressed", String(mode === "forward"));
  $("mx-mode-backward").setAttribute("aria-pressed", String(mode === "backward"));
  S.step = 0;
  S.steps = null;
  refresh();
}
function setBatch(on) {
  if (!D.batch) return;
  S.batch = on;
  $("mx-batch").setAttribute("aria-pressed", String(on));
  refresh();
}
function hint() {
  $("mx-hint").textContent = "Tab to a neuron, layer or map, Enter to open it; ← → step through the " +
    (S.mode === "forward" ? "forward pass" : "backward pass") + ".";
}

