"""The explain page's HTML template and style sheet (Python strings, so they ship in the
package without data-file configuration). The script is in ``script.py``.

The template holds only the page's frame; every picture and number is drawn by the
script from the JSON in ``<script type="application/json" id="microgradnn-data">``.
Placeholders (``<!--EXPLAIN_...-->``, ``/*EXPLAIN_...*/``) are replaced exactly once.
"""

from ..html import document_head

__all__ = ["PAGE_TEMPLATE", "PAGE_CSS"]

PAGE_TEMPLATE = document_head("<!--EXPLAIN_TITLE-->", "/*EXPLAIN_CSS*/") + """<header>
  <h1 id="mx-title"><!--EXPLAIN_TITLE--></h1>
  <p id="mx-summary"></p>
</header>
<div id="mx-toolbar" role="toolbar" aria-label="views">
  <span class="mx-group" role="group" aria-label="direction">
    <button type="button" id="mx-mode-forward" aria-pressed="true"
            title="Forward: what the network computes for this image">Forward</button>
    <button type="button" id="mx-mode-backward" aria-pressed="false"
            title="Backward: how each number should move to lower this example's cost">Backward</button>
  </span>
  <button type="button" id="mx-batch" aria-pressed="false"
          title="Show the mini-batch's average gradient, the one gradient descent uses">Whole batch</button>
  <span id="mx-conn-controls">
    <label for="mx-topk">connections per layer</label>
    <input type="range" id="mx-topk" min="0" max="300" step="5" value="40">
    <output id="mx-topk-value" for="mx-topk">40</output>
    <label for="mx-rank">ranked by</label>
    <select id="mx-rank"><option value="wa">|w·a| for this image</option>
      <option value="w">|w|</option></select>
  </span>
  <span id="mx-hint"></span>
</div>
<div id="mx-main">
  <section id="mx-view" aria-label="the network"></section>
  <aside id="mx-detail" aria-live="polite">
    <h2 id="mx-detail-title">Click a neuron or a layer</h2>
    <div id="mx-detail-body"></div>
  </aside>
</div>
<div id="mx-lower">
  <section id="mx-steps" aria-label="backpropagation step by step">
    <h2>Backpropagation, step by step</h2>
    <div class="mx-stepbar">
      <button type="button" id="mx-step-prev" title="Previous step (Left arrow)">&#x25C0; Prev</button>
      <span id="mx-step-counter" aria-live="polite"></span>
      <button type="button" id="mx-step-next" title="Next step (Right arrow)">Next &#x25B6;</button>
    </div>
    <h3 id="mx-step-title"></h3>
    <div id="mx-step-body"></div>
  </section>
  <section id="mx-cost" aria-label="the cost of this example">
    <h2>The cost of this example</h2>
    <div id="mx-cost-body"></div>
  </section>
</div>
<section id="mx-batchinfo" aria-label="the mini-batch"></section>
<footer id="mx-legend" aria-label="legends"></footer>
<div id="mx-tip" role="tooltip" hidden></div>
<script type="application/json" id="microgradnn-data">/*EXPLAIN_DATA*/</script>
<script>/*EXPLAIN_JS*/</script>
</body>
</html>
"""

