// The explain page's script, part 5 of 6: batch norm, LRN, global pooling, blocks, the architecture (see common.js).
// ---------------------------------------------------------------- blocks in the row of columns
function blockColumn(e) {
  const box = h("div", { class: "mx-block", id: "mx-block-" + e.gi });
  const residual = e.type === "BasicBlock";
  const l = e.layer;
  // the block's output is a[l] unless a pool follows it (then the pool's output is)
  const out = sym(e).startsWith("a[") ? "a[" + l + "] = " : "";
  const head = h("div", { class: "mx-blockhead" }, "layer " + l + ": " + (residual ? "residual block   " + out + "ReLU(F(a[" + (l - 1) + "]) + " +
    (e.shortcut === "identity" ? "a[" + (l - 1) + "]" : "P(a[" + (l - 1) + "])") + ")" : "inception block   " + out + "[a_1x1 ; a_3x3 ; a_5x5 ; a_pool] along the channels"));
  box.appendChild(head);
  const row = h("div", { class: "mx-blockrow" });
  if (residual) residualBody(row, e); else inceptionBody(row, e);
  box.appendChild(row);
  return box;
}
function partsOf(e, role) { return e.parts.filter((p) => p.role === role); }
function pathRow(label, id, cols) {
  const path = h("div", { class: "mx-path", id: id });
  path.appendChild(h("div", { class: "mx-pathlabel" }, label));
  const inner = h("div", { class: "mx-pathcols" });
  cols.forEach((c) => inner.appendChild(c));
  path.appendChild(inner);
  return path;
}
function residualBody(row, e) {
  const l = e.layer, paths = h("div", { class: "mx-paths" });
  paths.appendChild(pathRow("F(a[" + (l - 1) + "]): conv, batch norm, ReLU, conv, batch norm", "mx-path-F-" + e.gi,
    partsOf(e, "F").map((p) => mapColumn(p, true))));
  const shortcut = partsOf(e, "shortcut");
  paths.appendChild(pathRow(shortcut.length ? "shortcut P(a[" + (l - 1) + "]): 1×1 projection (the shape changes), batch norm"
    : "shortcut: the identity, a[" + (l - 1) + "] itself", "mx-path-shortcut-" + e.gi,
    shortcut.length ? shortcut.map((p) => mapColumn(p, true)) : [h("div", { class: "mx-identity" }, "a[" + (l - 1) + "] ───────────▶")]));
  row.appendChild(paths);
  const plus = h("div", { class: "mx-plus", id: "mx-plus-" + e.gi, tabindex: 0, role: "button", "aria-label": "the + of the residual block" });
  plus.appendChild(h("span", { class: "mx-plussign" }, "+"));
  plus.appendChild(h("span", { class: "mx-plusnote", id: "mx-plusnote-" + e.gi }));
  activate(plus, () => select({ kind: "map", li: e.sum.gi, c: 0 }));
  row.appendChild(plus);
  row.appendChild(mapColumn(e.sum, true));
  row.appendChild(h("span", { class: "mx-op" }, "→ ReLU →"));
  row.appendChild(mapColumn(e));
}
function inceptionBody(row, e) {
  const branches = h("div", { class: "mx-branches" });
  e.branches.forEach((b, k) => {
    const box = h("div", { class: "mx-branch", id: "mx-branch-" + e.gi + "-" + k });
    box.appendChild(h("div", { class: "mx-pathlabel" }, "branch " + (k + 1) + ": " + BRANCH_TEXT[b.tag]));
    partsOf(e, b.name).forEach((p) => box.appendChild(mapColumn(p, true)));
    box.appendChild(h("div", { class: "mx-range", id: "mx-range-" + e.gi + "-" + k }, b.symbol + " → channels " + b.channels[0] + "–" + (b.channels[1] - 1)));
    branches.appendChild(box);
  });
  row.appendChild(branches);
  row.appendChild(h("span", { class: "mx-op mx-join" }, "⇒ join along the channels ⇒"));
  row.appendChild(mapColumn(e));
}
const BRANCH_TEXT = { "1x1": "1×1", "3x3": "1×1 then 3×3", "5x5": "1×1 then 5×5", pool: "3×3 max pool then 1×1" };
function paintBlocks() {
  LAYERS.forEach((e) => {
    if (!e.sum) return;
    const g = F(e.sum, gradKey(e.sum));
    $("mx-plusnote-" + e.gi).textContent = S.mode === "forward" ? "F + shortcut"
      : "∂C/∂ at + (largest " + fmt(maxAbs(g)) + ") goes down both paths unchanged";
  });
}

