
"use strict";
(function () {
const D = JSON.parse(document.getElementById("microgradnn-data").textContent);
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const S = { mode: "forward", batch: false, sel: null, step: 0, slide: null };
const LAYERS = D.layers;
const LAST = LAYERS.length - 1;
LAYERS.forEach((e, i) => { e.idx = i; });  // a CNN's column i shows a[i]; the input is a[0]

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
  const p = D.probabilities[D.prediction];
  const parts = [D.image_name, "label " + D.label + (D.label_given ? "" : " (none given: the prediction is taken as the label)"),
    "prediction " + D.prediction + " (" + pct(p) + ")",
    "cost C = " + fmt(D.loss) + " (" + (D.loss_fn === "mse" ? "sum of squared differences, sigmoid outputs" : "cross-entropy, softmax outputs") + ")"];
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

// ---------------------------------------------------------------- MLP model
const ACT_NAMES = { Sigmoid: "σ", ReLU: "ReLU", Tanh: "tanh", Softmax: "softmax", identity: "" };
function mlpGroups() {
  const groups = [];
  for (let i = 1; i < LAST; i++) {
    const e = LAYERS[i];
    if (e.type === "Linear") groups.push({ lin: e, act: null });
    else if ((e.type === "ReLU" || e.type === "Sigmoid" || e.type === "Tanh") && groups.length) groups[groups.length - 1].act = e;
  }
  groups[groups.length - 1].act = LAYERS[LAST];
  groups.forEach((g, k) => {
    g.l = k + 1; g.n = g.lin.shape[0]; g.actType = g.act ? g.act.type : "identity";
    g.out = g.act || g.lin;
  });
  return groups;
}
const G = D.kind === "mlp" ? mlpGroups() : [];
const NL = G.length;
function aPrev(l) { return l === 1 ? F(LAYERS[0], "activations") : F(G[l - 2].out, "activations"); }
function inCount(l) { return l === 1 ? F(LAYERS[0], "activations").length : G[l - 2].n; }
function W(l) { return G[l - 1].lin.weight; }
function dWkey() { return S.batch ? "batch_weight_grad" : "weight_grad"; }
function actSym(g) { return ACT_NAMES[g.actType]; }
function wrapAct(g, inner) {
  const s = actSym(g);
  return s ? s + "(" + inner + ")" : inner;
}
function neuronName(l, j) { return "a[" + l + "][" + j + "]"; }

// ---------------------------------------------------------------- MLP drawing
const M = {};
document.body.classList.add("mx-kind-" + D.kind);
function drawMLP() {
  const view = clear($("mx-view"));
  const cell = 9, side = 28, imgW = side * cell;
  const colH = 470, top = 52, height = top + colH + 48;
  const x0 = 10, firstX = x0 + imgW + 100, outX = 700;
  const width = outX + 215;
  const svg = sv("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, id: "mx-svg",
    role: "group", "aria-label": "the network: input image, hidden layers, outputs" });
  M.svg = svg;
  M.cols = [];
  const xs = NL === 1 ? [outX] : range(NL).map((k) => firstX + (outX - firstX) * k / (NL - 1));
  const imgTop = top + (colH - imgW) / 2;
  // column backgrounds (highlighted by the steps)
  M.bg = [];
  const bgIn = sv("rect", { class: "mx-colbg", x: x0 - 6, y: top - 44, width: imgW + 12, height: colH + 88, rx: 6 });
  svg.appendChild(bgIn); M.bg.push(bgIn);
  xs.forEach((x) => { const r = sv("rect", { class: "mx-colbg", x: x - 40, y: top - 44, width: 80, height: colH + 88, rx: 6 }); svg.appendChild(r); M.bg.push(r); });
  M.conns = sv("g", { id: "mx-conns" });
  svg.appendChild(M.conns);
  // input image: pixel k is input neuron a[0][k]
  M.pix = [];
  const gin = sv("g", { id: "mx-input" });
  for (let k = 0; k < side * side; k++) {
    const r = sv("rect", { x: x0 + (k % side) * cell, y: imgTop + Math.floor(k / side) * cell, width: cell, height: cell });
    gin.appendChild(r); M.pix.push(r);
  }
  gin.appendChild(sv("rect", { x: x0, y: imgTop, width: imgW, height: imgW, fill: "none", stroke: "#888" }));
  hoverableSvg(gin, (ev) => {
    const r = svg.getBoundingClientRect();
    const sx = (ev.clientX - r.left) * width / r.width - x0, sy = (ev.clientY - r.top) * height / r.height - imgTop;
    const q = Math.floor(sx / cell), p = Math.floor(sy / cell);
    if (q < 0 || p < 0 || q >= side || p >= side) return null;
    const k = p * side + q;
    return S.mode === "forward" ? "a[0][" + k + "] = " + fmt(F(LAYERS[0], "activations")[k]) + "  (pixel row " + p + ", column " + q + ")"
      : "∂C/∂a[0][" + k + "] = " + fmt(gradOf(LAYERS[0])[k]);
  });
  svg.appendChild(gin);
  M.inPos = (k) => [x0 + (k % side + 0.5) * cell, imgTop + (Math.floor(k / side) + 0.5) * cell];
  const head0 = sv("text", { x: x0 + imgW / 2, y: top - 22, "text-anchor": "middle", "font-size": 13 }, "input a[0]: 784 pixels");
  svg.appendChild(head0);
  const scaleLabel = (x) => {
    const t = sv("text", { x: x, y: top + colH + 26, "text-anchor": "middle", "font-size": 11, fill: "#555" });
    t.appendChild(sv("tspan", { x: x }));
    t.appendChild(sv("tspan", { x: x, dy: 13 }));
    svg.appendChild(t);
    return t;
  };
  M.scaleText = [scaleLabel(x0 + imgW / 2)];
  // neurons
  M.pos = [];
  M.circles = [];
  G.forEach((g, gi) => {
    const n = g.n, x = xs[gi];
    const last = gi === NL - 1;
    const spacing = Math.min(last ? 40 : 29, colH / n), r = Math.max(1.5, Math.min(12, spacing * 0.42));
    const y0 = top + colH / 2 - (n - 1) * spacing / 2;
    const pos = range(n).map((j) => [x, y0 + j * spacing]);
    M.pos.push(pos);
    const head = sv("g", { class: "mx-layerhead", id: "mx-layer-" + g.l, tabindex: 0, role: "button",
      "aria-label": "layer " + g.l + " in matrix form" });
    head.appendChild(sv("rect", { x: x - 38, y: top - 38, width: 76, height: 22, rx: 4 }));
    head.appendChild(sv("text", { x: x, y: top - 23, "text-anchor": "middle", "font-size": 12 },
      (last ? "output" : "layer " + g.l) + " · " + n));
    activate(head, () => select({ kind: "layer", l: g.l }));
    svg.appendChild(head);
    const sub2 = sv("text", { x: x, y: top - 2 + 0, "text-anchor": "middle", "font-size": 10.5, fill: "#555" },
      "a[" + g.l + "] = " + wrapAct(g, "z[" + g.l + "]"));
    svg.appendChild(sub2);
    const circles = [];
    pos.forEach(([cx, cy], j) => {
      const c = sv("circle", { cx: cx, cy: cy + 10, r: r, class: "mx-neuron", id: "mx-n-" + g.l + "-" + j,
        tabindex: 0, role: "button" });
      activate(c, () => select({ kind: "neuron", l: g.l, j: j }));
      hoverableSvg(c, () => neuronTip(g.l, j));
      svg.appendChild(c);
      circles.push(c);
      pos[j] = [cx, cy + 10];
    });
    M.circles.push(circles);
    M.scaleText.push(scaleLabel(x));
  });
  // output labels
  M.outText = [];
  const lastPos = M.pos[NL - 1];
  lastPos.forEach(([cx, cy], j) => {
    const t = sv("text", { x: cx + 18, y: cy + 4, class: "mx-out-label", id: "mx-out-" + j });
    svg.appendChild(t); M.outText.push(t);
  });
  const mark = (j, text, id, dy) => {
    const [cx, cy] = lastPos[j];
    svg.appendChild(sv("text", { x: cx + 18, y: cy + 4 + dy, "font-size": 10.5, fill: "#d7191c", id: id }, text));
  };
  if (D.prediction === D.label) mark(D.label, "▲ prediction = label", "mx-pred-mark", 13);
  else { mark(D.prediction, "▲ prediction", "mx-pred-mark", 13); mark(D.label, "▲ label (target)", "mx-label-mark", 13); }
  const predCircle = M.circles[NL - 1][D.prediction];
  const ring = sv("circle", { cx: predCircle.getAttribute("cx"), cy: predCircle.getAttribute("cy"),
    r: Number(predCircle.getAttribute("r")) + 4, fill: "none", stroke: "#d7191c", "stroke-width": 2, "stroke-dasharray": "3 2" });
  svg.appendChild(ring);
  view.appendChild(svg);
}
function hoverableSvg(node, describe) {
  node.addEventListener("mousemove", (ev) => {
    const text = describe(ev);
    if (text === null || text === undefined) { tip.hidden = true; return; }
    tip.textContent = text; tip.hidden = false;
    tip.style.left = (ev.clientX + 14) + "px"; tip.style.top = (ev.clientY + 12) + "px";
  });
  node.addEventListener("mouseleave", () => { tip.hidden = true; });
}
function neuronTip(l, j) {
  const g = G[l - 1];
  if (S.mode === "forward") return neuronName(l, j) + " = " + fmt(F(g.out, "activations")[j]) + ",  z[" + l + "][" + j + "] = " + fmt(F(g.lin, "activations")[j]);
  return "∂C/∂" + neuronName(l, j) + " = " + fmt(gradOf(g.out)[j]) + (S.batch ? " (batch mean)" : "");
}
function setScaleText(t, name, range) {
  t.childNodes[0].textContent = name;
  t.childNodes[1].textContent = range.replace(" … 0 … ", " … ");
}
function paintMLP() {
  const inE = LAYERS[0];
  const inScale = valueScale(inE), inVals = valuesOf(inE);
  M.pix.forEach((r, k) => r.setAttribute("fill", inScale.color(inVals[k])));
  setScaleText(M.scaleText[0], (S.mode === "forward" ? "a[0]" : "∂C/∂a[0]"), inScale.text);
  G.forEach((g, gi) => {
    const sc = valueScale(g.out), vals = valuesOf(g.out);
    M.circles[gi].forEach((c, j) => {
      c.setAttribute("fill", sc.color(vals[j]));
      c.setAttribute("aria-label", (S.mode === "forward" ? "" : "∂C/∂") + neuronName(g.l, j) + " = " + fmt(vals[j]));
    });
    setScaleText(M.scaleText[gi + 1], (S.mode === "forward" ? "" : "∂C/∂") + "a[" + g.l + "]", sc.text);
  });
  const out = G[NL - 1].out, probs = D.probabilities;
  M.outText.forEach((t, j) => {
    t.textContent = S.mode === "forward"
      ? digitOf(j) + "  " + pct(probs[j]) + (D.loss_fn === "mse" ? "  (a = " + fmt(F(out, "activations")[j]) + ")" : "")
      : digitOf(j) + "  ∂C/∂a = " + fmt(gradOf(out)[j]);
    t.setAttribute("class", "mx-out-label" + (j === D.prediction ? " mx-pred" : ""));
  });
  drawConnections();
}
function drawConnections() {
  clear(M.conns);
  const K = Number($("mx-topk").value);
  $("mx-topk-value").textContent = String(K);
  if (K === 0) return;
  const rank = $("mx-rank").value;
  G.forEach((g, gi) => {
    const l = g.l, nIn = inCount(l), a = aPrev(l);
    const mat = S.mode === "forward" ? g.lin.weight : g.lin[dWkey()];
    const cand = [];
    for (let j = 0; j < g.n; j++) {
      const row = mat[j];
      for (let k = 0; k < nIn; k++) {
        const v = S.mode === "forward" && rank === "wa" ? row[k] * a[k] : row[k];
        if (v !== 0) cand.push([Math.abs(v), v, j, k]);
      }
    }
    cand.sort((p, q) => q[0] - p[0]);
    const shown = cand.slice(0, K);
    const top = shown.length ? shown[0][0] : 1;
    for (let i = shown.length - 1; i >= 0; i--) {
      const [m, v, j, k] = shown[i];
      const [x1, y1] = l === 1 ? M.inPos(k) : M.pos[gi - 1][k];
      const [x2, y2] = M.pos[gi][j];
      const line = sv("line", { x1: x1, y1: y1, x2: x2, y2: y2, class: "mx-conn",
        stroke: rgb(v < 0 ? NEG : POS), "stroke-width": (0.4 + 3.6 * m / top).toFixed(2),
        "stroke-opacity": (0.3 + 0.6 * m / top).toFixed(2), "data-j": j, "data-k": k, "data-l": l });
      M.conns.appendChild(line);
    }
  });
}

// ---------------------------------------------------------------- MLP detail: one neuron
function weightPicture(values, l, j, label, scale) {
  if (values.length === 784) {
    return heat(values, 28, 28, scale, { cw: 6, ch: 6, label: label,
      tip: (r, q, v) => label.replace("·", "") + "[" + (r * 28 + q) + "] = " + fmt(v) + "  (row " + r + ", column " + q + ")" });
  }
  // a bar per incoming weight
  const n = values.length, bw = Math.max(2, Math.min(22, Math.floor(300 / n))), H = 90;
  const svg = sv("svg", { width: n * bw + 2, height: H + 16, "aria-label": label });
  const m = maxAbs(values) || 1e-12;
  svg.appendChild(sv("line", { x1: 0, y1: H / 2, x2: n * bw, y2: H / 2, stroke: "#999" }));
  values.forEach((v, k) => {
    const hgt = Math.abs(v) / m * (H / 2 - 2);
    const r = sv("rect", { x: k * bw + 1, y: v >= 0 ? H / 2 - hgt : H / 2, width: bw - 1, height: Math.max(0.5, hgt),
      fill: scale.color(v) === rgb(MID) ? "#ccc" : rgb(v < 0 ? NEG : POS) });
    hoverableSvg(r, () => label + "[" + k + "] = " + fmt(v));
    svg.appendChild(r);
  });
  if (n <= 32) range(n).forEach((k) => svg.appendChild(sv("text", { x: k * bw + bw / 2 + 1, y: H + 12, "font-size": 9, "text-anchor": "middle" }, String(k))));
  return svg;
}
function neuronDetail(l, j) {
  const g = G[l - 1], body = clear($("mx-detail-body"));
  const last = l === NL;
  $("mx-detail-title").textContent = "Neuron " + neuronName(l, j) + (last ? ": output for digit " + j : ": layer " + l + ", neuron " + j);
  const wRow = g.lin.weight[j], a = aPrev(l), b = g.lin.bias ? g.lin.bias[j] : 0;
  const z = F(g.lin, "activations")[j], act = F(g.out, "activations")[j];
  const prevName = "a[" + (l - 1) + "]";
  if (S.mode === "forward") {
    const wScale = signedScale(wRow, "weight");
    const row = h("div", { class: "mx-figrow" });
    row.appendChild(figure(weightPicture(wRow, l, j, "w[" + l + "][" + j + ",·]", wScale),
      "its " + wRow.length + " incoming weights w[" + l + "][" + j + ",k]" + (wRow.length === 784 ? " as 28×28" : ""), "mx-weights"));
    const prod = wRow.map((w, k) => w * a[k]);
    row.appendChild(figure(weightPicture(prod, l, j, "w·a", signedScale(prod, "w·a")),
      "w[" + l + "][" + j + ",k] × " + prevName + "[k] for this image"));
    body.appendChild(row);
    body.appendChild(h("div", { class: "mx-note" }, "weights: " + wScale.text + " (orange positive, purple negative)"));
    const t = h("table", { class: "mx-nums", id: "mx-neuron-numbers" });
    const add = (k, v, id) => { const tr = h("tr"); tr.appendChild(h("th", null, k)); const td = h("td", { id: id }, fmt(v)); tr.appendChild(td); t.appendChild(tr); };
    add("b[" + l + "][" + j + "]", b, "mx-val-b");
    add("z[" + l + "][" + j + "]", z, "mx-val-z");
    add(neuronName(l, j), act, "mx-val-a");
    if (last) add("softmax probability", D.probabilities[j], "mx-val-p");
    body.appendChild(t);
    // the weighted sum written out with the largest terms
    const order = range(wRow.length).sort((p, q) => Math.abs(prod[q]) - Math.abs(prod[p]));
    const shown = order.slice(0, Math.min(6, order.length));
    let rest = z - b;
    shown.forEach((k) => { rest -= prod[k]; });
    const terms = shown.map((k) => par(wRow[k]) + "×" + fmt(a[k]));
    if (order.length > shown.length) terms.push("… (" + (order.length - shown.length) + " more terms, together " + fmt(rest) + ")");
    terms.push(par(b));
    let eq = neuronName(l, j) + " = " + wrapAct(g, "w[" + l + "][" + j + "]·" + prevName + " + b[" + l + "][" + j + "]") + "\n  = " +
      wrapAct(g, terms.join(" + ")) + "\n  = " + wrapAct(g, fmt(z));
    if (g.actType === "Softmax") eq = "z[" + l + "][" + j + "] = w[" + l + "][" + j + "]·" + prevName + " + b[" + l + "][" + j + "]\n  = " +
      terms.join(" + ") + "\n  = " + fmt(z) + "\n" + neuronName(l, j) + " = softmax(z[" + l + "])[" + j + "] = e^z[" + l + "][" + j + "] / Σ_k e^z[" + l + "][k]";
    eq += "\n  = " + fmt(act);
    body.appendChild(h("div", { class: "mx-eq", id: "mx-eq" }, eq));
    if (g.actType === "Sigmoid") body.appendChild(h("div", { class: "mx-note" }, "σ(z) = 1 / (1 + e^-z) squishes any weighted sum into 0..1."));
    else if (g.actType === "ReLU") body.appendChild(h("div", { class: "mx-note" }, "ReLU(z) = max(0, z): negative sums become 0, positive ones pass unchanged."));
  } else {
    const dW = g.lin.weight_grad[j], dWb = g.lin.batch_weight_grad ? g.lin.batch_weight_grad[j] : null;
    const delta = F(g.lin, "grad")[j], dA = F(g.out, "grad")[j];
    const row = h("div", { class: "mx-figrow" });
    row.appendChild(figure(weightPicture(dW, l, j, "∂C/∂w[" + l + "][" + j + ",·]", signedScale(dW)),
      "∂C/∂w[" + l + "][" + j + ",k], this example", "mx-weights"));
    if (S.batch && dWb) row.appendChild(figure(weightPicture(dWb, l, j, "mean ∂C/∂w[" + l + "][" + j + ",·]", signedScale(dWb)),
      "mini-batch mean (N = " + D.batch.size + ")", "mx-weights-batch"));
    body.appendChild(row);
    const t = h("table", { class: "mx-nums", id: "mx-neuron-numbers" });
    const head = h("tr"); head.appendChild(h("th")); head.appendChild(h("th", null, "this example"));
    if (D.batch) head.appendChild(h("th", null, "batch mean"));
    t.appendChild(head);
    const add = (k, v, bv, id) => {
      const tr = h("tr"); tr.appendChild(h("th", null, k)); tr.appendChild(h("td", { id: id }, fmt(v)));
      if (D.batch) tr.appendChild(h("td", { id: id + "-batch" }, fmt(bv)));
      t.appendChild(tr);
    };
    const bg = (e) => (e.batch_grad ? F(e, "batch_grad")[j] : null);
    add("∂C/∂" + neuronName(l, j), dA, bg(g.out), "mx-val-dA");
    add("δ[" + l + "][" + j + "] = ∂C/∂z", delta, bg(g.lin), "mx-val-delta");
    if (g.lin.bias_grad) add("∂C/∂b[" + l + "][" + j + "]", g.lin.bias_grad[j], g.lin.batch_bias_grad ? g.lin.batch_bias_grad[j] : null, "mx-val-db");
    body.appendChild(t);
    const k = argmaxAbs(dW);
    let eq;
    if (last && D.loss_fn === "cross-entropy") {
      eq = "δ[" + l + "][" + j + "] = a[" + l + "][" + j + "] - y[" + j + "] = " + fmt(act) + " - " + fmt(D.target[j]) + " = " + fmt(delta);
    } else if (g.act && g.act.local_grad) {
      const sp = F(g.act, "local_grad")[j];
      eq = "δ[" + l + "][" + j + "] = ∂C/∂" + neuronName(l, j) + " · " + actSym(g) + "'(z[" + l + "][" + j + "]) = " + fmt(dA) + " × " + fmt(sp) + " = " + fmt(delta);
    } else {
      eq = "δ[" + l + "][" + j + "] = ∂C/∂" + neuronName(l, j) + " = " + fmt(delta) + "  (no activation)";
    }
    eq += "\n∂C/∂b[" + l + "][" + j + "] = δ[" + l + "][" + j + "] = " + fmt(delta);
    eq += "\n∂C/∂w[" + l + "][" + j + "," + k + "] = δ[" + l + "][" + j + "] · " + prevName + "[" + k + "] = " + fmt(delta) + " × " + fmt(a[k]) + " = " + fmt(dW[k]) +
      "  (its largest weight gradient)";
    body.appendChild(h("div", { class: "mx-eq", id: "mx-eq" }, eq));
    body.appendChild(h("div", { class: "mx-note" }, "Gradient descent moves every number against its gradient: a positive ∂C/∂w (orange) means this weight should go down, a negative one (purple) up."));
  }
}

// ---------------------------------------------------------------- MLP detail: matrix form
function matrixDetail(l, j) {
  const g = G[l - 1], body = clear($("mx-detail-body"));
  const nIn = inCount(l), n = g.n, a = aPrev(l);
  const fw = S.mode === "forward";
  $("mx-detail-title").textContent = fw ? "Layer " + l + " in matrix form: a[" + l + "] = " + wrapAct(g, "W[" + l + "] a[" + (l - 1) + "] + b[" + l + "]")
    : "Layer " + l + " backward: ∂C/∂W[" + l + "] = δ[" + l + "] a[" + (l - 1) + "]ᵀ";
  const ch = Math.max(2, Math.min(14, Math.floor(260 / n)));
  const cw = nIn > 100 ? 1 : Math.max(4, Math.min(12, Math.floor(200 / nIn)));
  const cssW = Math.min(nIn * cw, 200);
  const row = h("div", { class: "mx-figrow mx-matrix" });
  const sel = j === undefined || j === null ? null : j;
  const mark = sel === null ? null : [sel, null];
  const colOpts = (len, label, sym) => ({ cw: 12, ch: len === n ? ch : Math.max(1, Math.min(ch, Math.floor(260 / len))),
    cssH: len === n ? n * ch : Math.min(260, len * ch), tip: (r, q, v) => sym + "[" + r + "] = " + fmt(v), label: label });
  if (fw) {
    const Wf = g.lin.weight.flat();
    row.appendChild(figure(heat(Wf, n, nIn, signedScale(Wf), { cw: cw, ch: ch, cssW: cssW, mark: mark, label: "W[" + l + "]",
      tip: (r, q, v) => "W[" + l + "][" + r + "," + q + "] = " + fmt(v) }), "W[" + l + "]: " + n + "×" + nIn, "mx-mat-W"));
    row.appendChild(h("span", { class: "mx-op" }, "×"));
    const ap = valuesScaleVec(a, l - 1);
    row.appendChild(figure(heat(a, a.length, 1, ap, colOpts(a.length, "a[" + (l - 1) + "]", "a[" + (l - 1) + "]")), "a[" + (l - 1) + "]", "mx-mat-a"));
    row.appendChild(h("span", { class: "mx-op" }, "+"));
    const b = g.lin.bias || range(n).map(() => 0);
    row.appendChild(figure(heat(b, n, 1, signedScale(b), Object.assign(colOpts(n, "b", "b[" + l + "]"), { mark: mark })), "b[" + l + "]", "mx-mat-b"));
    row.appendChild(h("span", { class: "mx-op" }, "="));
    const z = F(g.lin, "activations");
    row.appendChild(figure(heat(z, n, 1, signedScale(z), Object.assign(colOpts(n, "z", "z[" + l + "]"), { mark: mark })), "z[" + l + "]", "mx-mat-z"));
    row.appendChild(h("span", { class: "mx-op" }, actSym(g) ? "→ " + actSym(g) : "→"));
    const act = F(g.out, "activations");
    row.appendChild(figure(heat(act, n, 1, actScale(g.out), Object.assign(colOpts(n, "a", "a[" + l + "]"), { mark: mark })), "a[" + l + "]", "mx-mat-act"));
    body.appendChild(row);
    const txt = sel === null
      ? "Each row of W[" + l + "] holds one neuron's weights; that row times the column a[" + (l - 1) + "], plus its bias, is the neuron's weighted sum z. Click a neuron to highlight its row. Hover for the numbers."
      : "Row " + sel + " of W[" + l + "] times a[" + (l - 1) + "] plus b[" + l + "][" + sel + "] = " + fmt((g.lin.bias || [0])[sel] || 0) +
        " gives z[" + l + "][" + sel + "] = " + fmt(z[sel]) + "; " + (actSym(g) || "identity") + " of it is a[" + l + "][" + sel + "] = " + fmt(act[sel]) + ".";
    body.appendChild(h("p", { class: "mx-note", id: "mx-mat-text" }, txt));
  } else {
    // δ (a column) times a[l-1]ᵀ (a row, drawn under the matrix so its entries line up
    // with the matrix columns) gives ∂C/∂W
    const delta = gradOf(g.lin);
    row.appendChild(figure(heat(delta, n, 1, signedScale(delta), Object.assign(colOpts(n, "δ", "δ[" + l + "]"), { mark: mark })), (S.batch ? "mean " : "") + "δ[" + l + "]", "mx-mat-delta"));
    row.appendChild(h("span", { class: "mx-op" }, "×"));
    const dW = g.lin[dWkey()].flat();
    const stack = h("div", { class: "mx-fig" });
    stack.appendChild(figure(heat(a, 1, a.length, valuesScaleVec(a, l - 1), { cw: cw, ch: 12, cssW: cssW,
      tip: (r, q, v) => "a[" + (l - 1) + "][" + q + "] = " + fmt(v) }), "a[" + (l - 1) + "]ᵀ (a row)", "mx-mat-aT"));
    stack.appendChild(figure(heat(dW, n, nIn, signedScale(dW), { cw: cw, ch: ch, cssW: cssW, mark: mark, label: "∂C/∂W",
      tip: (r, q, v) => "∂C/∂W[" + l + "][" + r + "," + q + "] = " + fmt(v) }), "= " + (S.batch ? "mean " : "") + "∂C/∂W[" + l + "]: " + n + "×" + nIn, "mx-mat-W"));
    row.appendChild(stack);
    body.appendChild(row);
    body.appendChild(h("p", { class: "mx-note", id: "mx-mat-text" }, S.batch
      ? "The mini-batch mean of δ aᵀ over its " + D.batch.size + " images (not the product of the means): the gradient one step of gradient descent uses."
      : "Entry (j, k) is δ[" + l + "][j] × a[" + (l - 1) + "][k]: a weight moves most where its neuron's error is large and its input is lit."));
  }
}
function valuesScaleVec(v, l) {
  return l === 0 ? actScale(LAYERS[0]) : actScale(G[l - 1].out);
}

// ---------------------------------------------------------------- the cost
function costPanel() {
  const body = clear($("mx-cost-body"));
  const out = LAYERS[LAST], a = F(out, "activations"), y = D.target, L = D.kind === "mlp" ? NL : LAST;
  const t = h("table", { class: "mx-costterms", id: "mx-cost-terms" });
  const head = h("tr");
  ["j", "a[" + L + "][j]", "y[j]", D.loss_fn === "mse" ? "(a - y)²" : "-y log a"].forEach((s) => head.appendChild(h("th", null, s)));
  t.appendChild(head);
  const terms = [];
  a.forEach((v, j) => {
    const term = D.loss_fn === "mse" ? (v - y[j]) * (v - y[j]) : (y[j] ? -Math.log(v) : 0);
    terms.push(term);
    const tr = h("tr", { class: y[j] ? "mx-target" : "" });
    [String(j), fmt(v), fmt(y[j]), fmt(term)].forEach((s) => tr.appendChild(h("td", null, s)));
    t.appendChild(tr);
  });
  let eq;
  if (D.loss_fn === "mse") {
    eq = "C = Σ_j (a[" + L + "][j] - y[j])²   (y is 1 for the label " + D.label + ", 0 elsewhere)\n  = " +
      terms.map(fmt).join(" + ") + "\n  = " + fmt(D.loss);
  } else {
    eq = "C = -Σ_j y[j] log a[" + L + "][j] = -log a[" + L + "][" + D.label + "]   (a = softmax(z), y one-hot for " + D.label + ")\n  = -log(" +
      fmt(a[D.label]) + ")\n  = " + fmt(D.loss);
  }
  body.appendChild(h("div", { class: "mx-eq", id: "mx-cost-eq" }, eq));
  body.appendChild(t);
  if (D.batch) body.appendChild(h("p", { class: "mx-note" }, "Mini-batch of " + D.batch.size + ": mean cost " + fmt(D.batch.loss) +
    ", accuracy " + pct(D.batch.accuracy) + ". Gradient descent averages the nudges of all its examples."));
}

// ---------------------------------------------------------------- steps (both kinds)
function mlpSteps() {
  const steps = [];
  const L = NL, fw = S.mode === "forward";
  if (fw) {
    G.forEach((g) => steps.push({ col: g.l, title: "a[" + g.l + "] = " + wrapAct(g, "W[" + g.l + "] a[" + (g.l - 1) + "] + b[" + g.l + "]"), body: (el) => {
      el.appendChild(vecRow("z[" + g.l + "] = W[" + g.l + "] a[" + (g.l - 1) + "] + b[" + g.l + "]", F(g.lin, "activations"), signedScale(F(g.lin, "activations")), "mx-step-z"));
      el.appendChild(vecRow("a[" + g.l + "] = " + wrapAct(g, "z[" + g.l + "]"), F(g.out, "activations"), actScale(g.out), "mx-step-a"));
    } }));
    steps.push({ col: L, title: "The prediction: the brightest output", body: (el) => {
      el.appendChild(h("p", null, "Digit " + D.prediction + " with probability " + pct(D.probabilities[D.prediction]) +
        (D.prediction === D.label ? " — the label." : "; the label is " + D.label + " (" + pct(D.probabilities[D.label]) + ").")));
      el.appendChild(vecRow("softmax probabilities", D.probabilities, actScale({ type: "Softmax", activations: D.probabilities }), "mx-step-p"));
    } });
    return steps;
  }
  const gL = G[L - 1];
  steps.push({ col: L, title: "δ[" + L + "] = ∂C/∂z[" + L + "], the error at the output", body: (el) => {
    if (D.loss_fn === "cross-entropy") {
      el.appendChild(h("div", { class: "mx-eq" }, "δ[" + L + "] = a[" + L + "] - y   (softmax and cross-entropy together)"));
      el.appendChild(vecRow("a[" + L + "]", F(gL.out, "activations"), actScale(gL.out)));
      el.appendChild(vecRow("y", D.target, actScale({ type: "Softmax", activations: D.target })));
    } else {
      el.appendChild(h("div", { class: "mx-eq" }, "δ[" + L + "] = ∂C/∂a[" + L + "] ⊙ σ'(z[" + L + "]),   ∂C/∂a[" + L + "] = 2 (a[" + L + "] - y)"));
      el.appendChild(vecRow("∂C/∂a[" + L + "]", F(gL.out, "grad"), signedScale(F(gL.out, "grad"))));
      el.appendChild(vecRow("σ'(z[" + L + "])", F(gL.out, "local_grad"), signedScale(F(gL.out, "local_grad"))));
    }
    el.appendChild(vecRow("δ[" + L + "]", F(gL.lin, "grad"), signedScale(F(gL.lin, "grad")), "mx-step-delta"));
    batchVec(el, gL.lin, "δ[" + L + "]");
  } });
  for (let l = L; l >= 1; l--) {
    const g = G[l - 1];
    steps.push({ col: l, title: "∂C/∂b[" + l + "] = δ[" + l + "],  ∂C/∂W[" + l + "] = δ[" + l + "] a[" + (l - 1) + "]ᵀ", body: (el) => {
      el.appendChild(vecRow("∂C/∂b[" + l + "] = δ[" + l + "]", g.lin.bias_grad || F(g.lin, "grad"), signedScale(g.lin.bias_grad || F(g.lin, "grad")), "mx-step-db"));
      el.appendChild(vecRow("a[" + (l - 1) + "]", aPrev(l), valuesScaleVec(null, l - 1)));
      const row = h("div", { class: "mx-figrow" });
      const nIn = inCount(l);
      const dW = g.lin.weight_grad.flat();
      const opts = (lab) => ({ cw: nIn > 100 ? 1 : 10, ch: Math.max(4, Math.min(12, Math.floor(200 / g.n))), cssW: Math.min(nIn * (nIn > 100 ? 1 : 10), 420),
        tip: (r, q, v) => lab + "[" + l + "][" + r + "," + q + "] = " + fmt(v) });
      row.appendChild(figure(heat(dW, g.n, nIn, signedScale(dW), opts("∂C/∂W")), "∂C/∂W[" + l + "], this example (" + g.n + "×" + nIn + ")", "mx-step-dW"));
      if (S.batch && g.lin.batch_weight_grad) {
        const bW = g.lin.batch_weight_grad.flat();
        row.appendChild(figure(heat(bW, g.n, nIn, signedScale(bW), opts("mean ∂C/∂W")), "mini-batch mean (N = " + D.batch.size + ")", "mx-step-dW-batch"));
      }
      el.appendChild(row);
    } });
    if (l > 1) {
      const gp = G[l - 2];
      steps.push({ col: l - 1, title: "δ[" + (l - 1) + "] = (W[" + l + "]ᵀ δ[" + l + "]) ⊙ " + (actSym(gp) || "1") + "'(z[" + (l - 1) + "])", body: (el) => {
        el.appendChild(vecRow("W[" + l + "]ᵀ δ[" + l + "] = ∂C/∂a[" + (l - 1) + "]", F(gp.out, "grad"), signedScale(F(gp.out, "grad")), "mx-step-dA"));
        if (gp.act && gp.act.local_grad) el.appendChild(vecRow(actSym(gp) + "'(z[" + (l - 1) + "])", F(gp.act, "local_grad"), signedScale(F(gp.act, "local_grad")), "mx-step-sp"));
        el.appendChild(vecRow("δ[" + (l - 1) + "]", F(gp.lin, "grad"), signedScale(F(gp.lin, "grad")), "mx-step-delta"));
        batchVec(el, gp.lin, "δ[" + (l - 1) + "]");
      } });
    }
  }
  steps.push({ col: null, title: "One step of gradient descent: W[l] ← W[l] - η ∂C/∂W[l], averaged over the mini-batch", body: (el) => {
    el.appendChild(h("p", null, D.batch
      ? "Gradient descent does not follow this one example: it averages these nudges over a mini-batch (here " + D.batch.size +
        " images, mean cost " + fmt(D.batch.loss) + "). Switch on “Whole batch” to see that average beside this example's."
      : "Gradient descent averages these nudges over a mini-batch of examples; no batch was given to this page."));
  } });
  return steps;
}
function batchVec(el, e, name) {
  if (S.batch && e.batch_grad) el.appendChild(vecRow("mini-batch mean of " + name + " (N = " + D.batch.size + ")", F(e, "batch_grad"), signedScale(F(e, "batch_grad")), "mx-step-batch"));
}
const CNN_TEXT = {
  Input: ["The input: 28×28 pixels, one channel.", "∂C/∂x, the saliency map: which pixels, made brighter, would raise (orange) or lower (purple) the cost."],
  Conv2d: ["Each kernel slides over all input maps (stride, padding) and makes one map: a weighted sum plus a bias at every position.",
           "Back through the convolution: each output gradient spreads over the patch it came from (times the kernel); each kernel's gradient sums patch × output gradient over all positions."],
  ReLU: ["ReLU keeps positive values and sets negatives to 0.", "Back through ReLU: the gradient passes where the input was positive, and is 0 elsewhere."],
  Sigmoid: ["σ squishes every value into 0..1.", "Back through σ: times σ'(z) = σ(z)(1 - σ(z))."],
  Tanh: ["tanh squishes every value into -1..1.", "Back through tanh: times 1 - tanh(z)²."],
  MaxPool2d: ["Max pooling keeps the largest value of each window.", "Back through max pooling: each window's gradient goes to the input that won; the others get 0."],
  AvgPool2d: ["Average pooling keeps each window's mean.", "Back through average pooling: each window's gradient is shared equally by its inputs."],
  Flatten: ["Flatten lays the maps out as one vector, map after map, row after row.", "Back through flatten: the vector's gradient is folded back into maps."],
  Linear: ["A fully connected layer: z = W a + b.", "Back through a fully connected layer: ∂C/∂a = Wᵀ δ, ∂C/∂W = δ aᵀ."],
  Dropout: ["Dropout is off after training: the identity.", "Dropout is off: the gradient passes unchanged."],
  Softmax: ["Softmax turns the ten scores into probabilities that sum to 1.", "The cost's gradient with respect to the probabilities: -1/a at the label, 0 elsewhere (cross-entropy)."],
  Sigmoid_out: ["σ turns each score into an output in 0..1 (the lectures' outputs).", "The cost's gradient with respect to the outputs: 2 (a - y)."],
};
function cnnSteps() {
  const fw = S.mode === "forward";
  const order = range(LAYERS.length).filter((i) => LAYERS[i].type !== "Dropout");
  if (!fw) order.reverse();
  return order.map((i) => {
    const e = LAYERS[i];
    const key = e.type === "Sigmoid" && i === LAST ? "Sigmoid_out" : e.type;
    return { col: i, title: (fw ? "" : "∂C/∂ ") + layerTitle(i), body: (el) => {
      el.appendChild(h("p", null, (CNN_TEXT[key] || ["", ""])[fw ? 0 : 1]));
      if (!fw && e.type === "Conv2d") kernelGrads(el, i);
      if (!fw && i === 0) saliency(el);
      if (e.shape.length === 1 && e.shape[0] <= 16) el.appendChild(vecRow(fw ? "values" : "∂C/∂(values)", valuesOf(e), valueScale(e)));
    } };
  });
}
function renderSteps() {
  if (!S.steps) S.steps = D.kind === "mlp" ? mlpSteps() : cnnSteps();
  const steps = S.steps;
  S.step = Math.max(0, Math.min(steps.length - 1, S.step));
  const st = steps[S.step];
  $("mx-step-counter").textContent = (S.step + 1) + " / " + steps.length;
  $("mx-step-title").textContent = st.title;
  $("mx-step-prev").disabled = S.step === 0;
  $("mx-step-next").disabled = S.step === steps.length - 1;
  const body = clear($("mx-step-body"));
  st.body(body);
  highlightColumn(st.col);
}
function highlightColumn(col) {
  if (D.kind === "mlp") (M.bg || []).forEach((r, i) => r.parentNode && r.setAttribute("class", "mx-colbg" + (i === col ? " mx-current" : "")));
  else document.querySelectorAll(".mx-col").forEach((c) => c.classList.toggle("mx-current", Number(c.dataset.index) === col));
}
function stepBy(d) { S.step += d; renderSteps(); }

// ---------------------------------------------------------------- CNN drawing
function layerTitle(i) {
  const e = LAYERS[i];
  const name = i === 0 ? "the input a[0]" : i === LAST ? "the output a[" + i + "]" : "a[" + i + "]";
  return name + ": " + (i === 0 ? "" : e.type + " ") + e.shape.join("×");
}
const C = { cols: [], maps: {} };
function drawCNN() {
  const view = clear($("mx-view"));
  const row = h("div", { class: "mx-cnn", id: "mx-cnn" });
  C.maps = {}; C.strips = {}; C.scales = {};
  LAYERS.forEach((e, i) => {
    if (e.type === "Dropout") return;
    const col = h("div", { class: "mx-col", id: "mx-col-" + i });
    col.dataset.index = String(i);
    const head = h("div", { class: "mx-colhead", tabindex: 0, role: "button", id: "mx-colhead-" + i },
      "a[" + i + "] " + (i === 0 ? "input" : i === LAST ? "output" : e.type) + "\n" + e.shape.join("×"));
    head.style.whiteSpace = "pre";
    activate(head, () => select({ kind: "column", li: i }));
    col.appendChild(head);
    if (e.shape.length === 3) {
      const [ch, H, Wd] = e.shape;
      const disp = ch <= 4 ? 84 : ch <= 8 ? 48 : ch <= 16 ? 36 : 29;
      const perCol = Math.ceil(ch / Math.ceil(ch / 8));  // at most 8 maps per column
      const grid = h("div", { class: "mx-maps" });
      grid.style.gridTemplateColumns = "repeat(" + Math.ceil(ch / perCol) + ", " + disp + "px)";
      grid.style.gridAutoFlow = "column";
      grid.style.gridTemplateRows = "repeat(" + perCol + ", " + disp + "px)";
      C.maps[i] = [];
      for (let c = 0; c < ch; c++) {
        const cv = h("canvas", { class: "mx-map", id: "mx-map-" + i + "-" + c, tabindex: 0, role: "button",
          "aria-label": e.type + " map " + c + " (" + H + "×" + Wd + ")" });
        cv.width = Wd; cv.height = H; cv.style.width = disp + "px"; cv.style.height = disp + "px";
        activate(cv, () => select({ kind: "map", li: i, c: c }));
        hoverable(cv, (fx, fy) => {
          const r = Math.min(H - 1, Math.floor(fy * H)), q = Math.min(Wd - 1, Math.floor(fx * Wd));
          const v = valuesOf(e)[(c * H + r) * Wd + q];
          return (S.mode === "forward" ? "" : "∂C/∂") + "a[" + e.idx + "][" + c + "][" + r + "," + q + "] = " + fmt(v);
        });
        grid.appendChild(cv); C.maps[i].push(cv);
      }
      col.appendChild(grid);
    } else if (e.shape[0] <= 16) {
      const list = h("div", { id: "mx-vec-" + i });
      C.strips[i] = list;
      col.appendChild(list);
    } else {
      const n = e.shape[0], cssH = Math.min(330, Math.max(120, n * 2));
      const cv = h("canvas", { class: "mx-strip", id: "mx-strip-" + i, tabindex: 0, role: "button", "aria-label": e.type + " vector of " + n });
      cv.width = 1; cv.height = n; cv.style.width = "18px"; cv.style.height = cssH + "px";
      activate(cv, () => select({ kind: "column", li: i }));
      hoverable(cv, (fx, fy) => {
        const k = Math.min(n - 1, Math.floor(fy * n));
        return (S.mode === "forward" ? "" : "∂C/∂") + "v[" + k + "] = " + fmt(valuesOf(e)[k]) + flattenOrigin(i, k);
      });
      C.strips[i] = cv;
      col.appendChild(cv);
    }
    const sc = h("div", { class: "mx-colscale", id: "mx-colscale-" + i });
    col.appendChild(sc);
    row.appendChild(col);
  });
  view.appendChild(row);
}
function flattenOrigin(i, k) {
  const p = LAYERS[i - 1];
  if (LAYERS[i].type !== "Flatten" || !p || p.shape.length !== 3) return "";
  const [, H, Wd] = p.shape, c = Math.floor(k / (H * Wd)), r = Math.floor((k % (H * Wd)) / Wd), q = k % Wd;
  return "  = a[" + p.idx + "][" + c + "][" + r + "," + q + "]";
}
function paintCanvas(cv, values, offset, scale) {
  const g = cv.getContext("2d"), img = g.createImageData(cv.width, cv.height);
  for (let k = 0; k < cv.width * cv.height; k++) {
    const c = scale.rgb(values[offset + k]);
    img.data[4 * k] = c[0]; img.data[4 * k + 1] = c[1]; img.data[4 * k + 2] = c[2]; img.data[4 * k + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}
function paintCNN() {
  LAYERS.forEach((e, i) => {
    if (e.type === "Dropout") return;
    const sc = valueScale(e), vals = valuesOf(e);
    $("mx-colscale-" + i).textContent = (S.mode === "forward" ? "" : "∂C/∂: ") + sc.text;
    if (C.maps[i]) C.maps[i].forEach((cv, c) => paintCanvas(cv, vals, c * cv.width * cv.height, sc));
    else if (C.strips[i] && C.strips[i].tagName === "CANVAS") paintCanvas(C.strips[i], vals, 0, sc);
    else if (C.strips[i]) {
      const list = clear(C.strips[i]);
      vals.forEach((v, j) => {
        const r = h("div", { class: "mx-outrow" + (i === LAST && j === D.prediction ? " mx-pred" : ""), id: "mx-cnn-out-" + i + "-" + j });
        const sw = h("span", null, "\u00a0\u00a0\u00a0");
        sw.style.background = sc.color(v); sw.style.border = "1px solid #999"; sw.style.marginRight = "4px";
        r.appendChild(sw);
        let text = (i === LAST ? j + "  " : "[" + j + "] ") + (i === LAST && S.mode === "forward" && e.type === "Softmax" ? pct(v) : fmt(v));
        if (i === LAST && S.mode === "forward") text += j === D.prediction ? (j === D.label ? " ◀ prediction, label" : " ◀ prediction") : (j === D.label ? " ◀ label" : "");
        r.appendChild(h("span", null, text));
        list.appendChild(r);
      });
    }
  });
}

// ---------------------------------------------------------------- CNN details
function mapAt(e, key, c, r, q) { const [, H, Wd] = e.shape; return F(e, key)[(c * H + r) * Wd + q]; }
function defaultPixel(e, c) {
  const [, H, Wd] = e.shape, v = F(e, "activations");
  let best = -Infinity, at = [Math.floor(H / 2), Math.floor(Wd / 2)];
  for (let r = 0; r < H; r++) for (let q = 0; q < Wd; q++) { const x = v[(c * H + r) * Wd + q]; if (x > best) { best = x; at = [r, q]; } }
  return at;
}
// The input map with its padding, the window of output pixel (r, q) outlined.
function paddedPicture(prev, cin, kh, kw, sh, swd, ph, pw, r, q, id) {
  const [, H, Wd] = prev.shape, PH = H + 2 * ph, PW = Wd + 2 * pw;
  const cell = Math.max(6, Math.min(16, Math.floor(300 / Math.max(PH, PW))));
  const cv = h("canvas", { id: id, class: "mx-heat", "aria-label": "input map with padding" });
  cv.width = PW * cell; cv.height = PH * cell;
  const g = cv.getContext("2d"), sc = actScale(prev);
  for (let y = 0; y < PH; y++) for (let x = 0; x < PW; x++) {
    const iy = y - ph, ix = x - pw;
    if (iy < 0 || ix < 0 || iy >= H || ix >= Wd) {
      g.fillStyle = "#e4e4e4"; g.fillRect(x * cell, y * cell, cell, cell);
      g.strokeStyle = "#b0b0b0"; g.beginPath(); g.moveTo(x * cell, (y + 1) * cell); g.lineTo((x + 1) * cell, y * cell); g.stroke();
    } else {
      g.fillStyle = sc.color(mapAt(prev, "activations", cin, iy, ix)); g.fillRect(x * cell, y * cell, cell, cell);
    }
  }
  g.strokeStyle = "#d7191c"; g.lineWidth = 2;
  g.strokeRect(q * swd * cell + 1, r * sh * cell + 1, kw * cell - 2, kh * cell - 2);
  hoverable(cv, (fx, fy) => {
    const y = Math.floor(fy * PH) - ph, x = Math.floor(fx * PW) - pw;
    if (y < 0 || x < 0 || y >= H || x >= Wd) return "padding (0)";
    return "a[" + prev.idx + "][" + cin + "][" + y + "," + x + "] = " + fmt(mapAt(prev, "activations", cin, y, x));
  });
  return cv;
}
function outputPicture(e, c, r, q, key, id) {
  const [, H, Wd] = e.shape;
  const cell = Math.max(6, Math.min(16, Math.floor(300 / Math.max(H, Wd))));
  const vals = F(e, key).slice(c * H * Wd, (c + 1) * H * Wd);
  const sc = key === "activations" ? actScale(e) : signedScale(F(e, key));
  const cv = heat(vals, H, Wd, sc, { cw: cell, ch: cell, mark: [r, q], label: "output map; arrow keys move the pixel",
    tip: (y, x, v) => (key === "activations" ? "" : "∂C/∂") + "a[" + e.idx + "][" + c + "][" + y + "," + x + "] = " + fmt(v) });
  cv.id = id; cv.tabIndex = 0; cv.classList.add("mx-outmap");
  cv.addEventListener("click", (ev) => {
    const [fx, fy] = fraction(cv, ev);
    movePixel(Math.max(0, Math.min(H - 1, Math.floor(fy * H))), Math.max(0, Math.min(Wd - 1, Math.floor(fx * Wd))));
  });
  cv.addEventListener("keydown", (ev) => {
    const d = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] }[ev.key];
    if (!d) return;
    ev.preventDefault(); ev.stopPropagation();
    movePixel(Math.max(0, Math.min(H - 1, S.sel.r + d[0])), Math.max(0, Math.min(Wd - 1, S.sel.q + d[1])));
  });
  return cv;
}
function movePixel(r, q) {
  S.sel.r = r; S.sel.q = q;
  renderDetail();
  const out = $("mx-outmap");
  if (out) out.focus();
}
function numTable(rows, cols, val, cls, id) {
  const t = h("table", { class: "mx-nums" });
  if (id) t.id = id;
  for (let y = 0; y < rows; y++) {
    const tr = h("tr");
    for (let x = 0; x < cols; x++) {
      const [text, c] = val(y, x);
      tr.appendChild(h("td", c ? { class: c } : null, text));
    }
    t.appendChild(tr);
  }
  return t;
}
function slideControls(e) {
  const bar = h("div", { class: "mx-figrow" });
  const play = h("button", { type: "button", class: "mx-small", id: "mx-slide" }, S.slide ? "❚❚ Stop" : "▶ Slide the window");
  play.addEventListener("click", () => {
    if (S.slide) { clearInterval(S.slide); S.slide = null; renderDetail(); return; }
    const [, H, Wd] = e.shape;
    S.slide = setInterval(() => {
      if (!S.sel || S.sel.kind !== "map") { clearInterval(S.slide); S.slide = null; return; }
      let q = S.sel.q + 1, r = S.sel.r;
      if (q >= Wd) { q = 0; r = (r + 1) % H; }
      S.sel.r = r; S.sel.q = q; renderDetail();
    }, 160);
    renderDetail();
  });
  bar.appendChild(play);
  bar.appendChild(h("span", { class: "mx-note" }, "Click the output map or use its arrow keys to pick a pixel."));
  return bar;
}
function convDetail(i, c) {
  const e = LAYERS[i], prev = LAYERS[i - 1];
  let body = clear($("mx-detail-body"));
  const [kh, kw] = e.kernel_size, [sh, swd] = e.stride, [ph, pw] = e.padding;
  const [cin_n, H, Wd] = prev.shape, [, OH, OW] = e.shape;
  if (S.sel.r === undefined) [S.sel.r, S.sel.q] = defaultPixel(e, c);
  const r = S.sel.r, q = S.sel.q;
  const K = e.weight[c], bias = e.bias ? e.bias[c] : 0;
  // the partial sum of every input channel at this pixel
  const partial = [];
  for (let ci = 0; ci < cin_n; ci++) {
    let s = 0;
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      const iy = r * sh + y - ph, ix = q * swd + x - pw;
      if (iy >= 0 && ix >= 0 && iy < H && ix < Wd) s += mapAt(prev, "activations", ci, iy, ix) * K[ci][y][x];
    }
    partial.push(s);
  }
  if (S.sel.cin === undefined || S.sel.cin >= cin_n) S.sel.cin = argmaxAbs(partial);
  const cin = S.sel.cin;
  $("mx-detail-title").textContent = "Convolution: map " + c + " of layer " + e.idx + " (" + OH + "×" + OW + ")";
  body.appendChild(h("p", { class: "mx-note", id: "mx-conv-geometry" }, "kernel " + kh + "×" + kw + ", stride " + sh + ", padding " + ph +
    ": output side ⌊(" + H + " + 2·" + ph + " - " + kh + ") / " + sh + "⌋ + 1 = " + OH + ". Padding cells are hatched."));
  if (cin_n > 1) {
    const lab = h("label", null, "input channel ");
    const s = h("select", { id: "mx-cin" });
    for (let ci = 0; ci < cin_n; ci++) { const o = h("option", { value: ci }, String(ci)); if (ci === cin) o.selected = true; s.appendChild(o); }
    s.addEventListener("change", () => { S.sel.cin = Number(s.value); renderDetail(); });
    lab.appendChild(s);
    body.appendChild(lab);
  }
  if (S.mode === "backward") return convBackDetail(body, e, prev, i, c, cin, r, q);
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(figure(paddedPicture(prev, cin, kh, kw, sh, swd, ph, pw, r, q, "mx-conv-input"), "input a[" + prev.idx + "][" + cin + "] padded by " + ph));
  row.appendChild(figure(outputPicture(e, c, r, q, "activations", "mx-outmap"), "output a[" + e.idx + "][" + c + "], pixel (" + r + ", " + q + ")"));
  body.appendChild(row);
  const side = h("div");
  row.appendChild(side);
  body = side;
  body.appendChild(slideControls(e));
  const patch = (y, x) => { const iy = r * sh + y - ph, ix = q * swd + x - pw; return iy < 0 || ix < 0 || iy >= H || ix >= Wd ? null : mapAt(prev, "activations", cin, iy, ix); };
  const f = h("div", { class: "mx-figrow" });
  f.appendChild(figure(numTable(kh, kw, (y, x) => { const v = patch(y, x); return v === null ? ["0", "mx-pad"] : [fmt(v), ""]; }, null, "mx-conv-patch"), "patch"));
  f.appendChild(h("span", { class: "mx-op" }, "⊙"));
  f.appendChild(figure(numTable(kh, kw, (y, x) => [fmt(K[cin][y][x]), ""], null, "mx-conv-kernel"), "kernel K[" + e.idx + "][" + c + "," + cin + "]"));
  f.appendChild(h("span", { class: "mx-op" }, "="));
  f.appendChild(figure(numTable(kh, kw, (y, x) => { const v = patch(y, x); return v === null ? ["0", "mx-pad"] : [fmt(v * K[cin][y][x]), ""]; }, null, "mx-conv-products"), "products"));
  body.appendChild(f);
  const value = mapAt(e, "activations", c, r, q);
  const total = partial.reduce((s, v) => s + v, 0);
  let eq = "Σ products (channel " + cin + ") = " + fmt(partial[cin]);
  if (cin_n > 1) eq += "\nΣ over all " + cin_n + " input channels = " + partial.map(fmt).join(" + ") + "\n  = " + fmt(total);
  eq += "\nsum + bias = " + fmt(total) + " + " + par(bias) + " = " + fmt(value) + "  = a[" + e.idx + "][" + c + "][" + r + "," + q + "]";
  body.appendChild(h("div", { class: "mx-eq", id: "mx-conv-eq" }, eq));
  const sums = h("span", { id: "mx-conv-sum", hidden: "" }, String(total));
  body.appendChild(sums);
  body.appendChild(h("span", { id: "mx-conv-value", hidden: "" }, String(value)));
}
function convBackDetail(body, e, prev, i, c, cin, r, q) {
  const [kh, kw] = e.kernel_size;
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(figure(outputPicture(e, c, r, q, gradKey(e), "mx-outmap"), (S.batch ? "mean " : "") + "∂C/∂a[" + e.idx + "][" + c + "]"));
  const gk = (key) => (y, x) => [fmt(e[key][c][cin][y][x]), ""];
  row.appendChild(figure(numTable(kh, kw, gk("weight_grad"), null, "mx-conv-kgrad"), "∂C/∂K[" + e.idx + "][" + c + "," + cin + "], this example"));
  if (S.batch && e.batch_weight_grad) row.appendChild(figure(numTable(kh, kw, gk("batch_weight_grad"), null, "mx-conv-kgrad-batch"), "mini-batch mean"));
  body.appendChild(row);
  const db = e.bias_grad ? e.bias_grad[c] : null;
  body.appendChild(h("div", { class: "mx-eq", id: "mx-conv-eq" },
    "∂C/∂K[" + e.idx + "][" + c + "," + cin + "][u,v] = Σ over output pixels (i,j) of ∂C/∂a[" + e.idx + "][" + c + "][i,j] × input[" + cin + "][i·s+u-p, j·s+v-p]\n" +
    "∂C/∂b[" + e.idx + "][" + c + "] = Σ of the map's gradient = " + fmt(db) +
    (S.batch && e.batch_bias_grad ? "   (mini-batch mean " + fmt(e.batch_bias_grad[c]) + ")" : "")));
}
function poolDetail(i, c) {
  const e = LAYERS[i], prev = LAYERS[i - 1];
  let body = clear($("mx-detail-body"));
  const [kh, kw] = e.kernel_size, [sh, swd] = e.stride, [ph, pw] = e.padding;
  const [, H, Wd] = prev.shape, [, OH, OW] = e.shape;
  if (S.sel.r === undefined) [S.sel.r, S.sel.q] = defaultPixel(e, c);
  const r = S.sel.r, q = S.sel.q;
  const isMax = e.type === "MaxPool2d";
  $("mx-detail-title").textContent = (isMax ? "Max" : "Average") + " pooling: map " + c + " of layer " + e.idx + " (" + OH + "×" + OW + ")";
  body.appendChild(h("p", { class: "mx-note" }, "window " + kh + "×" + kw + ", stride " + sh + (ph ? ", padding " + ph : "") + ": " + H + "×" + Wd + " → " + OH + "×" + OW +
    (isMax ? ". Each output keeps its window's largest input." : ". Each output is its window's mean.")));
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(figure(paddedPicture(prev, c, kh, kw, sh, swd, ph, pw, r, q, "mx-pool-input"), "input a[" + prev.idx + "][" + c + "]"));
  row.appendChild(figure(outputPicture(e, c, r, q, S.mode === "forward" ? "activations" : gradKey(e), "mx-outmap"), (S.mode === "forward" ? "" : "∂C/∂") + "a[" + e.idx + "][" + c + "], pixel (" + r + ", " + q + ")"));
  body.appendChild(row);
  const side = h("div");
  row.appendChild(side);
  body = side;
  body.appendChild(slideControls(e));
  const win = [];
  let best = -Infinity, bestAt = null;
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    const iy = r * sh + y - ph, ix = q * swd + x - pw;
    const inside = iy >= 0 && ix >= 0 && iy < H && ix < Wd;
    const v = inside ? mapAt(prev, "activations", c, iy, ix) : null;
    win.push(v);
    if (inside && v > best) { best = v; bestAt = [y, x]; }
  }
  body.appendChild(figure(numTable(kh, kw, (y, x) => {
    const v = win[y * kw + x];
    if (v === null) return [isMax ? "-inf" : "0", "mx-pad"];
    return [fmt(v), isMax && bestAt && bestAt[0] === y && bestAt[1] === x ? "mx-win" : ""];
  }, null, "mx-pool-window"), isMax ? "the window; the winner is outlined" : "the window"));
  const value = mapAt(e, "activations", c, r, q);
  let eq = (isMax ? "max" : "mean") + "(" + win.map((v) => v === null ? (isMax ? "-inf" : "0") : fmt(v)).join(", ") + ") = " + fmt(value) +
    "  = a[" + e.idx + "][" + c + "][" + r + "," + q + "]";
  if (isMax && bestAt) eq += "\nwinner: input (" + (r * sh + bestAt[0] - ph) + ", " + (q * swd + bestAt[1] - pw) + ")";
  if (S.mode === "backward") {
    const gv = mapAt(e, gradKey(e), c, r, q);
    eq += "\nbackward: ∂C/∂(this output) = " + fmt(gv) + (isMax ? " goes to the winner only; the other inputs of the window get 0 from it." : " is shared equally: " + fmt(gv / (kh * kw)) + " each.");
  }
  body.appendChild(h("div", { class: "mx-eq", id: "mx-pool-eq" }, eq));
  if (bestAt) body.appendChild(h("span", { id: "mx-pool-winner", hidden: "" }, (r * sh + bestAt[0] - ph) + "," + (q * swd + bestAt[1] - pw)));
}
function elementwiseDetail(i, c) {
  const e = LAYERS[i], prev = LAYERS[i - 1], body = clear($("mx-detail-body"));
  const [, H, Wd] = e.shape;
  if (S.sel.r === undefined) [S.sel.r, S.sel.q] = defaultPixel(e, c);
  const r = S.sel.r, q = S.sel.q;
  $("mx-detail-title").textContent = e.type + ": map " + c + " of layer " + e.idx + " (" + H + "×" + Wd + ")";
  const key = S.mode === "forward" ? "activations" : gradKey(e);
  const row = h("div", { class: "mx-figrow" });
  if (prev.shape.length === 3) {
    const pv = F(prev, S.mode === "forward" ? "activations" : gradKey(prev)).slice(c * H * Wd, (c + 1) * H * Wd);
    const cell = Math.max(6, Math.min(16, Math.floor(300 / Math.max(H, Wd))));
    row.appendChild(figure(heat(pv, H, Wd, S.mode === "forward" ? actScale(prev) : signedScale(F(prev, gradKey(prev))), { cw: cell, ch: cell, mark: [r, q],
      tip: (y, x, v) => "input [" + y + "," + x + "] = " + fmt(v) }), (S.mode === "forward" ? "" : "∂C/∂") + "input a[" + prev.idx + "][" + c + "]"));
  }
  row.appendChild(figure(outputPicture(e, c, r, q, key, "mx-outmap"), (S.mode === "forward" ? "" : "∂C/∂") + "a[" + e.idx + "][" + c + "]"));
  body.appendChild(row);
  const zin = mapAt(prev, "activations", c, r, q), out = mapAt(e, "activations", c, r, q);
  const sym = { ReLU: "max(0, ", Sigmoid: "σ(", Tanh: "tanh(" }[e.type] || "(";
  let eq = "a[" + e.idx + "][" + c + "][" + r + "," + q + "] = " + sym + fmt(zin) + ") = " + fmt(out);
  if (S.mode === "backward") eq += "\n∂C/∂(input) = ∂C/∂(output) × local derivative = " + fmt(mapAt(e, "grad", c, r, q)) + " × " +
    fmt(e.local_grad ? mapAt(e, "local_grad", c, r, q) : 1) + " = " + fmt(mapAt(prev, "grad", c, r, q));
  body.appendChild(h("div", { class: "mx-eq", id: "mx-elem-eq" }, eq));
}
function columnDetail(i) {
  const e = LAYERS[i], body = clear($("mx-detail-body"));
  $("mx-detail-title").textContent = layerTitle(i);
  const key = e.type === "Sigmoid" && i === LAST ? "Sigmoid_out" : e.type;
  body.appendChild(h("p", null, (CNN_TEXT[key] || ["", ""])[S.mode === "forward" ? 0 : 1]));
  if (e.type === "Flatten") return flattenDetail(body, i);
  if (e.shape.length === 3) { body.appendChild(h("p", { class: "mx-note" }, "Click one of its maps to look inside.")); return; }
  const vals = valuesOf(e);
  if (e.type === "Linear" && LAYERS[i - 1]) body.appendChild(h("p", { class: "mx-note" }, "z = W a + b with W of shape " + e.shape[0] + "×" + LAYERS[i - 1].shape.join("×") + "."));
  body.appendChild(vecRow((S.mode === "forward" ? "" : "∂C/∂") + e.type + " output", vals, valueScale(e), "mx-col-vec"));
}
function flattenDetail(body, i) {
  const e = LAYERS[i], p = LAYERS[i - 1];
  if (p.shape.length !== 3) return;
  const [ch, H, Wd] = p.shape;
  body.appendChild(h("p", { class: "mx-eq", id: "mx-flatten-eq" }, ch + " maps of " + H + "×" + Wd + " → one vector of " + ch * H * Wd +
    " numbers:\nv[c·" + H * Wd + " + i·" + Wd + " + j] = a[" + p.idx + "][c][i,j]"));
  const vals = valuesOf(e), sc = valueScale(e);
  const row = h("div", { class: "mx-figrow" });
  const shown = Math.min(ch, 4);
  for (let c = 0; c < shown; c++) {
    const part = vals.slice(c * H * Wd, (c + 1) * H * Wd);
    row.appendChild(figure(heat(part, H, Wd, sc, { cw: 10, ch: 10, tip: (y, x, v) => "a[" + p.idx + "][" + c + "][" + y + "," + x + "] = v[" + (c * H * Wd + y * Wd + x) + "] = " + fmt(v) }),
      "map " + c + " → v[" + c * H * Wd + "…" + ((c + 1) * H * Wd - 1) + "]"));
  }
  if (ch > shown) row.appendChild(h("span", { class: "mx-op" }, "… " + (ch - shown) + " more maps"));
  body.appendChild(row);
  body.appendChild(figure(heat(vals.slice(0, shown * H * Wd), 1, shown * H * Wd, sc, { cw: 3, ch: 16, cssW: Math.min(640, 3 * shown * H * Wd),
    tip: (y, k, v) => "v[" + k + "] = " + fmt(v) + flattenOrigin(i, k) }), "the same numbers in one row: v[0…" + (shown * H * Wd - 1) + "]"));
}
function kernelGrads(el, i) {
  const e = LAYERS[i];
  const [O, Ci, kh, kw] = [e.weight.length, e.weight[0].length, e.kernel_size[0], e.kernel_size[1]];
  const make = (key, caption, id) => {
    const vals = F(e, key), sc = signedScale(vals);
    // columns: output maps; rows: input maps; each kernel a kh x kw block, blank gaps between
    const rows = Ci * (kh + 1), cols = O * (kw + 1);
    const grid = new Array(rows * cols).fill(null);
    for (let o = 0; o < O; o++) for (let c = 0; c < Ci; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      grid[(c * (kh + 1) + y) * cols + o * (kw + 1) + x] = vals[((o * Ci + c) * kh + y) * kw + x];
    }
    const cell = Math.max(2, Math.min(10, Math.floor(560 / cols), Math.floor(360 / rows)));
    const cv = heat(grid, rows, cols, sc, { cw: cell, ch: cell, label: caption,
      tip: (r, q) => {
        const c = Math.floor(r / (kh + 1)), y = r % (kh + 1), o = Math.floor(q / (kw + 1)), x = q % (kw + 1);
        if (y === kh || x === kw) return null;
        return "∂C/∂K[" + e.idx + "][" + o + "," + c + "][" + y + "," + x + "] = " + fmt(vals[((o * Ci + c) * kh + y) * kw + x]);
      } });
    return figure(cv, caption + " (columns: output maps, rows: input maps; " + sc.text + ")", id);
  };
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(make("weight_grad", "∂C/∂K[" + e.idx + "], this example", "mx-kgrad-" + i));
  if (S.batch && e.batch_weight_grad) row.appendChild(make("batch_weight_grad", "mini-batch mean (N = " + D.batch.size + ")", "mx-kgrad-batch-" + i));
  el.appendChild(row);
}
function saliency(el) {
  const e = LAYERS[0], g = gradOf(e), sc = signedScale(g);
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(figure(heat(F(e, "activations"), 28, 28, actScale(e), { cw: 6, ch: 6 }), "the input"));
  row.appendChild(figure(heat(g, 28, 28, sc, { cw: 6, ch: 6, tip: (r, q, v) => "∂C/∂x[" + r + "," + q + "] = " + fmt(v) }), (S.batch ? "mini-batch mean " : "") + "∂C/∂x (" + sc.text + ")", "mx-saliency"));
  el.appendChild(row);
}

