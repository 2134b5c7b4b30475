"""The stepper page's template, style sheet and script (kept as Python strings so
they ship inside the package without any data-file configuration).

The script never uses ``innerHTML``: every user string reaches the page through
``textContent``. It restyles the SVG laid out once by ``dot`` through classes on
elements found by id; no element is ever created inside the SVG or moved.
"""

from ..html import document_head

__all__ = ["PAGE_TEMPLATE", "PAGE_CSS", "PAGE_JS"]

# Placeholders are replaced exactly once each by viz.steps.page.
PAGE_TEMPLATE = document_head("<!--STEPPER_TITLE-->", "/*STEPPER_CSS*/") + """<header><h1 id="mg-title"></h1></header>
<div id="mg-controls" role="toolbar" aria-label="step controls">
  <button type="button" id="mg-first" title="First frame (Home)">&#x21E4; First</button>
  <button type="button" id="mg-prev" title="Previous step (Left arrow)">&#x25C0; Prev</button>
  <button type="button" id="mg-play" title="Play or pause (Space)">&#x25B6; Play</button>
  <button type="button" id="mg-next" title="Next step (Right arrow)">Next &#x25B6;</button>
  <button type="button" id="mg-last" title="Last frame (End)">Last &#x21E5;</button>
  <input type="range" id="mg-slider" min="0" max="0" value="0" aria-label="step">
  <span id="mg-counter" aria-live="polite"></span>
  <label>speed <select id="mg-speed">
    <option value="2000">slow</option><option value="1000" selected>normal</option>
    <option value="400">fast</option></select></label>
  <button type="button" id="mg-zoom" title="Fit the graph to the window, or show it at full size">Actual size</button>
  <span id="mg-zoom-note" aria-live="polite"></span>
</div>
<section id="mg-caption-box" aria-live="polite">
  <div id="mg-phase"></div>
  <pre id="mg-caption"></pre>
  <table id="mg-terms"><thead><tr><th>operand</th><th>local derivative</th>
    <th>&#xD7; upstream</th><th>= adds</th><th>its grad: before</th><th>after</th></tr></thead>
    <tbody id="mg-terms-body"></tbody></table>
</section>
<section id="mg-detail" hidden aria-live="polite">
  <button type="button" id="mg-detail-close" title="Close">&#xD7;</button>
  <div id="mg-detail-head"></div>
  <pre id="mg-detail-text"></pre>
</section>
<div id="mg-graph"><!--STEPPER_SVG--></div>
<footer id="mg-legend">
  <span class="mg-key mg-key-current">current node, edges just used</span>
  <span class="mg-key mg-key-receiving">operands receiving gradient</span>
  <span class="mg-key mg-key-pending">? not computed yet</span>
  <span class="mg-key mg-key-partial">gradient still accumulating</span>
  <span>Keys: &#x2190; &#x2192; step, Space play, Home/End.</span>
  <span id="mg-note"></span>
</footer>
<script type="application/json" id="mg-data">/*STEPPER_DATA*/</script>
<script>/*STEPPER_JS*/</script>
</body>
</html>
"""