// ---------------------------------------------------------------- details
function pixelOf(e, c) {
  if (S.sel.r === undefined || S.sel.r >= e.shape[1] || S.sel.q >= e.shape[2]) [S.sel.r, S.sel.q] = defaultPixel(e, c);
  return [S.sel.r, S.sel.q];
}
function twoMaps(body, e, inE, c, inC, r, q, inCaption) {
  const row = h("div", { class: "mx-figrow" });
  const fw = S.mode === "forward", key = fw ? "activations" : gradKey(inE);
  const [, H, Wd] = inE.shape, cell = Math.max(6, Math.min(16, Math.floor(300 / Math.max(H, Wd))));
  const pv = F(inE, key).slice(inC * H * Wd, (inC + 1) * H * Wd);
  row.appendChild(figure(heat(pv, H, Wd, fw ? actScale(inE) : signedScale(F(inE, key)), { cw: cell, ch: cell, mark: H === e.shape[1] ? [r, q] : null,
    tip: (y, x, v) => (fw ? "" : "∂C/∂") + A(inE) + "[" + inC + "][" + y + "," + x + "] = " + fmt(v) }), inCaption || ((fw ? "" : "∂C/∂") + A(inE) + "[" + inC + "]")));
  row.appendChild(figure(outputPicture(e, c, r, q, fw ? "activations" : gradKey(e), "mx-outmap"), (fw ? "" : "∂C/∂") + A(e) + "[" + c + "], pixel (" + r + ", " + q + ")"));
  body.appendChild(row);
}
function bnDetail(i, c) {
  const e = ENT[i], z = e.prev, body = clear($("mx-detail-body"));
  const [r, q] = pixelOf(e, c);
  $("mx-detail-title").textContent = "Batch norm " + A(e) + ": map " + c + " (" + e.shape.slice(1).join("×") + ")";
  twoMaps(body, e, z, c, c, r, q);
  const mu = e.running_mean[c], v2 = e.running_var[c], g = e.weight ? e.weight[c] : 1, b = e.bias ? e.bias[c] : 0, eps = e.eps;
  const t = h("table", { class: "mx-nums", id: "mx-bn-stats" });
  [["μ (running mean of map " + c + ")", mu], ["σ² (running variance)", v2], ["ε", eps], ["γ (scale, trained)", g], ["β (shift, trained)", b]].forEach(([k, v]) => {
    const tr = h("tr"); tr.appendChild(h("th", null, k)); tr.appendChild(h("td", null, fmt(v))); t.appendChild(tr);
  });
  body.appendChild(t);
  const zv = mapAt(z, "activations", c, r, q), out = mapAt(e, "activations", c, r, q), s = Math.sqrt(v2 + eps);
  const name = A(e) + "[" + c + "][" + r + "," + q + "]", zn = A(z) + "[" + c + "][" + r + "," + q + "]";
  let eq = name + " = γ (z - μ) / √(σ² + ε) + β   (evaluation: the running μ and σ² saved by training)\n  = " + fmt(g) + " × (" + fmt(zv) + " - " + par(mu) +
    ") / √(" + fmt(v2) + " + " + eps + ") + " + par(b) + "\n  = " + fmt(out);
  if (S.mode === "backward") {
    const gz = mapAt(e, gradKey(e), c, r, q);
    eq += "\n∂C/∂" + zn + " = ∂C/∂" + name + " × γ / √(σ² + ε) = " + fmt(gz) + " × " + fmt(g / s) + " = " + fmt(mapAt(z, gradKey(z), c, r, q)) +
      "\n∂C/∂γ[" + c + "] = Σ over the map of ∂C/∂ẑ × (z - μ)/√(σ² + ε) = " + fmt(e[S.batch ? "batch_weight_grad" : "weight_grad"][c]) +
      "\n∂C/∂β[" + c + "] = Σ over the map of ∂C/∂ẑ = " + fmt(e[S.batch ? "batch_bias_grad" : "bias_grad"][c]);
  }
  body.appendChild(h("div", { class: "mx-eq", id: "mx-bn-eq" }, eq));
  body.appendChild(h("span", { id: "mx-bn-value", hidden: "" }, String(out)));
}
function lrnDetail(i, c) {
  const e = ENT[i], x = e.prev, body = clear($("mx-detail-body"));
  const [r, q] = pixelOf(e, c), C = e.shape[0], n = e.size;
  $("mx-detail-title").textContent = "Local response normalisation " + A(e) + ": map " + c;
  twoMaps(body, e, x, c, c, r, q);
  const lo = Math.max(0, c - Math.floor(n / 2)), hi = Math.min(C - 1, c + Math.floor((n - 1) / 2));
  const t = h("table", { class: "mx-nums", id: "mx-lrn-neighbours" });
  const head = h("tr"), vals = h("tr");
  const sq = [];
  for (let k = lo; k <= hi; k++) {
    const v = mapAt(x, "activations", k, r, q);
    sq.push(v);
    head.appendChild(h("th", null, "map " + k));
    vals.appendChild(h("td", k === c ? { class: "mx-win" } : null, fmt(v)));
  }
  t.appendChild(head); t.appendChild(vals);
  body.appendChild(figure(t, "the neighbours of map " + c + " at (" + r + ", " + q + "): maps " + lo + "…" + hi + " (size n = " + n + ")"));
  const a = mapAt(x, "activations", c, r, q), out = mapAt(e, "activations", c, r, q);
  const sum = sq.reduce((s, v) => s + v * v, 0);
  let eq = A(e) + "[" + c + "][" + r + "," + q + "] = a / (k + α/n · Σ neighbours²)^β\n  = " + fmt(a) + " / (" + e.k + " + " + e.alpha + "/" + n + " × (" +
    sq.map((v) => par(v) + "²").join(" + ") + "))^" + e.beta + "\n  = " + fmt(a) + " / (" + e.k + " + " + e.alpha + "/" + n + " × " + fmt(sum) + ")^" + e.beta + "\n  = " + fmt(out);
  if (S.mode === "backward") eq += "\n∂C/∂(input) here = " + fmt(mapAt(x, gradKey(x), c, r, q)) + "  (each input also feeds its neighbours' denominators)";
  body.appendChild(h("div", { class: "mx-eq", id: "mx-lrn-eq" }, eq));
}
function gapDetail(i, c) {
  const e = ENT[i], x = e.prev, body = clear($("mx-detail-body"));
  const [, H, Wd] = x.shape, n = H * Wd;
  S.sel.r = 0; S.sel.q = 0;
  $("mx-detail-title").textContent = "Global average pooling " + A(e) + ": map " + c;
  twoMaps(body, e, x, c, c, 0, 0);
  const vals = F(x, "activations").slice(c * n, (c + 1) * n), out = mapAt(e, "activations", c, 0, 0);
  const sum = vals.reduce((s, v) => s + v, 0);
  let eq = A(e) + "[" + c + "] = the mean of the " + H + "×" + Wd + " = " + n + " values of " + A(x) + "[" + c + "]\n  = " + fmt(sum) + " / " + n + " = " + fmt(out);
  if (S.mode === "backward") {
    const g = mapAt(e, gradKey(e), c, 0, 0);
    eq += "\nbackward: each of the " + n + " inputs gets ∂C/∂" + A(e) + "[" + c + "] / " + n + " = " + fmt(g) + " / " + n + " = " + fmt(g / n);
  }
  body.appendChild(h("div", { class: "mx-eq", id: "mx-gap-eq" }, eq));
}
function shortcutEntry(b) { const s = partsOf(b, "shortcut"); return s.length ? s[s.length - 1] : b.prev; }
function addDetail(i, c) {
  const s = ENT[i], b = s.block || ENT[i].sum.block, body = clear($("mx-detail-body"));
  const sum = b.sum, fE = partsOf(b, "F").slice(-1)[0], sE = shortcutEntry(b), l = b.layer;
  const [r, q] = pixelOf(sum, c);
  $("mx-detail-title").textContent = "Residual block, layer " + l + ": the + of map " + c;
  const fw = S.mode === "forward";
  const row = h("div", { class: "mx-figrow", id: "mx-add-row" });
  const pic = (e, cap, id) => {
    const [, H, Wd] = e.shape, key = fw ? "activations" : gradKey(e), cell = Math.max(4, Math.min(18, Math.floor(160 / Math.max(H, Wd))));
    const vals = F(e, key).slice(c * H * Wd, (c + 1) * H * Wd);
    return figure(heat(vals, H, Wd, signedScale(F(e, key)), { cw: cell, ch: cell, mark: H === sum.shape[1] ? [r, q] : null,
      tip: (y, x, v) => (fw ? "" : "∂C/∂") + A(e) + "[" + c + "][" + y + "," + x + "] = " + fmt(v) }), cap, id);
  };
  row.appendChild(pic(fE, (fw ? "" : "∂C/∂") + "F(a[" + (l - 1) + "])[" + c + "]", "mx-add-F"));
  row.appendChild(h("span", { class: "mx-op mx-plussign" }, "+"));
  row.appendChild(pic(sE, (fw ? "" : "∂C/∂") + (b.shortcut === "identity" ? "a[" + (l - 1) + "]" : "P(a[" + (l - 1) + "])") + "[" + c + "]", "mx-add-shortcut"));
  row.appendChild(h("span", { class: "mx-op" }, "="));
  const sumPic = pic(sum, (fw ? "" : "∂C/∂") + "sum[" + c + "], pixel (" + r + ", " + q + ")", "mx-add-sum");
  const cv = sumPic.querySelector("canvas");
  cv.addEventListener("click", (ev) => {
    const [fx, fy] = fraction(cv, ev), [, H, Wd] = sum.shape;
    movePixel(Math.max(0, Math.min(H - 1, Math.floor(fy * H))), Math.max(0, Math.min(Wd - 1, Math.floor(fx * Wd))));
  });
  row.appendChild(sumPic);
  body.appendChild(row);
  const at = "[" + c + "][" + r + "," + q + "]";
  const fv = mapAt(fE, "activations", c, r, q), sv2 = mapAt(sE, "activations", c, r, q), tv = mapAt(sum, "activations", c, r, q), out = mapAt(b, "activations", c, r, q);
  let eq = "F(a[" + (l - 1) + "])" + at + " + " + (b.shortcut === "identity" ? "a[" + (l - 1) + "]" : "P(a[" + (l - 1) + "])") + at + " = " + fmt(fv) + " + " + par(sv2) + " = " + fmt(tv) +
    "\na[" + l + "]" + at + " = ReLU(" + fmt(tv) + ") = " + fmt(out);
  if (!fw) {
    const g = mapAt(sum, gradKey(sum), c, r, q);
    eq += "\nbackward: ∂C/∂(sum)" + at + " = ∂C/∂a[" + l + "]" + at + " × ReLU' = " + fmt(mapAt(b, gradKey(b), c, r, q)) + " × " + fmt(mapAt(b, "local_grad", c, r, q)) + " = " + fmt(g) +
      "\nThe + passes it down both paths unchanged: ∂C/∂F" + at + " = " + fmt(mapAt(fE, gradKey(fE), c, r, q)) + ", ∂C/∂(shortcut)" + at + " = " +
      fmt(b.shortcut === "identity" ? g : mapAt(sE, gradKey(sE), c, r, q));
  }
  body.appendChild(h("div", { class: "mx-eq", id: "mx-add-eq" }, eq));
  if (!fw && !S.batch) body.appendChild(pathGrads(b, Math.min(c, b.prev.shape[0] - 1)));
  else if (!fw) body.appendChild(h("p", { class: "mx-note" }, "What each path sends back to a[" + (l - 1) + "] is drawn for this example: switch off “Whole batch” to see it."));
}
// Where the two paths meet again, at a[l-1]: what each sends back, and their sum.
function pathGrads(b, c) {
  const x = b.prev, [, H, Wd] = x.shape, n = H * Wd, l = b.layer;
  const f = F(b.path_grads, "F"), s = b.shortcut === "identity" ? F(b.sum, "grad") : F(b.path_grads, "shortcut"), t = F(x, "grad");
  const sc = signedScale(t), cell = Math.max(4, Math.min(18, Math.floor(160 / Math.max(H, Wd))));
  const wrap = h("div", { id: "mx-paths-" + b.gi });
  wrap.appendChild(h("p", { class: "mx-note" }, "Where the paths meet again, at a[" + (l - 1) + "], their gradients add (map " + c + "): " +
    "the shortcut carries the gradient around F whatever F does, the reason deep ResNets train."));
  const row = h("div", { class: "mx-figrow" });
  const pic = (v, cap, id) => figure(heat(v.slice(c * n, (c + 1) * n), H, Wd, sc, { cw: cell, ch: cell,
    tip: (y, q, val) => cap + "[" + y + "," + q + "] = " + fmt(val) }), cap, id);
  row.appendChild(pic(f, "through F", "mx-path-grad-F"));
  row.appendChild(h("span", { class: "mx-op mx-plussign" }, "+"));
  row.appendChild(pic(s, "through the shortcut", "mx-path-grad-shortcut"));
  row.appendChild(h("span", { class: "mx-op" }, "="));
  row.appendChild(pic(t, "∂C/∂a[" + (l - 1) + "][" + c + "]", "mx-path-grad-total"));
  wrap.appendChild(row);
  return wrap;
}
function catDetail(i, c) {
  const e = ENT[i], body = clear($("mx-detail-body"));
  const k = e.branches.findIndex((b) => c >= b.channels[0] && c < b.channels[1]), b = e.branches[k];
  const src = partsOf(e, b.name).slice(-1)[0], cc = c - b.channels[0];
  const [r, q] = pixelOf(e, c);
  $("mx-detail-title").textContent = "Inception block, layer " + e.layer + ": channel " + c + " of the join";
  twoMaps(body, e, src, c, cc, r, q, "branch " + (k + 1) + ": " + b.symbol + "[" + cc + "]");
  body.appendChild(h("div", { class: "mx-eq", id: "mx-cat-eq" }, A(e) + "[" + c + "] = " + b.symbol + "[" + cc + "]   (branch " + (k + 1) + ", " + BRANCH_TEXT[b.tag] +
    ", channels " + b.channels[0] + "–" + (b.channels[1] - 1) + ")\n" + e.branches.map((x) => x.symbol + ": channels " + x.channels[0] + "–" + (x.channels[1] - 1)).join("\n") +
    (S.mode === "backward" ? "\nbackward: each branch gets its own channels' gradient; at the block's input the four branches' gradients add." : "")));
}
const MAP_DETAILS = { Conv2d: convDetail, MaxPool2d: poolDetail, AvgPool2d: poolDetail, BatchNorm2d: bnDetail,
  LocalResponseNorm: lrnDetail, AdaptiveAvgPool2d: gapDetail, Add: addDetail, BasicBlock: (i, c) => addDetail(ENT[i].sum.gi, c), Inception: catDetail };

