// The backprop stepper as a quiz: on the page only with save_stepper(..., practice=True),
// placed before page.js, which calls attach(), limit() and rendered(k).
// Every answer is a number the Python side embedded (the engine's own); this script only
// compares a typed number with it, with the thresholds in data.practice.judge. Each
// backward step hides its local derivatives and results until they are answered or shown.
(function () {
  "use strict";
  var api = null, quiz = null, questions = {}, judge = null;
  var state = {};  // "step:term:field" -> {tries, status: "open" | "right" | "shown", typed}
  var shownStep = null;  // the step whose questions the panel holds
  var FIELDS = ["local", "after"];

  function el(id) { return document.getElementById(id); }
  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function key(s, t, f) { return s + ":" + t + ":" + f; }
  function stateOf(s, t, f) {
    var k = key(s, t, f);
    if (!state[k]) state[k] = {tries: 0, status: "open", typed: ""};
    return state[k];
  }
  function isDone(s, t, f) {
    return questions[s][t][f].value === null || stateOf(s, t, f).status !== "open";
  }
  function stepDone(s) {
    if (!questions[s]) return true;
    for (var t = 0; t < questions[s].length; t++) {
      if (!isDone(s, t, "local") || !isDone(s, t, "after")) return false;
    }
    return true;
  }
  function stepIndices() {
    return Object.keys(questions).map(Number).sort(function (a, b) { return a - b; });
  }
  // The last frame the learner may see: the first step not yet answered (frame = index + 1).
  function limit() {
    var open = stepIndices().filter(function (s) { return !stepDone(s); });
    return open.length ? open[0] + 1 : api.data.steps.length;
  }

  var parse = window.mgJudge.parse;  // viz/web/judge.js, placed before this script
  function verdict(typed, answer) {
    return window.mgJudge.verdict(typed, answer.value, answer.right, judge);
  }

  function score() {
    var right = 0, first = 0, shown = 0;
    Object.keys(state).forEach(function (k) {
      var st = state[k];
      if (st.status === "right") { right += 1; if (st.tries === 1) first += 1; }
      if (st.status === "shown") shown += 1;
    });
    return {right: right, first: first, shown: shown, total: quiz.count};
  }
  function showScore() {
    var sc = score(), finished = stepIndices().every(stepDone);
    var line = sc.right + " of " + sc.total + " answers right (" + sc.first +
      " at the first try), " + sc.shown + " shown after " + judge.tries + " tries";
    var box = el("mg-quiz-score");
    box.textContent = (finished ? "Quiz done. Score: " : "Score so far: ") + line + ".";
    box.classList.toggle("mg-final", finished);
  }

  // Hide what the current step has not been answered yet: the operands' gradients, the
  // numbers on its edges, its caption and the cells of its table; and every local
  // derivative on an edge whose question is still open, in this step or a later one.
  function mask(k) {
    Object.keys(api.view).forEach(function (id) {
      if (api.view[id].g) api.view[id].g.classList.remove("mg-quiz-open");
    });
    stepIndices().forEach(function (s) {
      questions[s].forEach(function (q, t) {
        if (isDone(s, t, "local")) return;
        var ev = api.edgeView[q.edge];
        for (var i = 0; ev && i < ev.local.length; i++) {
          ev.local[i].textContent = ev.local[i].getAttribute("data-prefix") + "?";
        }
      });
    });
    var s = k - 1;
    if (!questions[s] || stepDone(s)) return;
    // Every row of the step's table and every gradient it sets: a row with a question
    // opens as it is answered; the others (a neuron's rows below its δ) with the step.
    var rows = el("mg-terms-body").rows;
    (api.data.steps[s].terms || []).forEach(function (term, t) {
      var q = questions[s][t];
      var localOpen = !!q && !isDone(s, t, "local"), afterOpen = q ? !isDone(s, t, "after") : true;
      var ev = api.edgeView[term.edge], v = api.view[term.operand];
      if (ev && (localOpen || afterOpen)) {
        for (var i = 0; i < ev.contrib.length; i++) {
          ev.contrib[i].textContent = (ev.contrib[i].getAttribute("data-prefix") || "") + "?";
        }
      }
      if (v && afterOpen) {
        for (var j = 0; j < v.grad.length; j++) v.grad[j].textContent = "?";
        if (v.g) v.g.classList.add("mg-quiz-open");  // its colour would tell the answer
      }
      var cells = rows[t] ? rows[t].cells : [];
      if (cells.length > 5) {
        if (localOpen) cells[1].textContent = "?";
        if (localOpen || afterOpen) cells[3].textContent = "?";
        if (afterOpen) cells[5].textContent = "?";
      }
    });
    el("mg-caption").textContent = questions[s].map(function (q) { return q.line; }).join("\n");
    // the last step's phase says every gradient is computed: not until it is answered
    el("mg-phase").textContent = el("mg-phase").textContent.replace(/\. Done: .*$/, ": your turn.");
  }

  function hintFor(q, field) {
    return field === "local" ? "Rule: " + (q.rule || "see the op") + ". Here: " + q.here + "."
      : "Chain rule: " + q.chain + ".";
  }

  function fieldRow(s, t, field) {
    var q = questions[s][t], answer = q[field], st = stateOf(s, t, field);
    var row = make("div", "mg-q-field");
    var label = make("label", "mg-q-label", field === "local" ? q.localLabel + " (local derivative)"
      : q.afterLabel);
    var input = make("input", "mg-q-input");
    input.type = "text";
    input.setAttribute("inputmode", "decimal");
    input.setAttribute("autocomplete", "off");
    input.setAttribute("data-step", s);
    input.setAttribute("data-term", t);
    input.setAttribute("data-field", field);
    label.appendChild(input);
    var said = make("span", "mg-verdict"), hint = make("div", "mg-hint");
    hint.hidden = true;
    row.appendChild(label);
    row.appendChild(said);
    row.appendChild(hint);
    if (answer.value === null) {
      input.value = answer.text;
      input.disabled = true;
      said.textContent = "not a finite number: shown";
    } else if (st.status !== "open") {
      input.value = st.status === "shown" ? answer.text : st.typed;
      input.disabled = true;
      said.textContent = st.status === "right" ? "right" : "shown after " + judge.tries + " tries";
      said.className = "mg-verdict mg-" + st.status;
    }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); check(); }
      if (event.key === "Escape") input.blur();
    });
    return row;
  }

  function build(k) {
    var s = k - 1, box = el("mg-quiz-questions");
    shownStep = s;
    while (box.firstChild) box.removeChild(box.firstChild);
    var open = questions[s] && !stepDone(s);
    el("mg-quiz-check").hidden = !questions[s] || stepDone(s);
    if (!questions[s]) {
      box.appendChild(make("p", "mg-q-none", k === 0 ? "Press Next to start."
        : "Nothing to answer at this step: press Next."));
      return;
    }
    questions[s].forEach(function (q, t) {
      var group = make("div", "mg-q");
      FIELDS.forEach(function (field) { group.appendChild(fieldRow(s, t, field)); });
      box.appendChild(group);
    });
    if (open) {
      var first = box.querySelector("input:not([disabled])");
      if (first) first.focus({preventScroll: true});
    }
  }

  function check() {
    var s = shownStep;
    if (!questions[s]) return;
    var inputs = el("mg-quiz-questions").querySelectorAll("input.mg-q-input");
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.disabled) return;
      var t = Number(input.getAttribute("data-term")), field = input.getAttribute("data-field");
      var q = questions[s][t], answer = q[field], st = stateOf(s, t, field);
      var row = input.closest(".mg-q-field"), said = row.querySelector(".mg-verdict");
      var hint = row.querySelector(".mg-hint"), typed = parse(input.value);
      if (typed === null) return;
      if (isNaN(typed)) {
        said.textContent = "not a number: type e.g. -0.5 or 1.2e-3";
        said.className = "mg-verdict mg-wrong";
        return;
      }
      st.tries += 1;
      st.typed = input.value.trim();
      var v = verdict(typed, answer);
      if (v === "right") {
        st.status = "right";
        said.textContent = "right";
      } else {
        var sign = v === "wrong" && verdict(-typed, answer) !== "wrong";
        said.textContent = v === "close" ? "close: right to about " +
          Math.round(100 * judge.closeRelative) + "%, not to the digits shown (try " + st.tries +
          " of " + judge.tries + ")" : "wrong" + (sign ? ": check the sign" : "") + " (try " +
          st.tries + " of " + judge.tries + ")";
        hint.textContent = hintFor(q, field);
        hint.hidden = false;
        if (st.tries >= judge.tries) {
          st.status = "shown";
          input.value = answer.text;
          said.textContent = "shown after " + judge.tries + " tries: " + answer.text;
        }
      }
      said.className = "mg-verdict mg-" + (st.status === "open" ? v : st.status);
      if (st.status !== "open") input.disabled = true;
    });
    showScore();
    if (stepDone(s)) {
      el("mg-quiz-check").hidden = true;
      api.go(api.frame());  // show the step's numbers now
      el("mg-next").focus({preventScroll: true});
    } else {
      api.go(api.frame());  // show what is answered so far
      var open = el("mg-quiz-questions").querySelector("input:not([disabled])");
      if (open) open.focus({preventScroll: true});
    }
  }

  function attach(stepper) {
    api = stepper;
    quiz = api.data.practice;
    questions = quiz.questions;
    judge = quiz.judge;
    var panel = make("section", "");
    panel.id = "mg-quiz";
    panel.setAttribute("aria-live", "polite");
    panel.appendChild(make("div", "mg-quiz-head", "Your turn: type each local derivative and " +
      "the gradient it leaves, then Check (Enter; Esc leaves the box for the arrow keys). " +
      "Next unlocks once a step is answered."));
    var list = make("div", "");
    list.id = "mg-quiz-questions";
    panel.appendChild(list);
    var button = make("button", "", "Check");
    button.type = "button";
    button.id = "mg-quiz-check";
    button.addEventListener("click", check);
    panel.appendChild(button);
    var sc = make("div", "");
    sc.id = "mg-quiz-score";
    panel.appendChild(sc);
    var caption = el("mg-caption-box");
    caption.parentNode.insertBefore(panel, caption.nextSibling);
    showScore();
  }

  function rendered(k) {
    mask(k);
    if (shownStep !== k - 1) build(k);
    showScore();
  }

  window.mgPractice = {attach: attach, limit: limit, rendered: rendered};
})();