PAGE_CSS = """
html, body { height: 100%; }
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0; color: #222; background: #fff;
  display: flex; flex-direction: column; }
header, #mg-controls, #mg-caption-box, #mg-legend { flex: none; }
header { padding: .4rem 1rem; background: #f3f3f3; border-bottom: 1px solid #ddd; }
h1 { font-size: 1.15rem; margin: 0; overflow-wrap: anywhere; }
#mg-controls { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; padding: .4rem 1rem; }
#mg-controls button { font-size: .95rem; padding: .2rem .6rem; cursor: pointer; }
#mg-slider { flex: 1; min-width: 10rem; }
#mg-counter { font-family: "DejaVu Sans Mono", monospace; min-width: 6rem; }
#mg-caption-box { padding: .3rem 1rem .5rem; border-top: 1px solid #eee; border-bottom: 1px solid #ddd;
  min-height: 7rem; max-height: 55vh; overflow: auto; }
#mg-zoom-note { font-size: .85rem; color: #8a4b00; }
#mg-detail { flex: none; max-height: 30vh; overflow: auto; padding: .3rem 1rem; background: #fafafa;
  border-bottom: 1px solid #ddd; }
#mg-detail[hidden] { display: none; }
#mg-detail-head { font-weight: bold; }
#mg-detail-close { float: right; }
#mg-detail-text { font-family: "DejaVu Sans Mono", monospace; font-size: .85rem; margin: .2rem 0;
  white-space: pre-wrap; }
.mg-clickable { cursor: pointer; }
#mg-phase { font-weight: bold; overflow-wrap: anywhere; }
#mg-caption { font-family: "DejaVu Sans Mono", monospace; font-size: 1.05rem; color: #b3141b;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; }
#mg-terms { border-collapse: collapse; font-size: .85rem; }
#mg-terms.mg-empty { display: none; }
#mg-terms th, #mg-terms td { border: 1px solid #ddd; padding: .1rem .5rem; text-align: right; }
#mg-terms th { background: #f6f6f6; font-weight: normal; }
#mg-terms td:first-child, #mg-terms th:first-child { text-align: left; }
#mg-terms td { font-family: "DejaVu Sans Mono", monospace; }
#mg-graph { flex: 1 1 auto; min-height: 12rem; overflow: auto; padding: .5rem; }
#mg-graph svg { display: block; height: auto; }
#mg-legend { font-size: .8rem; color: #555; padding: .4rem 1rem; display: flex; gap: 1.2rem; flex-wrap: wrap; }
.mg-key::before { content: ""; display: inline-block; width: .9em; height: .9em; margin-right: .3em;
  vertical-align: -.1em; border: 2px solid #999; background: #fff; }
.mg-key-current::before { border-color: #d62728; }
.mg-key-receiving::before { border-color: #1f77b4; }
.mg-key-pending::before { border-style: dashed; }
.mg-key-partial::before { background: #fff3b0; }

/* pending: not computed yet */
g.node.mg-value-pending .mg-outline { stroke-dasharray: 4 3; }
g.node.mg-value-pending text.mg-data { fill: #9a9a9a; font-style: italic; }
g.node.mg-grad-pending .mg-grad-bg { fill: #ffffff; }
g.node.mg-grad-pending text.mg-grad { fill: #9a9a9a; font-style: italic; }
g.node.mg-grad-partial .mg-grad-bg { fill: #fff3b0; }
g.node.mg-grad-partial text.mg-grad { fill: #000000; }
g.edge.mg-pending path { stroke: #c4c4c4; stroke-width: 1px; stroke-dasharray: 4 3; }
g.edge.mg-pending polygon { stroke: #c4c4c4; fill: #c4c4c4; stroke-width: 1px; }
g.edge.mg-pending text.mg-contrib { fill: #9a9a9a; }
/* this step */
g.node.mg-receiving .mg-outline { stroke: #1f77b4; stroke-width: 3px; }
g.node.mg-current .mg-outline { stroke: #d62728; stroke-width: 4px; stroke-dasharray: none; }
g.edge.mg-used path { stroke: #d62728; stroke-width: 3.5px; stroke-dasharray: none; }
g.edge.mg-used polygon { stroke: #d62728; fill: #d62728; stroke-width: 2px; }
g.edge.mg-used text { fill: #d62728; font-weight: bold; }
"""

PAGE_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mg-data").textContent);
  var steps = data.steps, nodes = data.nodes, total = steps.length;
  var nodeIds = Object.keys(nodes);
  var frame = 0, timer = null, fit = true;
  var svg = document.querySelector("#mg-graph svg");

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
    frame = Math.max(0, Math.min(total, k));
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
  go(Math.min(1, total));
  zoom();
})();
"""