PAGE_CSS = """
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0 16px 24px; color: #222;
       background: #fff; font-size: 14px; }
h1 { font-size: 20px; margin: 12px 0 2px; }
h2 { font-size: 15px; margin: 6px 0; }
h3 { font-size: 14px; margin: 6px 0; font-weight: normal; }
#mx-summary { margin: 0 0 8px; color: #444; }
#mx-toolbar { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; padding: 6px 0;
              border-bottom: 1px solid #ddd; }
#mx-toolbar button, .mx-stepbar button, .mx-small { font: inherit; padding: 3px 10px;
              border: 1px solid #888; background: #f4f4f4; border-radius: 4px; cursor: pointer; }
#mx-toolbar button[aria-pressed="true"] { background: #08306b; color: #fff; border-color: #08306b; }
#mx-toolbar button:disabled { opacity: 0.45; cursor: not-allowed; }
#mx-hint { color: #555; font-size: 12px; }
#mx-main { display: flex; gap: 16px; align-items: flex-start; margin-top: 8px; }
#mx-view { flex: 0 1 auto; overflow-x: auto; max-width: 70%; }
#mx-detail { flex: 1 1 320px; min-width: 300px; border-left: 1px solid #ddd; padding-left: 12px; }
#mx-lower { display: flex; gap: 16px; align-items: flex-start; margin-top: 10px;
            border-top: 1px solid #ddd; }
#mx-steps { flex: 3 1 500px; min-width: 0; }
#mx-cost { flex: 2 1 320px; min-width: 0; }
.mx-stepbar { display: flex; gap: 8px; align-items: center; }
svg text { font-family: "DejaVu Sans", sans-serif; }
.mx-neuron { cursor: pointer; stroke: #555; stroke-width: 1; }
.mx-neuron:focus { outline: none; stroke: #000; stroke-width: 3; }
.mx-neuron.mx-selected { stroke: #d7191c; stroke-width: 3; }
.mx-layerhead { cursor: pointer; }
.mx-layerhead:focus { outline: 2px solid #000; }
.mx-layerhead rect { fill: #eef2f7; stroke: #99a; }
.mx-layerhead.mx-selected rect, .mx-col.mx-selected .mx-colhead { fill: #fde0c5; stroke: #d7191c; }
.mx-col.mx-current { background: #fff3e6; }
rect.mx-colbg { fill: transparent; }
rect.mx-colbg.mx-current { fill: #fff3e6; }
.mx-conn { fill: none; stroke-linecap: round; }
.mx-out-label { font-size: 13px; }
.mx-pred { font-weight: bold; }
.mx-mono, .mx-eq { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.mx-eq { white-space: pre-wrap; background: #f7f7f7; padding: 6px 8px; border-radius: 4px;
         overflow-wrap: anywhere; }
canvas { image-rendering: pixelated; }
canvas.mx-heat { border: 1px solid #bbb; }
.mx-figrow { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; margin: 6px 0; }
.mx-fig { display: flex; flex-direction: column; align-items: center; gap: 2px; font-size: 12px; }
.mx-op { align-self: center; font-size: 18px; padding: 0 2px; }
table.mx-nums { border-collapse: collapse; font-family: "DejaVu Sans Mono", monospace;
                font-size: 11.5px; }
table.mx-nums td { border: 1px solid #ccc; padding: 1px 4px; text-align: right; min-width: 46px; }
table.mx-nums td.mx-pad { background: repeating-linear-gradient(45deg, #eee, #eee 3px, #fff 3px, #fff 6px);
                          color: #888; }
table.mx-nums td.mx-win { outline: 2px solid #d7191c; font-weight: bold; }
table.mx-nums th { font-weight: normal; color: #555; padding: 1px 4px; }
.mx-vec { display: inline-flex; flex-wrap: wrap; gap: 1px; font-family: "DejaVu Sans Mono", monospace;
          font-size: 11px; }
.mx-vec span { padding: 1px 3px; border-radius: 2px; }
.mx-veclabel { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; margin: 4px 0 2px; }
.mx-cnn { display: flex; gap: 6px; align-items: flex-start; padding-bottom: 6px; }
.mx-col { display: flex; flex-direction: column; align-items: center; gap: 3px; padding: 2px;
          border-radius: 4px; }
.mx-colhead { font-size: 11.5px; text-align: center; white-space: nowrap; padding: 2px 4px;
              border: 1px solid #99a; background: #eef2f7; border-radius: 3px; cursor: pointer; }
.mx-colhead:focus { outline: 2px solid #000; }
.mx-col.mx-selected .mx-colhead { background: #fde0c5; border-color: #d7191c; }
.mx-colscale { font-size: 10.5px; color: #555; text-align: center; }
.mx-maps { display: grid; gap: 3px; }
canvas.mx-map { border: 1px solid #999; cursor: pointer; }
canvas.mx-map:focus { outline: 2px solid #000; }
canvas.mx-map.mx-selected { outline: 3px solid #d7191c; }
canvas.mx-strip { border: 1px solid #999; cursor: crosshair; }
.mx-outrow { font-size: 12px; white-space: nowrap; }
.mx-note { color: #555; font-size: 12px; }
.mx-legend-item { display: inline-flex; align-items: center; gap: 6px; margin: 4px 16px 4px 0;
                  font-size: 12px; }
.mx-bar { display: inline-block; width: 140px; height: 12px; border: 1px solid #999; }
#mx-legend { margin-top: 12px; border-top: 1px solid #ddd; padding-top: 6px; }
#mx-tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 3px 7px;
          border-radius: 3px; font-family: "DejaVu Sans Mono", monospace; font-size: 12px;
          z-index: 10; white-space: pre; }
#mx-batchinfo { margin-top: 8px; }
#mx-batchinfo canvas { border: 1px solid #ccc; margin: 1px; }
.mx-costterms { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
.mx-costterms td { padding: 0 6px; text-align: right; }
.mx-costterms tr.mx-target td { font-weight: bold; background: #fff3e6; }
.mx-hidden { display: none !important; }
.mx-matrix { gap: 3px; flex-wrap: nowrap; }
.mx-matrix canvas.mx-heat { max-width: 200px; }
.mx-kind-cnn #mx-main { flex-direction: column; }
.mx-kind-cnn #mx-view { max-width: 100%; }
.mx-kind-cnn #mx-detail { border-left: none; border-top: 1px solid #ddd; padding-left: 0;
                          align-self: stretch; flex: none; }
"""
