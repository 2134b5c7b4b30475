// The explain page's script, part 4 of 6: the CNN view and its details (see common.js).
// ---------------------------------------------------------------- CNN drawing
function typeName(e) { return e.type === "Add" ? "F + shortcut" : e.type; }
function layerTitle(i) {
  const e = ENT[i];
  const name = i === 0 ? "the input a[0]" : i === LAST ? "the output " + sym(e) : sym(e);
  return name + ": " + (i === 0 ? "" : typeName(e) + " ") + e.shape.join("×") + (e.block ? " (inside layer " + e.layer + ")" : "");
}
const C = { maps: {}, strips: {} };
// One column: its header (symbol, type, shape), its maps or vector, its colour scale.
function mapColumn(e, small) {
  const i = e.gi;
  const col = h("div", { class: "mx-col" + (small ? " mx-col-small" : ""), id: "mx-col-" + i });
  col.dataset.index = String(i);
  const kind = i === 0 ? "input" : i === LAST ? "output (" + (e.type === "Softmax" ? "softmax" : "σ") + ")" : typeName(e);
  const head = h("div", { class: "mx-colhead", tabindex: 0, role: "button", id: "mx-colhead-" + i },
    sym(e) + "\n" + kind + " " + e.shape.join("×"));
  head.style.whiteSpace = "pre";
  activate(head, () => select({ kind: "column", li: i }));
  col.appendChild(head);
  if (e.type === "Dropout") {
    col.appendChild(h("div", { class: "mx-note mx-dropnote", id: "mx-dropout-" + i }, "identity after training\n(p = " + e.p + " while training)"));
    return col;
  }
  if (e.shape.length === 3) col.appendChild(mapGrid(e, small));
  else if (e.shape[0] <= 16) {
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
      return (S.mode === "forward" ? "" : "∂C/∂") + A(e) + "[" + k + "] = " + fmt(valuesOf(e)[k]) + flattenOrigin(i, k);
    });
    C.strips[i] = cv;
    col.appendChild(cv);
  }
  col.appendChild(h("div", { class: "mx-colscale", id: "mx-colscale-" + i }));
  return col;
}
function mapGrid(e, small) {
  const i = e.gi, [ch, H, Wd] = e.shape;
  const disp = small ? (ch <= 8 ? 30 : 22) : ch <= 4 ? 84 : ch <= 8 ? 48 : ch <= 16 ? 36 : 29;
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
      return (S.mode === "forward" ? "" : "∂C/∂") + A(e) + "[" + c + "][" + r + "," + q + "] = " + fmt(v);
    });
    grid.appendChild(cv); C.maps[i].push(cv);
  }
  return grid;
}
function drawCNN() {
  const view = clear($("mx-view"));
  const row = h("div", { class: "mx-cnn", id: "mx-cnn" });
  C.maps = {}; C.strips = {};
  LAYERS.forEach((e) => row.appendChild(e.parts ? blockColumn(e) : mapColumn(e)));
  view.appendChild(row);
}
function flattenOrigin(i, k) {
  const p = ENT[i].prev;
  if (ENT[i].type !== "Flatten" || !p || p.shape.length !== 3) return "";
  const [, H, Wd] = p.shape, c = Math.floor(k / (H * Wd)), r = Math.floor((k % (H * Wd)) / Wd), q = k % Wd;
  return "  = " + A(p) + "[" + c + "][" + r + "," + q + "]";
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
  ENT.forEach((e) => {
    const i = e.gi;
    if (!$("mx-colscale-" + i)) return;
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
    return A(prev) + "[" + cin + "][" + y + "," + x + "] = " + fmt(mapAt(prev, "activations", cin, y, x));
  });
  return cv;
}
function outputPicture(e, c, r, q, key, id) {
  const [, H, Wd] = e.shape;
  const cell = Math.max(6, Math.min(16, Math.floor(300 / Math.max(H, Wd))));
  const vals = F(e, key).slice(c * H * Wd, (c + 1) * H * Wd);
  const sc = key === "activations" ? actScale(e) : signedScale(F(e, key));
  const cv = heat(vals, H, Wd, sc, { cw: cell, ch: cell, mark: [r, q], label: "output map; arrow keys move the pixel",
    tip: (y, x, v) => (key === "activations" ? "" : "∂C/∂") + A(e) + "[" + c + "][" + y + "," + x + "] = " + fmt(v) });
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
  const e = ENT[i], prev = e.prev;
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
  $("mx-detail-title").textContent = "Convolution " + A(e) + ": map " + c + " (" + OH + "×" + OW + ")";
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
  row.appendChild(figure(paddedPicture(prev, cin, kh, kw, sh, swd, ph, pw, r, q, "mx-conv-input"), "input " + A(prev) + "[" + cin + "] padded by " + ph));
  row.appendChild(figure(outputPicture(e, c, r, q, "activations", "mx-outmap"), "output " + A(e) + "[" + c + "], pixel (" + r + ", " + q + ")"));
  body.appendChild(row);
  const side = h("div");
  row.appendChild(side);
  body = side;
  body.appendChild(slideControls(e));
  const patch = (y, x) => { const iy = r * sh + y - ph, ix = q * swd + x - pw; return iy < 0 || ix < 0 || iy >= H || ix >= Wd ? null : mapAt(prev, "activations", cin, iy, ix); };
  const f = h("div", { class: "mx-figrow" });
  f.appendChild(figure(numTable(kh, kw, (y, x) => { const v = patch(y, x); return v === null ? ["0", "mx-pad"] : [fmt(v), ""]; }, null, "mx-conv-patch"), "patch"));
  f.appendChild(h("span", { class: "mx-op" }, "⊙"));
  f.appendChild(figure(numTable(kh, kw, (y, x) => [fmt(K[cin][y][x]), ""], null, "mx-conv-kernel"), "kernel " + KN(e) + "[" + c + "," + cin + "]"));
  f.appendChild(h("span", { class: "mx-op" }, "="));
  f.appendChild(figure(numTable(kh, kw, (y, x) => { const v = patch(y, x); return v === null ? ["0", "mx-pad"] : [fmt(v * K[cin][y][x]), ""]; }, null, "mx-conv-products"), "products"));
  body.appendChild(f);
  const value = mapAt(e, "activations", c, r, q);
  const total = partial.reduce((s, v) => s + v, 0);
  let eq = "Σ products (channel " + cin + ") = " + fmt(partial[cin]);
  if (cin_n > 1) eq += "\nΣ over all " + cin_n + " input channels = " + partial.map(fmt).join(" + ") + "\n  = " + fmt(total);
  eq += "\nsum + bias = " + fmt(total) + " + " + par(bias) + " = " + fmt(value) + "  = " + A(e) + "[" + c + "][" + r + "," + q + "]";
  body.appendChild(h("div", { class: "mx-eq", id: "mx-conv-eq" }, eq));
  const sums = h("span", { id: "mx-conv-sum", hidden: "" }, String(total));
  body.appendChild(sums);
  body.appendChild(h("span", { id: "mx-conv-value", hidden: "" }, String(value)));
}
function convBackDetail(body, e, prev, i, c, cin, r, q) {
  const [kh, kw] = e.kernel_size;
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(figure(outputPicture(e, c, r, q, gradKey(e), "mx-outmap"), (S.batch ? "mean " : "") + "∂C/∂" + A(e) + "[" + c + "]"));
  const gk = (key) => (y, x) => [fmt(e[key][c][cin][y][x]), ""];
  row.appendChild(figure(numTable(kh, kw, gk("weight_grad"), null, "mx-conv-kgrad"), "∂C/∂" + KN(e) + "[" + c + "," + cin + "], this example"));
  if (S.batch && e.batch_weight_grad) row.appendChild(figure(numTable(kh, kw, gk("batch_weight_grad"), null, "mx-conv-kgrad-batch"), "mini-batch mean"));
  body.appendChild(row);
  const db = e.bias_grad ? e.bias_grad[c] : null;
  body.appendChild(h("div", { class: "mx-eq", id: "mx-conv-eq" },
    "∂C/∂" + KN(e) + "[" + c + "," + cin + "][u,v] = Σ over output pixels (i,j) of ∂C/∂" + A(e) + "[" + c + "][i,j] × input[" + cin + "][i·s+u-p, j·s+v-p]\n" +
    "∂C/∂" + BN(e) + "[" + c + "] = Σ of the map's gradient = " + fmt(db) +
    (S.batch && e.batch_bias_grad ? "   (mini-batch mean " + fmt(e.batch_bias_grad[c]) + ")" : "")));
}
function poolDetail(i, c) {
  const e = ENT[i], prev = e.prev;
  let body = clear($("mx-detail-body"));
  const [kh, kw] = e.kernel_size, [sh, swd] = e.stride, [ph, pw] = e.padding;
  const [, H, Wd] = prev.shape, [, OH, OW] = e.shape;
  if (S.sel.r === undefined) [S.sel.r, S.sel.q] = defaultPixel(e, c);
  const r = S.sel.r, q = S.sel.q;
  const isMax = e.type === "MaxPool2d";
  $("mx-detail-title").textContent = (isMax ? "Max" : "Average") + " pooling " + A(e) + ": map " + c + " (" + OH + "×" + OW + ")";
  body.appendChild(h("p", { class: "mx-note" }, "window " + kh + "×" + kw + ", stride " + sh + (ph ? ", padding " + ph : "") + ": " + H + "×" + Wd + " → " + OH + "×" + OW +
    (isMax ? ". Each output keeps its window's largest input." : ". Each output is its window's mean.") +
    (sh < kh ? " The windows overlap (stride " + sh + " < window " + kh + "): neighbouring outputs share inputs, and one input can win in several windows." : "")));
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(figure(paddedPicture(prev, c, kh, kw, sh, swd, ph, pw, r, q, "mx-pool-input"), "input " + A(prev) + "[" + c + "]"));
  row.appendChild(figure(outputPicture(e, c, r, q, S.mode === "forward" ? "activations" : gradKey(e), "mx-outmap"), (S.mode === "forward" ? "" : "∂C/∂") + A(e) + "[" + c + "], pixel (" + r + ", " + q + ")"));
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
    "  = " + A(e) + "[" + c + "][" + r + "," + q + "]";
  if (isMax && bestAt) eq += "\nwinner: input (" + (r * sh + bestAt[0] - ph) + ", " + (q * swd + bestAt[1] - pw) + ")";
  if (S.mode === "backward") {
    const gv = mapAt(e, gradKey(e), c, r, q);
    eq += "\nbackward: ∂C/∂(this output) = " + fmt(gv) + (isMax ? " goes to the winner only; the other inputs of the window get 0 from it." : " is shared equally: " + fmt(gv / (kh * kw)) + " each.");
  }
  body.appendChild(h("div", { class: "mx-eq", id: "mx-pool-eq" }, eq));
  if (bestAt) body.appendChild(h("span", { id: "mx-pool-winner", hidden: "" }, (r * sh + bestAt[0] - ph) + "," + (q * swd + bestAt[1] - pw)));
}
function elementwiseDetail(i, c) {
  const e = ENT[i], prev = e.prev, body = clear($("mx-detail-body"));
  const [, H, Wd] = e.shape;
  if (S.sel.r === undefined) [S.sel.r, S.sel.q] = defaultPixel(e, c);
  const r = S.sel.r, q = S.sel.q;
  $("mx-detail-title").textContent = e.type + " " + A(e) + ": map " + c + " (" + H + "×" + Wd + ")";
  const key = S.mode === "forward" ? "activations" : gradKey(e);
  const row = h("div", { class: "mx-figrow" });
  if (prev.shape.length === 3) {
    const pv = F(prev, S.mode === "forward" ? "activations" : gradKey(prev)).slice(c * H * Wd, (c + 1) * H * Wd);
    const cell = Math.max(6, Math.min(16, Math.floor(300 / Math.max(H, Wd))));
    row.appendChild(figure(heat(pv, H, Wd, S.mode === "forward" ? actScale(prev) : signedScale(F(prev, gradKey(prev))), { cw: cell, ch: cell, mark: [r, q],
      tip: (y, x, v) => "input [" + y + "," + x + "] = " + fmt(v) }), (S.mode === "forward" ? "" : "∂C/∂") + "input " + A(prev) + "[" + c + "]"));
  }
  row.appendChild(figure(outputPicture(e, c, r, q, key, "mx-outmap"), (S.mode === "forward" ? "" : "∂C/∂") + A(e) + "[" + c + "]"));
  body.appendChild(row);
  const zin = mapAt(prev, "activations", c, r, q), out = mapAt(e, "activations", c, r, q);
  const sym = { ReLU: "max(0, ", Sigmoid: "σ(", Tanh: "tanh(" }[e.type] || "(";
  let eq = A(e) + "[" + c + "][" + r + "," + q + "] = " + sym + fmt(zin) + ") = " + fmt(out);
  if (S.mode === "backward") eq += "\n∂C/∂(input) = ∂C/∂(output) × local derivative = " + fmt(mapAt(e, "grad", c, r, q)) + " × " +
    fmt(e.local_grad ? mapAt(e, "local_grad", c, r, q) : 1) + " = " + fmt(mapAt(prev, "grad", c, r, q));
  body.appendChild(h("div", { class: "mx-eq", id: "mx-elem-eq" }, eq));
}
function columnDetail(i) {
  const e = ENT[i], body = clear($("mx-detail-body"));
  $("mx-detail-title").textContent = layerTitle(i);
  const key = e.type === "Sigmoid" && i === LAST ? "Sigmoid_out" : e.type;
  body.appendChild(h("p", null, (CNN_TEXT[key] || ["", ""])[S.mode === "forward" ? 0 : 1]));
  if (e.type === "Flatten") return flattenDetail(body, i);
  if (e.type === "BasicBlock" && S.mode === "backward" && !S.batch) body.appendChild(pathGrads(e, 0));
  if (e.type === "Inception") body.appendChild(h("div", { class: "mx-eq", id: "mx-cat-ranges" }, e.branches.map((b) => b.symbol + " (" + BRANCH_TEXT[b.tag] + "): channels " + b.channels[0] + "–" + (b.channels[1] - 1)).join("\n")));
  if (e.shape.length === 3) { body.appendChild(h("p", { class: "mx-note" }, "Click one of its maps to look inside.")); return; }
  const vals = valuesOf(e);
  if (e.type === "Linear" && e.prev) body.appendChild(h("p", { class: "mx-note" }, "z = W a + b with W of shape " + e.shape[0] + "×" + e.prev.shape.join("×") + "."));
  body.appendChild(vecRow((S.mode === "forward" ? "" : "∂C/∂") + e.type + " output", vals, valueScale(e), "mx-col-vec"));
}
function flattenDetail(body, i) {
  const e = ENT[i], p = e.prev;
  if (p.shape.length !== 3) return;
  const [ch, H, Wd] = p.shape;
  body.appendChild(h("p", { class: "mx-eq", id: "mx-flatten-eq" }, ch + " maps of " + H + "×" + Wd + " → one vector of " + ch * H * Wd +
    " numbers:\nv[c·" + H * Wd + " + i·" + Wd + " + j] = " + A(p) + "[c][i,j]"));
  const vals = valuesOf(e), sc = valueScale(e);
  const row = h("div", { class: "mx-figrow" });
  const shown = Math.min(ch, 4);
  for (let c = 0; c < shown; c++) {
    const part = vals.slice(c * H * Wd, (c + 1) * H * Wd);
    row.appendChild(figure(heat(part, H, Wd, sc, { cw: 10, ch: 10, tip: (y, x, v) => A(p) + "[" + c + "][" + y + "," + x + "] = v[" + (c * H * Wd + y * Wd + x) + "] = " + fmt(v) }),
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
        return "∂C/∂" + KN(e) + "[" + o + "," + c + "][" + y + "," + x + "] = " + fmt(vals[((o * Ci + c) * kh + y) * kw + x]);
      } });
    return figure(cv, caption + " (columns: output maps, rows: input maps; " + sc.text + ")", id);
  };
  const row = h("div", { class: "mx-figrow" });
  row.appendChild(make("weight_grad", "∂C/∂" + KN(e) + ", this example", "mx-kgrad-" + i));
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

