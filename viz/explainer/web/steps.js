// The explain page's script, part 3 of 6: the cost and the steps of both views (see common.js).
// ---------------------------------------------------------------- the cost
function costPanel() {
  const body = clear($("mx-cost-body"));
  const out = LAYERS[LAST], a = F(out, "activations"), y = D.target, L = D.kind === "mlp" ? NL : out.layer;
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
      el.appendChild(h("p", null, "Digit " + D.prediction + (SOFTMAX ? " with probability " : ": ") + outputText(D.prediction) +
        (D.prediction === D.label ? " — the label." : "; the label is " + D.label + " (" + outputText(D.label) + ").")));
      el.appendChild(SOFTMAX ? vecRow("softmax probabilities", D.probabilities, actScale({ type: "Softmax", activations: D.probabilities }), "mx-step-p")
        : vecRow("a[" + L + "] = σ(z[" + L + "]), the output activations", F(LAYERS[LAST], "activations"), actScale(LAYERS[LAST]), "mx-step-p"));
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
  Dropout: ["Dropout is off after training: the identity, every value passes unchanged. (While training it sets each value to 0 with probability p and multiplies the others by 1/(1-p), so no neuron can rely on one other.)",
            "Dropout is off after training: the gradient passes unchanged."],
  BatchNorm2d: ["Batch norm: each map c becomes ẑ = γ (z - μ) / √(σ² + ε) + β, with the mean μ and variance σ² training saved for that map (evaluation mode), and a trained scale γ and shift β per map.",
                "Back through batch norm (evaluation): ∂C/∂z = ∂C/∂ẑ × γ / √(σ² + ε) per map; ∂C/∂β sums the map's gradient, ∂C/∂γ sums it times (z - μ)/√(σ² + ε)."],
  LocalResponseNorm: ["Local response normalisation divides each value by (k + α/n × the sum of squares of the same pixel in n neighbouring maps)^β: a map that fires strongly damps its neighbours.",
                      "Back through LRN: each value's gradient comes from its own output and from the denominators of its neighbours."],
  AdaptiveAvgPool2d: ["Global average pooling: each map becomes one number, its mean (no weights: it replaces big fully connected layers).",
                      "Back through global average pooling: each map's gradient is shared equally by its pixels, g / (H·W) each."],
  BasicBlock: ["A residual block: two paths from a[l-1], F (conv, batch norm, ReLU, conv, batch norm) and the shortcut (the identity, or a 1×1 projection where the shape changes), added at + before the ReLU: a[l] = ReLU(F(a[l-1]) + shortcut).",
               "Back through a residual block: the gradient arrives at + and goes down both paths unchanged; where the paths meet again, at a[l-1], the two gradients add. The shortcut carries the gradient around F, whatever F does."],
  Inception: ["An inception block: four branches read the same a[l-1] side by side (1×1; 1×1 then 3×3; 1×1 then 5×5; 3×3 max pool then 1×1) and their maps are joined along the channels.",
              "Back through an inception block: each branch gets the gradient of its own channels; at the block's input the four branches' gradients add."],
  Softmax: ["Softmax turns the ten scores into probabilities that sum to 1.", "The cost's gradient with respect to the probabilities: -1/a at the label, 0 elsewhere (cross-entropy)."],
  Sigmoid_out: ["σ turns each score into an output in 0..1 (the lectures' outputs).", "The cost's gradient with respect to the outputs: 2 (a - y)."],
};
function cnnSteps() {
  const fw = S.mode === "forward";
  const order = range(LAYERS.length);
  if (!fw) order.reverse();
  return order.map((i) => {
    const e = LAYERS[i];
    const key = e.type === "Sigmoid" && i === LAST ? "Sigmoid_out" : e.type;
    return { col: i, title: (fw ? "" : "∂C/∂ ") + layerTitle(i), body: (el) => {
      el.appendChild(h("p", null, (CNN_TEXT[key] || ["", ""])[fw ? 0 : 1]));
      if (!fw && e.type === "Conv2d") kernelGrads(el, i);
      if (!fw && i === 0) saliency(el);
      if (!fw && e.type === "BasicBlock" && !S.batch) el.appendChild(pathGrads(e, 0));
      if (e.type === "Inception") el.appendChild(h("div", { class: "mx-eq" }, e.branches.map((b) => b.symbol + " (" + BRANCH_TEXT[b.tag] + "): channels " + b.channels[0] + "–" + (b.channels[1] - 1)).join("\n")));
      if (e.shape.length === 1 && e.shape[0] <= 16) el.appendChild(vecRow(fw ? "values" : "∂C/∂(values)", valuesOf(e), valueScale(e)));
    } };
  });
}
function renderSteps() {
  if (!S.steps) S.steps = D.kind === "mlp" ? mlpSteps() : cnnSteps();
  const steps = S.steps;
  S.step = Math.max(0, Math.min(steps.length - 1, S.step));
  const st = steps[S.step];
  $("mx-steps-title").textContent = S.mode === "forward" ? "The forward pass, step by step" : "Backpropagation, step by step";
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

