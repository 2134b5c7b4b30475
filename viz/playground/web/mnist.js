// The MNIST playground page. Every number shown comes from the server (microgradnn, in
// Python); this script only draws them, sends the drawing and the buttons' requests.
// User text reaches the page through textContent only.

const P = { state: null, strokes: [], current: null, sending: false, pending: false,
            neuron: null, polling: null, nudging: false, lastSend: 0 };


// ---------------------------------------------------------------- numbers and colours
function par(x) { return x < 0 ? "(" + fmt(x) + ")" : fmt(x); }
const NEG = [94, 60, 153], POS = [230, 97, 1], MID = [247, 247, 247];
const LO = [247, 251, 255], HI = [8, 48, 107];
function mix(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }
function rgb(c) { return "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")"; }
function signed(v, m) { const t = m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0; return t < 0 ? mix(MID, NEG, -t) : mix(MID, POS, t); }
function seq(v, m) { return mix(LO, HI, m > 0 ? Math.max(0, Math.min(1, v / m)) : 0); }
function actColor(values) {
  // Activations: white 0 to dark blue at max(1, largest) (sigmoid, ReLU); purple-orange if
  // some are negative (tanh).
  const m = Math.max(1, maxAbs(values));
  return values.some((v) => v < 0) ? (v) => rgb(signed(v, m)) : (v) => rgb(seq(v, m));
}
function maxAbs(a) { let m = 0; for (const v of a) if (v !== null && Math.abs(v) > m) m = Math.abs(v); return m; }
function h(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
function paintGrid(canvas, values, rows, cols, color) {
  canvas.width = cols; canvas.height = rows;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const c = color(values[i]);
    img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// ---------------------------------------------------------------- drawing (pen-like brush)
const canvas = $("pg-canvas");
const ctx = canvas.getContext("2d");
function brushWidth(speed) { return Math.max(9, Math.min(20, 20 - speed * 3)); }
function drawStroke(stroke) {
  ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff"; ctx.lineCap = "round"; ctx.lineJoin = "round";
  const pts = stroke;
  if (pts.length === 1) { ctx.beginPath(); ctx.arc(pts[0].x, pts[0].y, pts[0].w / 2, 0, 2 * Math.PI); ctx.fill(); return; }
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1], b = pts[i];
    const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
    ctx.lineWidth = b.w;
    ctx.beginPath();
    if (i === 1) ctx.moveTo(a.x, a.y); else ctx.moveTo((pts[i - 2].x + a.x) / 2, (pts[i - 2].y + a.y) / 2);
    ctx.quadraticCurveTo(a.x, a.y, mx, my);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }
}
function redraw() {
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const s of P.strokes) drawStroke(s);
  if (P.current) drawStroke(P.current);
}
function point(ev) {
  const r = canvas.getBoundingClientRect();
  return { x: (ev.clientX - r.left) * canvas.width / r.width, y: (ev.clientY - r.top) * canvas.height / r.height,
           t: performance.now() };
}
canvas.addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  canvas.setPointerCapture(ev.pointerId);
  const p = point(ev); p.w = brushWidth(0);
  if (P.state && P.state.test_index !== null) $("pg-label").value = "";  // a test image's label is not the drawing's
  P.current = [p];
  redraw();
});
canvas.addEventListener("pointermove", (ev) => {
  if (!P.current) return;
  ev.preventDefault();
  const p = point(ev), last = P.current[P.current.length - 1];
  const dist = Math.hypot(p.x - last.x, p.y - last.y);
  if (dist < 1.5) return;
  const speed = dist / Math.max(1, p.t - last.t);
  p.w = 0.6 * last.w + 0.4 * brushWidth(speed);  // ink thins when the pen moves fast
  P.current.push(p);
  redraw();
  sendDrawing(false);
});
function endStroke(ev) {
  if (!P.current) return;
  ev.preventDefault();
  P.strokes.push(P.current);
  P.current = null;
  redraw();
  sendDrawing(true);
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
canvas.addEventListener("touchstart", (ev) => ev.preventDefault(), { passive: false });
canvas.addEventListener("touchmove", (ev) => ev.preventDefault(), { passive: false });

function drawingGrid() {
  // The canvas at half size, as numbers in [0, 1] (ink 1): the server makes the 28x28 input.
  const side = canvas.width / 2;
  const small = document.createElement("canvas");
  small.width = side; small.height = side;
  const c = small.getContext("2d");
  c.drawImage(canvas, 0, 0, side, side);
  const px = c.getImageData(0, 0, side, side).data;
  const rows = [];
  let ink = 0;
  for (let r = 0; r < side; r++) {
    const row = [];
    for (let q = 0; q < side; q++) { const v = Math.round(px[4 * (r * side + q)] / 2.55) / 100; ink += v; row.push(v); }
    rows.push(row);
  }
  return ink > 0 ? rows : null;
}
function sendDrawing(final) {
  const now = performance.now();
  if (P.sending) { P.pending = P.pending || final || true; return; }
  if (!final && now - P.lastSend < 80) return;
  const grid = drawingGrid();
  if (!grid) return;
  P.sending = true; P.lastSend = now;
  const body = { drawing: grid };
  if ($("pg-label").value !== "") body.label = Number($("pg-label").value);
  run(api("POST", "/api/input", body).then((d) => {
    render(d.state);
    if (final) refreshExplain();
  })).finally(() => {
    P.sending = false;
    if (P.pending) { P.pending = false; sendDrawing(true); }
  });
}
$("pg-clear").addEventListener("click", () => { P.strokes = []; redraw(); });
$("pg-undo-stroke").addEventListener("click", () => { P.strokes.pop(); redraw(); sendDrawing(true); });

// ---------------------------------------------------------------- the state
function render(s) {
  P.state = s;
  $("pg-model").textContent = s.model + " · cost: " + (s.loss_fn === "mse"
    ? "C = Σ_j (a[L][j] - y[j])²" : "cross-entropy, C = -log softmax(z[L])[y]");
  $("pg-image-name").textContent = s.image_name + (s.label_given ? ", labelled " + s.label : ", label: its prediction");
  $("pg-label").value = s.label_given ? String(s.label) : "";
  paintGrid($("pg-input"), s.pixels.flat(), 28, 28, (v) => [v, v, v]);
  const pred = $("pg-prediction");
  clear(pred).append("prediction: ", h("b", {}, String(s.prediction)), " (" + s.output_symbol.replace("[j]", "[" + s.prediction + "]") + " = " + fmt(s.outputs[s.prediction]) + ")");
  const b = s.batch;
  $("pg-cost").textContent = "C of this example = " + fmt(s.cost) + (b ? "   ·   mean C of the mini-batch of " + b.size + " = " + fmt(b.loss) + " (accuracy " + (100 * b.accuracy).toFixed(1) + "%)" : "   ·   no mini-batch (MNIST not found)");
  drawOutputs(s);
  drawHidden(s);
  $("pg-undo").disabled = s.undo === 0;
  fillLayers(s);
  if (P.neuron) showNeuron(P.neuron.l, P.neuron.k);
  if (!P.nudging) loadWeight();
}
function drawOutputs(s) {
  const svg = clear($("pg-outputs"));
  const n = s.outputs.length, rowH = 30, m = Math.max(maxAbs(s.wish), s.batch_wish ? maxAbs(s.batch_wish) : 0) || 1;
  svg.setAttribute("height", String(n * rowH + 14));
  for (let j = 0; j < n; j++) {
    const y = 8 + j * rowH + rowH / 2, a = s.outputs[j];
    svg.append(sv("text", { x: 4, y: y + 4 }, String(j) + (j === s.label ? " (y=1)" : "")));
    svg.append(sv("circle", { cx: 74, cy: y, r: 11, fill: rgb(seq(a, 1)), stroke: j === s.prediction ? "#d7191c" : "#555",
                              "stroke-width": j === s.prediction ? 3 : 1 }));
    svg.append(sv("text", { x: 92, y: y + 4 }, fmt(a)));
    arrow(svg, 168, y, s.wish[j] / m, true);
    svg.append(sv("text", { x: 184, y: y + 4 }, fmt(s.wish[j])));
    if (s.batch_wish) {
      arrow(svg, 262, y, s.batch_wish[j] / m, false);
      svg.append(sv("text", { x: 278, y: y + 4 }, fmt(s.batch_wish[j])));
    }
  }
  $("pg-out-legend").textContent = "circle: " + s.output_symbol + " (darker = larger, red ring = prediction); solid arrow: this example's wish " +
    s.wish_symbol + " (up: raise it); hollow arrow: the same wish averaged over the mini-batch (what all the examples want); arrow length by size, one scale for both";
}
function arrow(svg, x, y, t, solid) {
  const len = Math.max(2, Math.abs(t) * 13), dir = t >= 0 ? -1 : 1;
  const color = t >= 0 ? rgb(POS) : rgb(NEG);
  const tip = y + dir * len;
  svg.append(sv("line", { x1: x, y1: y, x2: x, y2: tip, stroke: color, "stroke-width": 3 }));
  svg.append(sv("path", { d: "M" + (x - 5) + "," + (tip - dir * 1) + " L" + x + "," + (tip + dir * 5) + " L" + (x + 5) + "," + (tip - dir * 1) + " Z",
                          fill: solid ? color : "#fff", stroke: color, "stroke-width": 1.5 }));
}
function drawHidden(s) {
  const el = clear($("pg-hidden"));
  if (!s.hidden.length) { el.append(h("p", { class: "pg-note" }, "a CNN: its maps are in the explain page below")); return; }
  for (const layer of s.hidden) {
    const row = h("div", { class: "pg-layer" });
    row.append(h("span", { class: "pg-layer-name" }, "a[" + layer.l + "]"));
    const m = maxAbs(layer.wish) || 1, color = actColor(layer.a);
    layer.a.forEach((a, k) => {
      const cell = h("button", { class: "pg-cell", type: "button", title: "a[" + layer.l + "][" + k + "] = " + fmt(a) + "; wish -∂C/∂a = " + fmt(layer.wish[k]),
                                 "aria-label": "neuron a[" + layer.l + "][" + k + "]" });
      cell.style.background = color(a);
      cell.style.borderColor = rgb(signed(layer.wish[k], m));
      cell.style.borderWidth = "3px";
      if (P.neuron && P.neuron.l === layer.l && P.neuron.k === k) cell.classList.add("pg-selected");
      cell.addEventListener("click", () => { P.neuron = { l: layer.l, k: k }; drawHidden(P.state); showNeuron(layer.l, k); });
      row.append(cell);
    });
    el.append(row);
  }
  el.append(h("p", { class: "pg-legend" }, "fill: the activation a[l][k] (white 0, dark blue 1 or the layer's largest; tanh: purple below 0, orange above); ring: this example's wish -∂C/∂a[l][k] (orange: up, purple: down)"));
}
function showNeuron(l, k) {
  run(api("GET", "/api/neuron?l=" + l + "&k=" + k).then((d) => {
    const el = clear($("pg-wish"));
    el.append(h("h3", {}, "What this example wants of a[" + l + "][" + k + "] = " + fmt(d.a)));
    const t = h("table", { class: "pg-table" });
    const head = h("tr");
    for (const c of ["j", "w[" + (l + 1) + "][j," + k + "]", "δ[" + (l + 1) + "][j]", "product", "batch: w · mean δ"]) head.append(h("th", {}, c));
    t.append(head);
    d.terms.forEach((term, i) => {
      const r = h("tr", { class: "pg-pick", tabindex: "0", title: "nudge w[" + (l + 1) + "][" + term.j + "," + k + "] by hand" });
      r.append(h("td", {}, String(term.j)), h("td", {}, fmt(term.w)), h("td", {}, fmt(term.delta)), h("td", {}, fmt(term.product)),
               h("td", {}, d.batch_terms ? fmt(d.batch_terms[i]) : "n/a"));
      const pick = () => pickWeight(l + 1, "weight", term.j, k);
      r.addEventListener("click", pick);
      r.addEventListener("keydown", (ev) => { if (ev.key === "Enter") pick(); });
      t.append(r);
    });
    el.append(t, h("p", { class: "pg-legend" }, "click a row to nudge that weight by hand (4.)"));
    el.append(h("div", { class: "pg-eq" }, "∂C/∂a[" + l + "][" + k + "] = Σ_j w[" + (l + 1) + "][j," + k + "] δ[" + (l + 1) + "][j] = " + fmt(d.sum) +
      "\nits wish, -∂C/∂a[" + l + "][" + k + "] = " + fmt(d.wish) + (d.wish >= 0 ? "  (up)" : "  (down)") +
      (d.batch_wish !== undefined ? "\naveraged over the mini-batch: " + fmt(d.batch_wish) : "")));
  }));
}

// ---------------------------------------------------------------- the input's buttons
function setInput(body) { return run(api("POST", "/api/input", body).then((d) => { render(d.state); if (d.state.test_index !== null) $("pg-index").value = d.state.test_index; refreshExplain(); })); }
$("pg-load").addEventListener("click", () => setInput({ test: Number($("pg-index").value) }));
$("pg-miss").addEventListener("click", () => setInput({ misclassified: true }));
$("pg-random").addEventListener("click", () => setInput({ random: true }));
$("pg-label").addEventListener("change", () => {
  const v = $("pg-label").value;
  run(api("POST", "/api/label", { label: v === "" ? null : Number(v) }).then((d) => { render(d.state); refreshExplain(); }));
});

// ---------------------------------------------------------------- one step, undo
function lr() { return Math.pow(10, Number($("pg-lr").value)); }
$("pg-lr").addEventListener("input", () => { $("pg-lr-value").textContent = lr().toPrecision(2); });
function step(on) {
  run(api("POST", "/api/step", { lr: lr(), on: on }).then((d) => {
    render(d.state); refreshExplain();
    const r = d.step, el = clear($("pg-step-result"));
    const t = h("table", { class: "pg-table" });
    t.append(rowOf(["C", "before", "after", "change"], "th"));
    t.append(rowOf(["this example", fmt(r.before.example), fmt(r.after.example), fmt(r.after.example - r.before.example)]));
    if (r.before.batch !== null) t.append(rowOf(["mini-batch (mean)", fmt(r.before.batch), fmt(r.after.batch), fmt(r.after.batch - r.before.batch)]));
    el.append(h("p", {}, "one step w ← w - η ∂C/∂w on " + (on === "example" ? "this example" : "the mini-batch's mean C") + ", η = " + fmt(r.lr)), t);
    const m = h("table", { class: "pg-table" });
    m.append(rowOf(["moved most", "before", "after", "Δ"], "th"));
    for (const w of r.moved) {
      const row = rowOf([w.symbol, fmt(w.before), fmt(w.after), fmt(w.delta)]);
      const kind = w.name.endsWith(".bias") ? "bias" : "weight";
      if (w.l !== null && (kind === "bias" || w.index.length === 2)) {
        row.classList.add("pg-pick"); row.tabIndex = 0; row.title = "nudge " + w.symbol + " by hand";
        const pick = () => pickWeight(w.l, kind, w.index[0], kind === "bias" ? 0 : w.index[1]);
        row.addEventListener("click", pick);
        row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") pick(); });
      }
      m.append(row);
    }
    el.append(m, h("p", { class: "pg-legend" }, "click a row to nudge that weight by hand"));
  }));
}
function rowOf(cells, tag) { const r = h("tr"); for (const c of cells) r.append(h(tag || "td", {}, c)); return r; }
$("pg-step-example").addEventListener("click", () => step("example"));
$("pg-step-batch").addEventListener("click", () => step("batch"));
$("pg-undo").addEventListener("click", () => run(api("POST", "/api/undo", {}).then((d) => {
  render(d.state); refreshExplain(); clear($("pg-step-result")).append(h("p", {}, "undone: " + d.undone));
})));
$("pg-new-batch").addEventListener("click", () => run(api("POST", "/api/batch", {}).then((d) => { render(d.state); refreshExplain(); })));

// ---------------------------------------------------------------- nudge by hand
function fillLayers(s) {
  const sel = $("pg-nudge-l"), reach = s.params.filter((p) => p.explained);
  if (sel.options.length === reach.length) return;
  clear(sel);
  for (const p of reach) sel.append(h("option", { value: String(p.l) }, p.l + " (" + p.type + " " + p.weight.join("x") + ")"));
  if (!reach.length) return;
  const last = reach[reach.length - 1];
  sel.value = String(last.l);  // the output layer, for an MLP: the label's weights
  $("pg-nudge-j").value = String(last.l === s.L ? s.label : 0);
}
function nudgeTarget() {
  const l = Number($("pg-nudge-l").value || 1), kind = $("pg-nudge-kind").value;
  const j = Number($("pg-nudge-j").value), k = Number($("pg-nudge-k").value);
  const p = P.state.params.find((q) => q.l === l);
  let index = kind === "bias" ? [j] : [j, k];
  if (kind === "weight" && p.weight.length === 4) index = [j, k, 0, 0];
  return { l: l, kind: kind, index: index };
}
function pickWeight(l, kind, j, k) {
  $("pg-nudge-l").value = String(l); $("pg-nudge-kind").value = kind;
  $("pg-nudge-j").value = String(j); $("pg-nudge-k").value = String(k);
  loadWeight();
  $("pg-step-panel").scrollIntoView({ behavior: "smooth", block: "nearest" });
}
function loadWeight() {
  if (!P.state || !$("pg-nudge-l").options.length) return;
  const t = nudgeTarget();
  const el = clear($("pg-weight-wish"));
  if (t.kind === "bias" || P.state.params.find((q) => q.l === t.l).weight.length !== 2) return;
  run(api("GET", "/api/weight?l=" + t.l + "&j=" + t.index[0] + "&k=" + t.index[1]).then((d) => {
    const name = "w[" + d.l + "][" + d.j + "," + d.k + "]";
    el.textContent = name + " = " + fmt(d.w) + "\n-∂C/∂" + name + " = -a[" + (d.l - 1) + "][" + d.k + "] · δ[" + d.l + "][" + d.j + "] = -" +
      par(d.a_prev) + " · " + par(d.delta) + " = " + fmt(d.wish) + (d.batch_wish !== undefined ? "\naveraged over the mini-batch: " + fmt(d.batch_wish) : "");
    $("pg-nudge-range").min = String(d.w - 2); $("pg-nudge-range").max = String(d.w + 2);
    $("pg-nudge-range").value = String(d.w); $("pg-nudge-value").value = String(d.w);
  }));
}
for (const id of ["pg-nudge-l", "pg-nudge-kind", "pg-nudge-j", "pg-nudge-k"]) $(id).addEventListener("change", loadWeight);
let nudgeBusy = false, nudgeNext = null;
function nudge(value) {
  if (nudgeBusy) { nudgeNext = value; return; }
  nudgeBusy = true; P.nudging = true;
  const t = nudgeTarget(); t.value = value;
  run(api("POST", "/api/nudge", t).then((d) => {
    render(d.state);
    const n = d.nudge;
    $("pg-nudge-result").textContent = "";
    $("pg-nudge-result").append(h("div", { class: "pg-eq" },
      n.symbol + ": " + fmt(n.w0) + " → " + fmt(n.w) + "   (Δw = " + fmt(n.dw) + ")\nC: " + fmt(n.C0) + " → " + fmt(n.C) +
      "   (ΔC = " + fmt(n.dC) + ")\nthe gradient predicted ∂C/∂w · Δw = " + par(n.grad) + " · " + par(n.dw) + " = " + fmt(n.predicted) +
      "\n(close for small nudges, apart for large ones)"));
  })).finally(() => {
    nudgeBusy = false; P.nudging = false;
    if (nudgeNext !== null) { const v = nudgeNext; nudgeNext = null; nudge(v); }
  });
}
$("pg-nudge-range").addEventListener("input", () => { $("pg-nudge-value").value = $("pg-nudge-range").value; nudge(Number($("pg-nudge-range").value)); });
$("pg-nudge-range").addEventListener("change", refreshExplain);
$("pg-nudge-value").addEventListener("change", () => { nudge(Number($("pg-nudge-value").value)); refreshExplain(); });

// ---------------------------------------------------------------- training live
function trainAction(action, body) {
  return run(api("POST", "/api/train/" + action, body).then((d) => { showTraining(d); poll(); }));
}
$("pg-start").addEventListener("click", () => trainAction("start", {
  optimizer: $("pg-opt").value, lr: Number($("pg-train-lr").value), batch_size: Number($("pg-bs").value),
  epochs: Number($("pg-epochs").value) }));
$("pg-pause").addEventListener("click", () => trainAction("pause", {}));
$("pg-resume").addEventListener("click", () => trainAction("resume", {}));
$("pg-stop").addEventListener("click", () => trainAction("stop", {}));
$("pg-save").addEventListener("click", () => run(api("POST", "/api/save", {}).then((d) => {
  $("pg-train-status").textContent = "saved " + d.bytes + " bytes to " + d.path;
})));
$("pg-download").href = withToken("/api/checkpoint");
const ACTIVE = ["running", "paused", "stopping"];
function poll() {
  if (P.polling) return;
  P.polling = setInterval(() => {
    api("GET", "/api/train/status").then((d) => {
      showTraining(d);
      if (!ACTIVE.includes(d.job.state)) {
        clearInterval(P.polling); P.polling = null;
        run(api("GET", "/api/state").then((s) => { render(s.state); refreshExplain(); }));
      }
    }).catch((error) => showError(error.message));
  }, 400);
}
function showTraining(d) {
  const j = d.job;
  const where = j.step !== undefined ? " · step " + j.step + " of " + (j.steps_per_epoch * j.epochs) + ", epoch " + j.epoch + " of " + j.epochs : "";
  const acc = d.accuracy.length ? " · test accuracy " + (100 * d.accuracy[d.accuracy.length - 1].accuracy).toFixed(2) + "%" : "";
  $("pg-train-status").textContent = "training: " + j.state + where + (j.loss !== undefined ? " · loss " + fmt(j.loss) : "") + (j.steps_per_second ? " · " + j.steps_per_second.toFixed(0) + " steps/s" : "") + acc + (j.error ? " · " + j.error : "");
  const active = ACTIVE.includes(j.state);
  $("pg-start").disabled = active; $("pg-pause").disabled = j.state !== "running";
  $("pg-resume").disabled = j.state !== "paused"; $("pg-stop").disabled = !active;
  for (const id of ["pg-step-example", "pg-step-batch", "pg-undo"]) $(id).disabled = active;
  drawCurve(d.curve, d.accuracy);
  drawLive(d.live);
}
function drawCurve(curve, accuracy) {
  const cv = $("pg-curve"), c = cv.getContext("2d"), W = cv.width, H = cv.height, L = 46, R = 40, T = 10, B = 26;
  c.fillStyle = "#fff"; c.fillRect(0, 0, W, H);
  c.strokeStyle = "#999"; c.strokeRect(L, T, W - L - R, H - T - B);
  c.fillStyle = "#333"; c.font = "11px sans-serif";
  const n = curve.count, ys = curve.loss;
  c.fillText("step", W / 2 - 10, H - 6);
  if (!ys.length) { c.fillText("no training yet", L + 10, T + 20); return; }
  const top = Math.max(...ys) || 1, last = Math.max(n, 1);
  c.fillText(fmt(top), 2, T + 8); c.fillText("0", L - 12, H - B); c.fillText(String(last), W - R - 20, H - B + 14);
  c.fillText("loss", 4, H / 2);
  c.strokeStyle = rgb(HI); c.lineWidth = 1.5; c.beginPath();
  ys.forEach((v, i) => {
    const x = L + (curve.steps[i] / last) * (W - L - R), y = T + (1 - v / top) * (H - T - B);
    if (i === 0) c.moveTo(x, y); else c.lineTo(x, y);
  });
  c.stroke();
  c.fillStyle = rgb(POS);
  c.fillText("100%", W - R + 4, T + 8); c.fillText("acc.", W - R + 4, H / 2);
  for (const a of accuracy) {
    const x = L + (a.step / last) * (W - L - R), y = T + (1 - a.accuracy) * (H - T - B);
    c.beginPath(); c.arc(x, y, 3.5, 0, 2 * Math.PI); c.fill();
  }
}
function drawLive(live) {
  const el = clear($("pg-live"));
  const top = live.outputs.map((v, j) => [v, j]).sort((a, b) => b[0] - a[0]).slice(0, 3);
  el.append(h("p", {}, "this digit now: prediction " + live.prediction + " · outputs " + top.map((t) => t[1] + ": " + fmt(t[0])).join(", ")));
  for (const [l, a] of live.hidden.entries()) {
    const row = h("div", { class: "pg-layer" });
    row.append(h("span", { class: "pg-layer-name" }, "a[" + (l + 1) + "]"));
    const color = actColor(a);
    for (const v of a) { const cell = h("span", { class: "pg-cell", title: fmt(v) }); cell.style.background = color(v); row.append(cell); }
    el.append(row);
  }
  if (live.hidden.length) el.append(h("p", { class: "pg-legend" }, "fill: this digit's activations a[l][k] with the current weights (white 0, dark blue 1 or the layer's largest; tanh: purple below 0, orange above)"));
  const box = clear($("pg-weights")), shape = live.first_shape;
  const side = shape.length === 1 ? Math.round(Math.sqrt(shape[0])) : shape[shape.length - 1];
  const rows = shape.length === 1 ? side : shape[shape.length - 2];
  for (const w of live.first_weights) {
    const flat = w.flat ? w.flat(Infinity) : w, m = maxAbs(flat), cv = h("canvas");
    paintGrid(cv, flat.slice(0, rows * side), rows, side, (v) => signed(v, m));
    box.append(cv);
  }
}

// ---------------------------------------------------------------- the explain page
let explainTimer = null;
function refreshExplain() {
  clearTimeout(explainTimer);
  explainTimer = setTimeout(() => {
    $("pg-explain").src = withToken("/explain?v=" + (P.state ? P.state.version : 0));
    if (!P.polling) api("GET", "/api/train/status").then(showTraining).catch((error) => showError(error.message));
  }, 150);
}
$("pg-explain-refresh").addEventListener("click", refreshExplain);

redraw();
run(api("GET", "/api/state").then((d) => {
  render(d.state); refreshExplain();
  if (d.state.test_index !== null) $("pg-index").value = d.state.test_index;
  return api("GET", "/api/train/status").then((t) => { showTraining(t); if (ACTIVE.includes(t.job.state)) poll(); });
}));