// ---------------------------------------------------------------- selection, refresh
function select(sel) {
  if (S.slide) { clearInterval(S.slide); S.slide = null; }
  if (D.kind === "mlp" && sel.kind === "layer" && S.sel && S.sel.kind === "neuron" && S.sel.l === sel.l) sel.j = S.sel.j;
  S.sel = sel;
  renderDetail();
}
function renderDetail() {
  document.querySelectorAll(".mx-selected").forEach((x) => x.classList.remove("mx-selected"));
  const sel = S.sel;
  if (!sel) {
    $("mx-detail-title").textContent = D.kind === "mlp" ? "Click a neuron or a layer" : "Click a map or a layer";
    clear($("mx-detail-body")).appendChild(h("p", { class: "mx-note" }, D.kind === "mlp"
      ? "A neuron shows its weights and its weighted sum with the real numbers; a layer's header shows the layer in matrix form."
      : "A convolution map shows its kernel sliding over the input; a pooling map shows each window's winner; the flatten header shows how the maps become one vector."));
    return;
  }
  if (D.kind === "mlp") {
    if (sel.kind === "neuron") { $("mx-n-" + sel.l + "-" + sel.j).classList.add("mx-selected"); neuronDetail(sel.l, sel.j); }
    else { $("mx-layer-" + sel.l).classList.add("mx-selected"); matrixDetail(sel.l, sel.j); }
    return;
  }
  if (sel.kind === "map") {
    $("mx-map-" + sel.li + "-" + sel.c).classList.add("mx-selected");
    const t = LAYERS[sel.li].type;
    if (t === "Conv2d") convDetail(sel.li, sel.c);
    else if (t === "MaxPool2d" || t === "AvgPool2d") poolDetail(sel.li, sel.c);
    else if (sel.li === 0) { $("mx-detail-title").textContent = "The input image"; clear($("mx-detail-body")); saliency($("mx-detail-body")); }
    else elementwiseDetail(sel.li, sel.c);
  } else {
    $("mx-col-" + sel.li).classList.add("mx-selected");
    columnDetail(sel.li);
  }
}
function legend() {
  const f = clear($("mx-legend"));
  const fw = S.mode === "forward";
  f.appendChild(scaleKey({ kind: "seq", text: "0 → 1 (or the layer's largest value, under each column)" }, "activation (lit = large)"));
  f.appendChild(scaleKey({ kind: "div", text: "-m … 0 … +m, m = the largest |value| shown" }, fw ? "signed values (weights, sums)" : "gradients ∂C/∂(·)"));
  if (D.kind === "mlp") {
    const k = h("span", { class: "mx-legend-item" });
    const sw = (c) => { const s = h("span", null, "\u00a0\u00a0\u00a0\u00a0\u00a0"); s.style.borderTop = "3px solid " + rgb(c); return s; };
    k.appendChild(h("span", null, fw ? "connections (" + ($("mx-rank").value === "wa" ? "|w·a|" : "|w|") + "):" : "connections (∂C/∂w):"));
    k.appendChild(sw(POS)); k.appendChild(h("span", null, "positive"));
    k.appendChild(sw(NEG)); k.appendChild(h("span", null, "negative; width ∝ size"));
    f.appendChild(k);
  }
  if (!fw) f.appendChild(h("span", { class: "mx-legend-item" }, "Gradient descent moves each number against its gradient: purple (negative) should grow, orange (positive) should shrink, to lower the cost."));
  f.appendChild(h("span", { class: "mx-legend-item" }, "Red outline: selected; dashed ring: the prediction."));
}
function batchInfo() {
  const box = clear($("mx-batchinfo"));
  if (!D.batch || !S.batch) return;
  box.appendChild(h("h2", null, "The mini-batch: " + D.batch.size + " images" + (D.batch.source ? " (" + D.batch.source + ")" : "")));
  box.appendChild(h("p", { class: "mx-note", id: "mx-batch-summary" }, "mean cost " + fmt(D.batch.loss) + ", accuracy " + pct(D.batch.accuracy) +
    ". The gradients shown are the mean over these images: what one step of gradient descent uses."));
  const row = h("div");
  D.batch.pixels.forEach((img, n) => {
    const v = img.flat().map((p) => p / 255);
    const cv = heat(v, 28, 28, { rgb: (x) => seqRGB(x, 1) }, { cw: 1, ch: 1, cssW: 42, cssH: 42, label: "label " + D.batch.labels[n] });
    cv.title = "label " + D.batch.labels[n] + ", predicted " + D.batch.predictions[n];
    row.appendChild(cv);
  });
  box.appendChild(row);
}
function refresh() {
  hint();
  $("mx-conn-controls").classList.toggle("mx-hidden", D.kind !== "mlp");
  $("mx-rank").disabled = S.mode !== "forward";
  if (D.kind === "mlp") paintMLP(); else paintCNN();
  renderDetail();
  renderSteps();
  costPanel();
  legend();
  batchInfo();
}

// ---------------------------------------------------------------- start
summary();
if (D.kind === "mlp") drawMLP(); else drawCNN();
$("mx-mode-forward").addEventListener("click", () => setMode("forward"));
$("mx-mode-backward").addEventListener("click", () => setMode("backward"));
const batchButton = $("mx-batch");
if (D.batch) {
  batchButton.textContent = "Whole batch (N = " + D.batch.size + ")";
  batchButton.addEventListener("click", () => setBatch(!S.batch));
} else {
  batchButton.disabled = true;
  batchButton.title = "No mini-batch was given to this page";
}
$("mx-topk").addEventListener("input", () => { drawConnections(); });
$("mx-rank").addEventListener("change", () => { drawConnections(); legend(); });
$("mx-step-prev").addEventListener("click", () => stepBy(-1));
$("mx-step-next").addEventListener("click", () => stepBy(1));
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
  if (ev.key === "ArrowRight") { ev.preventDefault(); stepBy(1); }
  else if (ev.key === "ArrowLeft") { ev.preventDefault(); stepBy(-1); }
});
refresh();
document.body.dataset.ready = "1";
})();
