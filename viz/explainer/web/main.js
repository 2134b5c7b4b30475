// The explain page's script, part 6 of 6: selection, refresh and start (see common.js).
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
  if (sel.kind === "plus") { plusDetail(sel.li); return; }
  if (sel.kind === "map") {
    $("mx-map-" + sel.li + "-" + sel.c).classList.add("mx-selected");
    const t = ENT[sel.li].type;
    if (MAP_DETAILS[t]) MAP_DETAILS[t](sel.li, sel.c);
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
  if (D.kind === "mlp") paintMLP(); else { paintCNN(); paintBlocks(); }
  renderDetail();
  renderSteps();
  costPanel();
  legend();
  batchInfo();
}

// ---------------------------------------------------------------- start
summary();
if (D.kind === "mlp") drawMLP(); else drawCNN();
drawArchitecture();
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
