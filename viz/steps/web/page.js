
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mg-data").textContent);
  var steps = data.steps, nodes = data.nodes, total = steps.length;
  var nodeIds = Object.keys(nodes);
  var frame = 0, timer = null, fit = true;
  var svg = document.querySelector("#mg-graph svg");
  var practice = window.mgPractice || null;  // the quiz (practice.js), when on the page

  function el(id) { return document.getElementById(id); }
  function texts(group, cls) { return group ? group.querySelectorAll("text." + cls) : []; }
  function setText(nodes, prefix, value) {
    for (var i = 0; i < nodes.length; i++) {
      var p = nodes[i].getAttribute("data-prefix") || "";
      nodes[i].textContent = (prefix ? p : "") + value;
    }
  }
  function setClass(element, name, on) { if (element) element.classList.toggle(name, !!on); }

  // Look every element up once: frames only change classes and texts.
  var view = {};
  nodeIds.forEach(function (id) {
    var g = el(id);
    view[id] = {g: g, op: el(id + "_op"), out: el(id + "_out"),
                data: texts(g, "mg-data"), grad: texts(g, "mg-grad")};
  });
  var edgeView = {};
  Object.keys(data.edges).forEach(function (e) {
    var g = el(e), local = texts(g, "mg-local");
    edgeView[e] = {g: g, target: data.edges[e].target, contrib: texts(g, "mg-contrib"), local: local,
                   localText: Array.prototype.map.call(local, function (t) { return t.textContent; })};
  });

  // The state after the first k steps, replayed from the start (cheap, and a
  // slider jump lands on exactly the same picture as stepping there).
  function stateAt(k) {
    var st = {known: {}, grad: {}, used: {}, passed: {}};
    nodeIds.forEach(function (id) { st.known[id] = !data.hasForward || nodes[id].leaf; });
    for (var i = 0; i < k; i++) {
      var s = steps[i];
      if (s.kind === "forward") { st.known[s.node] = true; }
      else if (s.kind === "seed") { st.grad[s.node] = s.gradText; }
      else {
        s.terms.forEach(function (t) { st.grad[t.operand] = t.after; st.used[t.edge] = t.contribution; });
      }
    }
    return st;
  }

  function caption(k) {
    var phase, text = "", terms = [];
    if (k === 0) {
      phase = data.hasForward
        ? "Start: only the leaves are known. Next runs the forward pass, one node at a time."
        : "Start: the forward pass has computed every value. Next starts backpropagation.";
    } else {
      var s = steps[k - 1], where = s.name + (nodes[s.node].op ? " (" + nodes[s.node].op + ")" : "");
      if (s.kind === "forward") phase = "Forward pass: compute " + where;
      else if (s.kind === "seed") phase = "Backward pass: start at the output " + s.name + " with gradient 1";
      else phase = "Backward pass at " + where + ": its gradient " + s.upstreamText +
        " flows to its " + s.terms.length + " operand" + (s.terms.length === 1 ? "" : "s");
      if (s.phase) phase = s.phase;
      if (k === total) phase += ". Done: every gradient is computed.";
      text = s.text; terms = s.terms;
    }
    el("mg-phase").textContent = phase;
    el("mg-caption").textContent = text;
    var body = el("mg-terms-body");
    while (body.firstChild) body.removeChild(body.firstChild);
    terms.forEach(function (t) {
      var row = document.createElement("tr");
      [t.operandName, t.localText ? t.localText + (t.local ? " = " + t.local : "") : "",
       t.upstream !== undefined ? t.upstream : steps[k - 1].upstreamText, t.contribution,
       t.before, t.after].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    el("mg-terms").classList.toggle("mg-empty", terms.length === 0);
  }

  function render(k) {
    var st = stateAt(k), cur = k > 0 ? steps[k - 1] : null;
    var receiving = {}, usedNow = {};
    if (cur) {
      cur.edges.forEach(function (e) { usedNow[e] = true; });
      (cur.operands || []).forEach(function (id) { receiving[id] = true; });
      cur.terms.forEach(function (t) { receiving[t.operand] = true; });
    }
    nodeIds.forEach(function (id) {
      var v = view[id], g = v.g, has = id in st.grad;
      setText(v.data, false, st.known[id] ? nodes[id].dataText : "?");
      setClass(g, "mg-value-pending", !st.known[id]);
      setText(v.grad, false, has ? st.grad[id] : "?");
      setClass(g, "mg-grad-pending", !has);
      setClass(g, "mg-grad-partial", has && k - 1 < nodes[id].final);
      var isCur = cur !== null && cur.node === id;
      setClass(g, "mg-current", isCur);
      setClass(v.op, "mg-current", isCur && cur.kind !== "seed");
      setClass(v.out, "mg-used", isCur && cur.kind !== "seed");
      setClass(g, "mg-receiving", !!receiving[id] && !isCur);
    });
    Object.keys(edgeView).forEach(function (e) {
      var v = edgeView[e], done = e in st.used, known = st.known[v.target];
      setText(v.contrib, true, done ? st.used[e] : "?");
      // A local derivative exists once its op has run (forward pass); before, "?".
      for (var i = 0; i < v.local.length; i++) {
        v.local[i].textContent = known ? v.localText[i] : v.local[i].getAttribute("data-prefix") + "?";
      }
      setClass(v.g, "mg-pending", !done);
      setClass(v.g, "mg-used", !!usedNow[e]);
    });
    caption(k);
    el("mg-counter").textContent = k + " / " + total;
    el("mg-slider").value = String(k);
    el("mg-prev").disabled = el("mg-first").disabled = k === 0;
    el("mg-next").disabled = el("mg-last").disabled = k === total;
    if (cur && view[cur.node].g) reveal(view[cur.node].g);
    if (practice) practice.rendered(k);
  }

  // Scroll the graph box (not the page) to centre the current node when it is out of view.
  function reveal(g) {
    var box = el("mg-graph"), r = g.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.left < b.left || r.right > b.right) {
      box.scrollLeft += (r.left + r.right) / 2 - (b.left + b.right) / 2;
    }
    if (r.top < b.top || r.bottom > b.bottom) {
      box.scrollTop += (r.top + r.bottom) / 2 - (b.top + b.bottom) / 2;
    }
  }

  function go(k) {
    frame = Math.max(0, Math.min(practice ? practice.limit() : total, k));
    render(frame);
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    el("mg-play").textContent = "\u25B6 Play";
  }
  function play() {
    if (frame === total) go(0);
    el("mg-play").textContent = "\u275A\u275A Pause";
    timer = setInterval(function () {
      if (frame >= total) { stop(); return; }
      go(frame + 1);
    }, Number(el("mg-speed").value));
  }
  function toggle() { if (timer === null) play(); else stop(); }
  // "Fit to window" never shrinks text below MIN_FIT of its size (about 8 px): a graph
  // too big for that is shown at MIN_FIT with scroll bars, and the note says so.
  var MIN_FIT = 0.6;
  function zoom() { fit = !fit; applyZoom(); }
  function applyZoom() {
    var note = "";
    if (svg) {
      var vb = svg.viewBox && svg.viewBox.baseVal, natural = vb ? vb.width * 4 / 3 : 0;
      var room = el("mg-graph").clientWidth - 16;
      if (!fit || !vb) {
        svg.style.width = vb ? natural + "px" : "100%";
      } else if (room >= natural * MIN_FIT) {
        svg.style.width = room + "px";
      } else {
        svg.style.width = (natural * MIN_FIT) + "px";
        note = "The whole graph does not fit at a readable size (its text would be " +
          Math.round(100 * room / natural) + "% of full size): shown at " +
          Math.round(100 * MIN_FIT) + "%, scroll to see the rest.";
      }
      svg.style.maxWidth = "none";
    }
    el("mg-zoom").textContent = fit ? "Actual size" : "Fit to window";
    el("mg-zoom-note").textContent = note;
    if (frame > 0 && view[steps[frame - 1].node].g) reveal(view[steps[frame - 1].node].g);
  }

  el("mg-title").textContent = data.title;
  el("mg-note").textContent = data.note || "";
  // A page of one step per neuron: clicking a box opens its own scalar steps.
  var detail = data.detail || {};
  Object.keys(detail).forEach(function (id) {
    var g = el(id);
    if (!g) return;
    g.classList.add("mg-clickable");
    g.addEventListener("click", function () {
      el("mg-detail-head").textContent = "The scalar steps of " + nodes[id].name +
        ", as the engine's backward pass did them:";
      el("mg-detail-text").textContent = detail[id];
      el("mg-detail").hidden = false;
    });
  });
  el("mg-detail-close").addEventListener("click", function () { el("mg-detail").hidden = true; });
  el("mg-slider").max = String(total);
  el("mg-first").addEventListener("click", function () { stop(); go(0); });
  el("mg-prev").addEventListener("click", function () { stop(); go(frame - 1); });
  el("mg-next").addEventListener("click", function () { stop(); go(frame + 1); });
  el("mg-last").addEventListener("click", function () { stop(); go(total); });
  el("mg-play").addEventListener("click", toggle);
  el("mg-zoom").addEventListener("click", zoom);
  window.addEventListener("resize", function () { if (fit) applyZoom(); });
  el("mg-speed").addEventListener("change", function () { if (timer !== null) { stop(); play(); } });
  el("mg-slider").addEventListener("input", function () { stop(); go(Number(this.value)); });
  document.addEventListener("keydown", function (event) {
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || event.altKey || event.ctrlKey || event.metaKey) return;
    if (tag === "BUTTON" && (event.key === " " || event.key === "Enter")) return;  // the button's own click
    var keys = {ArrowRight: function () { stop(); go(frame + 1); },
                ArrowLeft: function () { stop(); go(frame - 1); },
                Home: function () { stop(); go(0); }, End: function () { stop(); go(total); },
                " ": toggle};
    if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
  });
  // Fit small graphs to the window; show big ones at full size (scroll) so text stays legible.
  var vb0 = svg && svg.viewBox && svg.viewBox.baseVal;
  fit = !(vb0 && vb0.width * 4 / 3 <= el("mg-graph").clientWidth * 1.6);
  // Open on the first step (the output and its seed gradient), scrolled into view.
  if (practice) practice.attach({data: data, view: view, edgeView: edgeView, go: go,
                                 frame: function () { return frame; }});
  go(Math.min(1, total));
  zoom();
})();
