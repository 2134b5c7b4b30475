// The 2-D playground page. Every number shown comes from the server (microgradnn's scalar
// engine and its vectorized path, in Python); this script draws them and sends the
// learner's choices. The setup lives in the address after '#', checked by the server.

const FEATURES = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"];
const FEATURE_NAMES = ["x1", "x2", "x1²", "x2²", "x1·x2", "sin x1", "sin x2"];
const CLASS_COLOURS = [[232, 113, 10], [25, 103, 210], [24, 128, 56], [161, 66, 244], [217, 48, 37]];
const P = { S: {}, order: [], frame: null, point: null, neuron: null, busy: false,
            timer: null, netKey: "", nudgeSeq: 0, drawn: 0, keepNudge: false };

function par(x) { return x < 0 ? "(" + fmt(x) + ")" : fmt(x); }
function h(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---------------------------------------------------------------- the setup (address)
function parseSetup(text) {
  const S = {}, order = [];
  for (const pair of text.split("&")) {
    const i = pair.indexOf("=");
    if (i > 0) { S[pair.slice(0, i)] = pair.slice(i + 1); order.push(pair.slice(0, i)); }
  }
  return [S, order];
}
function setupText(S) { return P.order.map((k) => k + "=" + S[k]).join("&"); }
function takeSetup(text) {
  [P.S, P.order] = parseSetup(text);
  history.replaceState(null, "", location.pathname + location.search + "#" + text);
  $("tp-shared").value = location.href.split("?")[0] + "#" + text;
  showControls();
}
async function change(key, value) {
  const S = Object.assign({}, P.S, { [key]: String(value) });
  const answer = await api("POST", "/toy/api/setup", { setup: setupText(S) });
  takeSetup(answer.setup);
  await refresh();
}
function fillSelect(id, values, labels) {
  const s = $(id);
  values.forEach((v, i) => s.appendChild(h("option", { value: String(v) }, labels ? labels[i] : String(v))));
}
function choose(id, value) {
  const s = $(id);
  if (![...s.options].some((o) => o.value === value)) s.appendChild(h("option", { value: value }, value));
  s.value = value;
}
function showControls() {
  const S = P.S;
  for (const [id, key] of [["tp-lr", "lr"], ["tp-batch", "batch"], ["tp-opt", "opt"],
    ["tp-act", "act"], ["tp-cost", "cost"], ["tp-reg", "reg"], ["tp-rate", "rate"],
    ["tp-set", "data"], ["tp-classes", "classes"], ["tp-n", "n"]]) choose(id, S[key]);
  $("tp-noise").value = S.noise;
  $("tp-test").value = S.test;
  $("tp-seed").textContent = S.seed;
}

// ---------------------------------------------------------------- colours
function diverging(byte) {  // 0: orange (low end of the scale), 128: white, 255: blue
  const t = byte / 255;
  const lo = [232, 113, 10], hi = [25, 103, 210];
  const c = t < 0.5 ? lo : hi, u = t < 0.5 ? 1 - 2 * t : 2 * t - 1;
  return [255 + (c[0] - 255) * u, 255 + (c[1] - 255) * u, 255 + (c[2] - 255) * u];
}
function decode(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
function sequential(byte) {  // 0: white (the scale's low end, 0), 255: blue
  const t = byte / 255, hi = [25, 103, 210];
  return [255 + (hi[0] - 255) * t, 255 + (hi[1] - 255) * t, 255 + (hi[2] - 255) * t];
}
function paintMap(canvas, map, n) {
  // a scale from 0 up (sigmoid, ReLU, x1²) white to blue; one through 0 orange-white-blue
  const colour = map.lo >= 0 ? sequential : diverging;
  const bytes = decode(map.map), ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < bytes.length; i++) {
    const c = colour(bytes[i]);
    img.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

// ---------------------------------------------------------------- the network
function layerHead(l, sizes) {
  const head = h("div", { class: "tp-col-head" });
  if (l === 0) { head.textContent = "inputs a[0]"; return head; }
  const last = l === sizes.length - 1;
  head.appendChild(h("div", {}, last ? "output a[" + l + "]" : "layer " + l));
  if (!last) {
    const plus = h("button", { type: "button", title: "one more neuron" }, "+");
    const minus = h("button", { type: "button", title: "one neuron less" }, "−");
    plus.onclick = () => run(resizeLayer(l - 1, 1));
    minus.onclick = () => run(resizeLayer(l - 1, -1));
    head.append(plus, minus);
  }
  return head;
}
function resizeLayer(i, by) {
  const layers = P.S.layers ? P.S.layers.split(",").map(Number) : [];
  layers[i] = Math.max(1, Math.min(16, layers[i] + by));
  return change("layers", layers.join(","));
}
function buildNetwork(frame) {
  const columns = $("tp-columns");
  columns.textContent = "";
  const chosen = P.S.feat.split(",");
  const inputs = h("div", { class: "tp-col" });
  inputs.appendChild(layerHead(0, frame.sizes));
  FEATURES.forEach((f, k) => {
    const on = chosen.includes(f);
    const box = h("div", { class: "tp-neuron tp-feature" + (on ? "" : " tp-off"),
                           "data-feature": f, title: (on ? "remove " : "use ") + FEATURE_NAMES[k] });
    const canvas = h("canvas", { width: frame.maps.grid, height: frame.maps.grid });
    box.appendChild(canvas);
    box.onclick = () => run(toggleFeature(f));
    inputs.appendChild(box);
    inputs.appendChild(h("div", { class: "tp-feature-name" }, FEATURE_NAMES[k]));
  });
  columns.appendChild(inputs);
  for (let l = 1; l < frame.sizes.length; l++) {
    const col = h("div", { class: "tp-col" });
    col.appendChild(layerHead(l, frame.sizes));
    for (let j = 0; j < frame.sizes[l]; j++) {
      const box = h("div", { class: "tp-neuron", "data-l": l, "data-j": j,
                             title: "a[" + l + "][" + j + "]: click for its formula and graph" });
      box.appendChild(h("canvas", { width: frame.maps.grid, height: frame.maps.grid }));
      box.appendChild(h("span", { class: "tp-delta" }));
      box.onclick = () => run(openNeuron(l, j));
      col.appendChild(box);
    }
    columns.appendChild(col);
  }
  $("tp-sizes").textContent = frame.sizes.join("-") + " (" + P.S.act + ")";
}
function toggleFeature(f) {
  const chosen = P.S.feat.split(",");
  const next = chosen.includes(f) ? chosen.filter((x) => x !== f) : chosen.concat([f]);
  if (!next.length) throw new Error("keep at least one input feature");
  return change("feat", FEATURES.filter((x) => next.includes(x)).join(","));
}
function neuronBox(l, j) {
  return document.querySelector('.tp-neuron[data-l="' + l + '"][data-j="' + j + '"]');
}
function inputBoxes() {
  const chosen = P.S.feat.split(",");
  return FEATURES.filter((f) => chosen.includes(f))
    .map((f) => document.querySelector('.tp-feature[data-feature="' + f + '"]'));
}
function drawNetwork(frame) {
  const key = frame.sizes.join("-") + "|" + P.S.feat;
  if (key !== P.netKey) { buildNetwork(frame); P.netKey = key; }
  const n = frame.maps.grid;
  inputBoxes().forEach((box, k) => paintMap(box.querySelector("canvas"), frame.maps.inputs[k], n));
  frame.maps.layers.forEach((layer, i) => layer.maps.forEach((m, j) => {
    const box = neuronBox(i + 1, j);
    paintMap(box.querySelector("canvas"), { map: m, lo: layer.lo }, n);
    box.classList.toggle("tp-selected", !!P.neuron && P.neuron[0] === i + 1 && P.neuron[1] === j);
    const back = frame.backward;
    box.querySelector(".tp-delta").textContent = back ? "δ " + fmt(back.layers[i].dz[j]) : "";
  }));
  drawEdges(frame);
  const legend = frame.maps.layers.map((layer, i) => "layer " + (i + 1) + " (" + layer.activation +
    "): " + fmt(layer.lo) + " … " + fmt(layer.hi)).join(" · ");
  $("tp-net-legend").textContent = "each box: the neuron's output over the plane on its " +
    "layer's scale: from below 0, orange = low end, white = middle, blue = high end; from 0 " +
    "up, white = 0, blue = high end; " + legend + ". Edges: " +
    (frame.backward ? "the chosen point's −∂C/∂w (blue: the step raises w, orange: lowers it; " +
     "width ∝ |∂C/∂w|; hover for w before and after one step)" :
     "the weights (blue > 0, orange < 0, width ∝ |w|)") + "; δ = ∂C/∂z of the chosen point.";
}
function centre(box, side, origin) {
  const r = box.getBoundingClientRect();
  return [(side > 0 ? r.right : r.left) - origin.left, r.top + r.height / 2 - origin.top];
}
function drawEdges(frame) {
  const svg = $("tp-edges");
  svg.textContent = "";
  const origin = $("tp-net").getBoundingClientRect();
  const back = frame.backward;
  let top = 0;
  frame.net.forEach((layer, i) => {
    const m = back ? back.layers[i].dw : layer.w;
    m.forEach((row) => row.forEach((v) => { if (Math.abs(v) > top) top = Math.abs(v); }));
  });
  let before = inputBoxes();
  frame.net.forEach((layer, i) => {
    const after = layer.w.map((_, j) => neuronBox(i + 1, j));
    layer.w.forEach((row, j) => row.forEach((w, k) => {
      const value = back ? -back.layers[i].dw[j][k] : w;
      const [x1, y1] = centre(before[k], 1, origin), [x2, y2] = centre(after[j], -1, origin);
      const line = document.createElementNS(SVGNS, "line");
      const width = back ? 0.5 + 5 * Math.abs(value) / (top || 1) : Math.min(6, 0.5 + 2 * Math.abs(w));
      line.setAttribute("x1", x1); line.setAttribute("y1", y1);
      line.setAttribute("x2", x2); line.setAttribute("y2", y2);
      line.setAttribute("stroke", value >= 0 ? "#1967d2" : "#e8710a");
      line.setAttribute("stroke-width", width.toFixed(2));
      line.setAttribute("stroke-opacity", "0.7");
      const title = document.createElementNS(SVGNS, "title");
      const name = "w[" + (i + 1) + "][" + j + "," + k + "]";
      title.textContent = back
        ? name + " = " + fmt(w) + " → " + fmt(back.layers[i].w_after[j][k]) +
          " after one step w − η ∂C/∂w; ∂C/∂w = " + fmt(back.layers[i].dw[j][k])
        : name + " = " + fmt(w);
      line.appendChild(title);
      svg.appendChild(line);
    }));
    before = after;
  });
}

// ---------------------------------------------------------------- the plane and curves
function toCanvas(x1, x2, view, size) {
  return [(x1 + view) / (2 * view) * size, (view - x2) / (2 * view) * size];
}
function drawSurface(frame) {
  const canvas = $("tp-surface"), ctx = canvas.getContext("2d"), n = frame.maps.grid;
  const shares = frame.maps.surface.map(decode);
  const small = document.createElement("canvas");
  small.width = small.height = n;
  const sctx = small.getContext("2d"), img = sctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const c = [0, 0, 0];
    shares.forEach((s, k) => { for (let d = 0; d < 3; d++) c[d] += s[i] / 255 * CLASS_COLOURS[k][d]; });
    img.data.set([c[0] * 0.55 + 115, c[1] * 0.55 + 115, c[2] * 0.55 + 115, 255], 4 * i);
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  const pts = frame.points, view = frame.maps.view;
  for (let i = 0; i < pts.c.length; i++) {
    const [x, y] = toCanvas(pts.x1[i], pts.x2[i], view, canvas.width);
    ctx.beginPath();
    ctx.arc(x, y, i === P.point ? 6 : 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = "rgb(" + CLASS_COLOURS[pts.c[i]].join(",") + ")";
    ctx.fill();
    ctx.lineWidth = i === P.point ? 2.5 : 1;
    ctx.strokeStyle = pts.test[i] ? "#000" : "#fff";
    ctx.stroke();
  }
  $("tp-surface-legend").textContent = "x1 and x2 from " + (-view) + " to " + view +
    "; background: the network's share of each class (" + frame.classes + " classes: " +
    CLASS_COLOURS.slice(0, frame.classes).map((_, k) => ["orange", "blue", "green", "purple", "red"][k] + " = " + k).join(", ") +
    "); points: white ring = training, black ring = test.";
}
function drawCurve(id, xs, series, fixedTop) {
  const canvas = $(id), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  let top = fixedTop || 0;
  if (!fixedTop) series.forEach((s) => s.values.forEach((v) => { if (v !== null && v > top) top = v; }));
  top = top || 1;
  const last = Math.max(1, xs[xs.length - 1] || 1);
  series.forEach((s) => {
    ctx.beginPath();
    ctx.setLineDash(s.dash ? [4, 3] : []);
    ctx.strokeStyle = s.colour;
    s.values.forEach((v, i) => {
      if (v === null) return;
      const x = 30 + xs[i] / last * (W - 36), y = H - 12 - v / top * (H - 20);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
  ctx.setLineDash([]);
  ctx.fillStyle = "#555";
  ctx.font = "10px sans-serif";
  ctx.fillText(fmt(top), 2, 10);
  ctx.fillText("0", 2, H - 12);
  ctx.fillText(id === "tp-loss-curve" ? "cost C" : "accuracy", 40, 10);
  ctx.fillText("epoch " + last, W - 60, H - 2);
}
function drawNumbers(frame) {
  const c = frame.curves, k = c.epoch.length - 1;
  $("tp-epoch").textContent = frame.epoch;
  $("tp-steps").textContent = frame.steps;
  $("tp-train-loss").textContent = fmt(c.train_loss[k]);
  $("tp-test-loss").textContent = fmt(c.test_loss[k]);
  $("tp-train-acc").textContent = fmt(c.train_acc[k]);
  $("tp-test-acc").textContent = fmt(c.test_acc[k]);
  drawCurve("tp-loss-curve", c.epoch, [{ values: c.train_loss, colour: "#333" },
    { values: c.test_loss, colour: "#333", dash: true }]);
  drawCurve("tp-acc-curve", c.epoch, [{ values: c.train_acc, colour: "#1967d2" },
    { values: c.test_acc, colour: "#1967d2", dash: true }], 1);
  const state = frame.training.state;
  $("tp-play").textContent = state === "running" ? "❚❚ Pause" : "▶ Play";
  const b = frame.backward;
  $("tp-backward").textContent = b ? "Chosen point " + b.point + " (" + fmt(b.x[0]) + ", " +
    fmt(b.x[1]) + "), class " + b.label + ": its cost C = " + fmt(b.cost) + " through the current " +
    "weights; the edges show its gradient, the boxes its δ = ∂C/∂z, and one step with η = " +
    fmt(b.lr) + " would move each weight as the edges' tooltips say." : "";
  if (frame.training.error) showError("training stopped: " + frame.training.error);
}
async function refresh() {
  const query = P.point !== null ? "?point=" + P.point : "";
  const frame = await api("GET", "/toy/api/frame" + query);
  P.frame = frame;
  if (frame.setup !== setupText(P.S)) takeSetup(frame.setup);
  if (P.point !== null && P.point >= frame.points.c.length) P.point = null;
  drawNetwork(frame);
  drawSurface(frame);
  drawNumbers(frame);
  P.drawn += 1;  // frames drawn (read by benchmarks/bench_toy_serve.py --browser)
  return frame;
}
async function poll() {
  if (!P.busy) {
    P.busy = true;
    try {
      const frame = await refresh();
      if (frame.training.state !== "running") { clearInterval(P.timer); P.timer = null; }
    } catch (error) { showError(error.message); } finally { P.busy = false; }
  }
}
function startPolling() { if (!P.timer) P.timer = setInterval(poll, 120); }

// ---------------------------------------------------------------- the mathematics
async function openNeuron(l, j) {
  P.neuron = [l, j];
  const point = P.point !== null ? P.point : 0;
  const d = await api("GET", "/toy/api/neuron?point=" + point + "&l=" + l + "&j=" + j);
  $("tp-neuron").hidden = false;
  $("tp-neuron-title").textContent = "Neuron a[" + l + "][" + j + "] for point " + d.point +
    " (" + fmt(d.x[0]) + ", " + fmt(d.x[1]) + "), class " + d.label;
  const terms = d.terms.map((t) => par(t.w) + "·" + par(t.a)).join(" + ");
  const act = d.activation === "linear" ? "" : "\na[" + l + "][" + j + "] = " + d.activation +
    "(z[" + l + "][" + j + "]) = " + d.activation + "(" + fmt(d.z) + ") = " + fmt(d.a);
  $("tp-formula").textContent = "z[" + l + "][" + j + "] = Σ_k w[" + l + "][" + j + ",k] a[" +
    (l - 1) + "][k] + b[" + l + "][" + j + "]\n        = " + terms + " + " + par(d.b) + " = " +
    fmt(d.z) + act + "\nC = " + fmt(d.cost) + ";  ∂C/∂a[" + l + "][" + j + "] = " + fmt(d.da) +
    ";  δ = ∂C/∂z[" + l + "][" + j + "] = " + fmt(d.dz) + "\n∂C/∂w[" + l + "][" + j + ",k] = δ · a[" +
    (l - 1) + "][k] = " + d.terms.map((t) => fmt(t.dw)).join(", ") + ";  ∂C/∂b = δ = " +
    fmt(d.db) + "\none step of this point alone, w − η ∂C/∂w with η = " + fmt(d.lr) + ": " +
    d.terms.map((t) => t.name + " " + fmt(t.w) + " → " + fmt(t.w_after)).join(", ") + ", b " +
    fmt(d.b) + " → " + fmt(d.b_after) +
    "\nheat map (vectorized path) at this point: " + fmt(d.a_vectorized);
  $("tp-graph").src = d.svg;
  buildNudges(d);
  if (P.frame) drawNetwork(P.frame);
}
function buildNudges(d) {
  const box = $("tp-nudges");
  box.textContent = "";
  box.appendChild(h("div", { class: "tp-note" }, "Drag a weight: the cost changes (measured) " +
    "beside the gradient's prediction ∂C/∂w · Δw. The weight springs back when you let go, " +
    "unless \u201ckeep\u201d is ticked: then it stays, a step of gradient descent by hand."));
  const keepLabel = h("label", {}, "keep the value when I let go ");
  const keep = h("input", { type: "checkbox", id: "tp-nudge-keep" });
  keep.checked = P.keepNudge;
  keep.onchange = () => { P.keepNudge = keep.checked; };
  keepLabel.appendChild(keep);
  box.appendChild(keepLabel);
  const params = d.terms.map((t, k) => [t.name, t.w, k]).concat([["b[" + d.l + "][" + d.j + "]", d.b, -1]]);
  for (const [name, value, k] of params) {
    const label = h("label", {}, name + " ");
    const range = h("input", { type: "range", min: String(value - 2), max: String(value + 2),
                               step: "0.01", value: String(value), "data-k": String(k) });
    range.oninput = () => run(sendNudge(d, k, Number(range.value), name, false));
    range.onchange = () => {
      if (keep.checked) run(sendNudge(d, k, Number(range.value), name, true));
      else range.value = String(value);
    };
    label.appendChild(range);
    box.appendChild(label);
  }
  box.appendChild(h("div", { id: "tp-nudge-out" }));
}
async function sendNudge(d, k, value, name, kept) {
  const seq = ++P.nudgeSeq;
  const r = await api("POST", "/toy/api/nudge", { point: d.point, l: d.l, j: d.j, k: k, value: value,
                                                 keep: kept });
  if (kept) {  // the network changed: redraw it, and the neuron around its new weights
    await refresh();
    await openNeuron(d.l, d.j);
    $("tp-nudge-out").textContent = name + " kept: " + fmt(r.old) + " → " + fmt(r.value);
    return;
  }
  if (seq !== P.nudgeSeq) return;
  const line = (what, x) => what + ": C " + fmt(x.before) + " → " + fmt(x.after) + ", change " +
    fmt(x.change) + "; the gradient predicted ∂C/∂w·Δw = " + fmt(x.grad) + " × " + fmt(r.delta) +
    " = " + fmt(x.predicted);
  $("tp-nudge-out").textContent = name + ": " + fmt(r.old) + " → " + fmt(r.value) + "\n" +
    line("this point", r.point) + (r.train ? "\n" + line("training set", r.train) : "");
}
function choosePoint(i) {
  P.point = i;
  $("tp-chosen").textContent = "point " + i + " chosen";
  $("tp-stepper-box").hidden = false;
  $("tp-stepper").src = withToken("/toy/stepper?point=" + i);
  if (P.neuron) run(openNeuron(P.neuron[0], P.neuron[1]));
  return refresh();
}
function nearest(x, y, limit) {
  const f = P.frame, canvas = $("tp-surface");
  let best = null, bestD = limit * limit;
  for (let i = 0; i < f.points.c.length; i++) {
    const [px, py] = toCanvas(f.points.x1[i], f.points.x2[i], f.maps.view, canvas.width);
    const dd = (px - x) * (px - x) + (py - y) * (py - y);
    if (dd <= bestD) { best = i; bestD = dd; }
  }
  return best;
}
async function surfaceClick(event) {
  const canvas = $("tp-surface"), r = canvas.getBoundingClientRect();
  const x = (event.clientX - r.left) * canvas.width / r.width;
  const y = (event.clientY - r.top) * canvas.height / r.height;
  if (event.shiftKey) {
    const i = nearest(x, y, 15);
    if (i === null) return;
    if (i === P.point) P.point = null;
    const answer = await api("POST", "/toy/api/points", { remove: i });
    takeSetup(answer.setup);
    return refresh();
  }
  const hit = nearest(x, y, 6);
  if (hit !== null) return choosePoint(hit);
  const view = P.frame.maps.view;
  const x1 = x / canvas.width * 2 * view - view, x2 = view - y / canvas.height * 2 * view;
  const answer = await api("POST", "/toy/api/points", { add: [x1, x2, Number($("tp-class").value)] });
  takeSetup(answer.setup);
  return refresh();
}

// ---------------------------------------------------------------- wiring
function init() {
  fillSelect("tp-lr", [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]);
  fillSelect("tp-batch", [1, 2, 5, 10, 20, 30, 50, 100]);
  fillSelect("tp-rate", [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1]);
  fillSelect("tp-classes", [2, 3, 4, 5]);
  fillSelect("tp-n", [50, 100, 200, 300, 400, 500, 1000]);
  fillSelect("tp-class", [0, 1, 2, 3, 4], ["0 (orange)", "1 (blue)", "2 (green)", "3 (purple)", "4 (red)"]);
  for (const [id, key] of [["tp-lr", "lr"], ["tp-batch", "batch"], ["tp-opt", "opt"],
    ["tp-act", "act"], ["tp-cost", "cost"], ["tp-reg", "reg"], ["tp-rate", "rate"],
    ["tp-set", "data"], ["tp-classes", "classes"], ["tp-n", "n"], ["tp-noise", "noise"],
    ["tp-test", "test"]]) $(id).addEventListener("change", () => run(change(key, $(id).value)));
  $("tp-regen").onclick = () => run(change("seed", Number(P.S.seed) + 1));
  $("tp-add-layer").onclick = () => {
    const layers = P.S.layers ? P.S.layers.split(",") : [];
    if (layers.length >= 6) return showError("at most 6 hidden layers");
    run(change("layers", layers.concat(["4"]).join(",")));
  };
  $("tp-remove-layer").onclick = () => {
    const layers = P.S.layers ? P.S.layers.split(",") : [];
    run(change("layers", layers.slice(0, -1).join(",")));
  };
  $("tp-play").onclick = () => run((async () => {
    const running = P.frame && P.frame.training.state === "running";
    await api("POST", running ? "/toy/api/pause" : "/toy/api/play");
    startPolling();
    await refresh();
  })());
  $("tp-step").onclick = () => run(api("POST", "/toy/api/step").then(refresh));
  $("tp-reset").onclick = () => run(api("POST", "/toy/api/reset").then(refresh));
  $("tp-surface").addEventListener("click", (e) => run(surfaceClick(e)));
  $("tp-clear").onclick = () => run(api("POST", "/toy/api/points", { clear: true })
    .then((a) => { P.point = null; takeSetup(a.setup); return refresh(); }));
  $("tp-csv").addEventListener("change", () => run((async () => {
    const file = $("tp-csv").files[0];
    if (!file) return;
    if (file.size > 64000) throw new Error("the CSV is " + file.size + " bytes; at most 64000");
    const answer = await api("POST", "/toy/api/points", { csv: await file.text() });
    P.point = null;
    takeSetup(answer.setup);
    await refresh();
  })()));
  $("tp-load-shared").onclick = () => run((async () => {
    const text = $("tp-shared").value, i = text.indexOf("#");
    const answer = await api("POST", "/toy/api/setup", { setup: i >= 0 ? text.slice(i + 1) : text });
    takeSetup(answer.setup);
    await refresh();
  })());
  $("tp-save").onclick = () => run(api("POST", "/toy/api/save").then((r) => {
    $("tp-saved").textContent = "saved " + r.path + " (" + r.bytes + " bytes): microgradnn.load(path)";
  }));
  $("tp-download").href = withToken("/toy/api/checkpoint");
  $("tp-code-button").onclick = () => run((async () => {
    const response = await fetch(withToken("/toy/api/code"), { headers: { "X-Microgradnn-Token": TOKEN } });
    $("tp-code").textContent = await response.text();
    $("tp-code").hidden = false;
  })());
  const hash = decodeURIComponent(location.hash.slice(1));
  run((async () => {
    if (hash) {
      const frame = await api("GET", "/toy/api/frame");
      [P.S, P.order] = parseSetup(frame.setup);
      const answer = await api("POST", "/toy/api/setup", { setup: hash });
      takeSetup(answer.setup);
    }
    const frame = await refresh();
    if (frame.training.state === "running") startPolling();
  })());
  window.addEventListener("resize", () => { if (P.frame) drawEdges(P.frame); });
  window.addEventListener("hashchange", () => run((async () => {  // a setup pasted in the address
    const text = decodeURIComponent(location.hash.slice(1));
    if (text === setupText(P.S)) return;
    const answer = await api("POST", "/toy/api/setup", { setup: text })
      .catch((error) => { takeSetup(setupText(P.S)); throw error; });  // the address shows what runs
    takeSetup(answer.setup);
    await refresh();
  })()));
}
init();
