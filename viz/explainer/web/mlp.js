// The explain page's script, part 2 of 6: the MLP view (see common.js).
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
      ? digitOf(j) + "  " + outputText(j)
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
    if (last && SOFTMAX) add("softmax probability", D.probabilities[j], "mx-val-p");
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

