// The lecture's equations as exercises on the explain page (explain(..., practice=True)).
// Reads only the page's JSON: every answer is a number the page already holds (the
// engine's gradients: dC/dz of each Linear layer is δ, weight_grad, bias_grad); this script
// picks which entry to ask, shows the numbers the equation needs, and compares.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("microgradnn-data").textContent);
  const J = D.practice.judge;  // thresholds, written once in Python (viz.steps.practice)
  const $ = (id) => document.getElementById(id);

  function h(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function flat(v) { return Array.isArray(v) ? v.flat(Infinity) : [v]; }
  function fmt(x) {  // the page's number format: 4 decimals, 4-digit scientific outside
    const m = Math.abs(x);
    if (m >= 1e6 || (m > 0 && m < 1e-4)) return x.toExponential(4);
    const t = x.toFixed(4);
    return t === "-0.0000" ? "0.0000" : t;
  }
  // Half a unit of the last digit shown: what "right" allows.
  function rightTolerance(x) {
    const m = Math.abs(x);
    if (m >= 1e6 || (m > 0 && m < 1e-4)) return 0.5 * Math.pow(10, Number(x.toExponential(4).split("e")[1]) - 4);
    return 0.5e-4;
  }
  const parse = window.mgJudge.parse;  // viz/web/judge.js, placed before this script
  const verdict = (typed, x) => window.mgJudge.verdict(typed, x, rightTolerance(x), J);
  function argmaxAbs(a) {
    let best = 0;
    a.forEach((v, i) => { if (Math.abs(v) > Math.abs(a[best])) best = i; });
    return best;
  }

  // ------------------------------------------------ the layers, in the lectures' names
  // Linear layer l (1..L): z[l] is its output, δ[l] its output's gradient dC/dz[l];
  // a[l-1] is what it reads (the entry before it); σ'(z[l]) the local_grad of the
  // activation after it (of the output entry for the last layer, under the mse cost).
  const layers = D.layers, linear = [];
  layers.forEach((e, i) => {
    if (e.type !== "Linear") return;
    const next = layers[i + 1];
    linear.push({entry: e, before: layers[i - 1], act: next && next.local_grad ? next : null});
  });
  const L = linear.length;
  const lay = (l) => linear[l - 1];
  const delta = (l) => flat(lay(l).entry.grad);

  // ------------------------------------------------ the exercises
  const exercises = [];
  const top = lay(L);
  const softmax = D.loss_fn === "cross-entropy";
  exercises.push({
    title: "δ[L] = ∂C/∂a[L] ⊙ σ'(z[L]), for every output neuron j (L = " + L + ")",
    rule: softmax ? "with softmax and cross-entropy, δ[L][j] = a[L][j] - y[j]"
      : "C = Σ_j (a[L][j] - y[j])², so δ[L][j] = 2 (a[L][j] - y[j]) σ'(z[L][j])",
    given: [["j"].concat(flat(D.target).map((_, j) => String(j))),
            ["a[L][j]"].concat(flat(layers[layers.length - 1].activations).map(fmt)),
            ["y[j]"].concat(flat(D.target).map(fmt))].concat(softmax ? [] :
            [["σ'(z[L][j])"].concat(flat(top.act.local_grad).map(fmt))]),
    asks: delta(L).map((x, j) => ({label: "δ[" + L + "][" + j + "]", value: x})),
  });
  const mlp = top.entry.weight !== undefined;
  const l = mlp && L >= 2 ? L - 1 : L;  // the layer of exercises 2 to 4
  const j = argmaxAbs(delta(l));
  if (mlp && L >= 2) {
    const W = lay(L).entry.weight, dUp = delta(L);
    exercises.push({
      title: "One entry of δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ σ'(z[l]): δ[" + l + "][" + j + "]",
      rule: "δ[" + l + "][" + j + "] = (Σ_k w[" + L + "][k," + j + "] δ[" + L + "][k]) σ'(z[" + l +
        "][" + j + "])",
      given: [["k"].concat(dUp.map((_, k) => String(k))),
              ["w[" + L + "][k," + j + "]"].concat(W.map((row) => fmt(row[j]))),
              ["δ[" + L + "][k]"].concat(dUp.map(fmt)),
              ["σ'(z[" + l + "][" + j + "])", fmt(flat(lay(l).act.local_grad)[j])]],
      asks: [{label: "δ[" + l + "][" + j + "]", value: delta(l)[j]}],
    });
  }
  if (mlp) {
    const prev = flat(lay(l).before.activations), k = argmaxAbs(prev);
    exercises.push({
      title: "One weight's gradient ∂C/∂w[" + l + "][" + j + "," + k + "]",
      rule: "∂C/∂w[l][j,k] = a[l-1][k] δ[l][j]",
      given: [["δ[" + l + "][" + j + "]", fmt(delta(l)[j])],
              ["a[" + (l - 1) + "][" + k + "]", fmt(prev[k])]],
      asks: [{label: "∂C/∂w[" + l + "][" + j + "," + k + "]", value: lay(l).entry.weight_grad[j][k]}],
    });
    exercises.push({
      title: "One bias's gradient ∂C/∂b[" + l + "][" + j + "]",
      rule: "∂C/∂b[l][j] = δ[l][j]: z moves one for one with its bias",
      given: [["δ[" + l + "][" + j + "]", fmt(delta(l)[j])]],
      asks: [{label: "∂C/∂b[" + l + "][" + j + "]", value: flat(lay(l).entry.bias_grad)[j]}],
    });
  }

  // ------------------------------------------------ the panel
  const state = exercises.map((ex) => ex.asks.map(() => ({tries: 0, status: "open"})));
  const box = h("section", {id: "mx-practice", "aria-label": "practice"});
  box.appendChild(h("h2", null, "Practice: the lecture's equations on this example"));
  box.appendChild(h("p", {class: "mx-pr-intro"}, "Compute each number from the ones given " +
    "(they are this page's), type it and Check (Enter). Right means right to the 4 digits " +
    "shown; after " + J.tries + " tries the answer is shown. Each exercise opens when the one " +
    "before it is done." + (mlp ? "" : " This network's fully connected weights are not in " +
    "the page, so only δ[L] is asked.")));
  const list = h("div", {id: "mx-pr-list"});
  box.appendChild(list);
  const score = h("p", {id: "mx-pr-score"});
  box.appendChild(score);
  const anchor = $("mx-legend");
  anchor.parentNode.insertBefore(box, anchor);

  function givenTable(rows) {
    const t = h("table", {class: "mx-pr-given"});
    rows.forEach((row) => {
      const tr = h("tr");
      row.forEach((cell, i) => tr.appendChild(h(i === 0 ? "th" : "td", null, cell)));
      t.appendChild(tr);
    });
    return t;
  }
  function done(e) { return state[e].every((s) => s.status !== "open"); }
  function showScore() {
    let right = 0, first = 0, shown = 0, total = 0;
    state.forEach((ss) => ss.forEach((s) => {
      total += 1;
      if (s.status === "right") { right += 1; if (s.tries === 1) first += 1; }
      if (s.status === "shown") shown += 1;
    }));
    const finished = state.every((ss, e) => done(e));
    score.textContent = (finished ? "All done. Score: " : "Score so far: ") + right + " of " +
      total + " right (" + first + " at the first try), " + shown + " shown.";
    score.classList.toggle("mx-pr-final", finished);
  }

  function exercise(e, focus) {
    const ex = exercises[e];
    const card = h("div", {class: "mx-pr-card", id: "mx-pr-" + e});
    card.appendChild(h("h3", null, (e + 1) + ". " + ex.title));
    card.appendChild(givenTable(ex.given));
    const hint = h("p", {class: "mx-pr-hint"}, "Hint: " + ex.rule);
    hint.hidden = true;
    const inputs = ex.asks.map((ask, i) => {
      const row = h("div", {class: "mx-pr-field"});
      const label = h("label", null, ask.label + " = ");
      const input = h("input", {type: "text", inputmode: "decimal", autocomplete: "off",
                                "data-ask": String(i)});
      label.appendChild(input);
      row.appendChild(label);
      row.appendChild(h("span", {class: "mx-pr-verdict"}));
      card.appendChild(row);
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); check(); } });
      return input;
    });
    card.appendChild(hint);
    const button = h("button", {type: "button", class: "mx-pr-check"}, "Check");
    card.appendChild(button);
    button.addEventListener("click", check);
    list.appendChild(card);
    if (focus) inputs[0].focus({preventScroll: true});

    function check() {
      inputs.forEach((input, i) => {
        const st = state[e][i], ask = ex.asks[i];
        if (st.status !== "open") return;
        const said = input.parentNode.parentNode.querySelector(".mx-pr-verdict");
        const typed = parse(input.value);
        if (typed === null) return;
        if (isNaN(typed)) { said.textContent = "not a number"; said.className = "mx-pr-verdict mx-pr-wrong"; return; }
        st.tries += 1;
        const v = verdict(typed, ask.value);
        if (v === "right") {
          st.status = "right";
          said.textContent = "right";
        } else {
          hint.hidden = false;
          said.textContent = (v === "close" ? "close" : "wrong") + " (try " + st.tries + " of " + J.tries + ")";
          if (st.tries >= J.tries) {
            st.status = "shown";
            input.value = fmt(ask.value);
            said.textContent = "shown after " + J.tries + " tries: " + fmt(ask.value);
          }
        }
        said.className = "mx-pr-verdict mx-pr-" + (st.status === "open" ? v : st.status);
        if (st.status !== "open") input.disabled = true;
      });
      showScore();
      if (done(e)) {
        button.hidden = true;
        if (e + 1 < exercises.length) exercise(e + 1, true);
      }
    }
  }
  exercise(0, false);
  showScore();
  document.body.dataset.practice = "1";
})();