// ---------------------------------------------------------------- the architecture diagram
// The SVG of viz.graph.draw_architecture; each layer's node or block's box has the id
// arch_<position in the model>, and clicking it scrolls to that column and opens it.
function drawArchitecture() {
  const box = $("mx-arch");
  if (!D.architecture) { box.classList.add("mx-hidden"); return; }
  const doc = new DOMParser().parseFromString(D.architecture, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") { box.classList.add("mx-hidden"); return; }
  svg.querySelectorAll("script, foreignObject, a").forEach((x) => x.remove());
  svg.querySelectorAll("*").forEach((x) => { for (const at of Array.from(x.attributes)) if (/^on/i.test(at.name)) x.removeAttribute(at.name); });
  const vb = (svg.getAttribute("viewBox") || "0 0 800 300").split(/[\s,]+/).map(Number);
  const scale = Math.min(1, 240 / vb[3]);
  svg.removeAttribute("width"); svg.removeAttribute("height");
  svg.style.width = Math.round(vb[2] * scale) + "px"; svg.style.height = Math.round(vb[3] * scale) + "px";
  svg.setAttribute("id", "mx-arch-svg");
  const holder = $("mx-arch-body");
  holder.appendChild(document.importNode(svg, true));
  holder.querySelectorAll("g[id^='arch_']").forEach((g) => {
    const i = Number(g.id.slice(5)) + 1;  // the model's module p is column p + 1 (after the input)
    g.classList.add("mx-archlink");
    g.setAttribute("tabindex", "0"); g.setAttribute("role", "button");
    activate(g, (ev) => { ev.stopPropagation(); goToColumn(i); });
  });
}
function goToColumn(i) {
  const target = $("mx-block-" + i) || $("mx-col-" + i);
  if (!target) return;
  target.scrollIntoView({ block: "nearest", inline: "center" });
  select({ kind: "column", li: i });
}
