/* Dashboard panels arrive as one escaped HTML string per panel (see
 * dashboards/htmlrender.py): put each in place, draw its plotly figures, and turn a
 * drag-zoom on any graph into a new dashboard time range (hidden input #dv-zoom).
 * Keeping panels out of Dash's component tree is what keeps a 125-panel
 * dashboard fast: Dash's renderer does work per component on every update. */
(function () {
  var CONFIG = { displayModeBar: false, responsive: true, doubleClick: false, scrollZoom: false };
  var scheduled = false;

  function sendZoom(a, b, id) {
    var target = document.getElementById(id || 'dv-zoom');
    if (!target) return;
    var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
    setter.call(target, JSON.stringify([a, b, Date.now()]));
    target.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function draw(plot) {
    if (plot.__sgDrawn || !window.Plotly) return false;
    plot.__sgDrawn = true;
    var fig = JSON.parse(plot.getAttribute('data-figure'));
    window.Plotly.newPlot(plot, fig.data, fig.layout, CONFIG).then(function () {
      plot.setAttribute('data-drawn', '1');
      plot.on('plotly_relayout', function (ev) {
        var a = ev['xaxis.range[0]'], b = ev['xaxis.range[1]'];
        if (a === undefined && Array.isArray(ev['xaxis.range'])) {
          a = ev['xaxis.range'][0]; b = ev['xaxis.range'][1];
        }
        if (a !== undefined && b !== undefined) sendZoom(a, b);
      });
    });
    return true;
  }

  function update(host) {
    var markup = host.getAttribute('data-html');
    if (host.__sgHtml === markup) return;
    if (window.Plotly) {
      host.querySelectorAll('.sg-plot.js-plotly-plot').forEach(function (p) { window.Plotly.purge(p); });
    }
    host.__sgHtml = markup;
    host.innerHTML = markup;
  }

  // Explore's graph is a dcc.Graph; its zooms go to #ex-zoom the same way (a Dash
  // input on relayoutData would also fire on autosize and supersede the query).
  function attachExplore() {
    var gd = document.querySelector('#ex-graph .js-plotly-plot') ||
             document.querySelector('#ex-graph.js-plotly-plot');
    if (!gd || gd.__sgZoom || typeof gd.on !== 'function') return;
    gd.__sgZoom = true;
    gd.on('plotly_relayout', function (ev) {
      var a = ev['xaxis.range[0]'], b = ev['xaxis.range[1]'];
      if (a === undefined && Array.isArray(ev['xaxis.range'])) {
        a = ev['xaxis.range'][0]; b = ev['xaxis.range'][1];
      }
      if (a !== undefined && b !== undefined) sendZoom(a, b, 'ex-zoom');
    });
  }

  function scan() {
    scheduled = false;
    attachExplore();
    document.querySelectorAll('.sg-html').forEach(update);
    var waiting = false;
    document.querySelectorAll('.sg-plot').forEach(function (p) {
      if (!p.__sgDrawn && !draw(p)) waiting = true;
    });
    if (waiting) setTimeout(schedule, 50);  // plotly.js is still loading
  }

  function schedule() {
    if (!scheduled) { scheduled = true; window.requestAnimationFrame(scan); }
  }

  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var r = records[i];
      if (r.type === 'attributes' || r.addedNodes.length) { schedule(); return; }
    }
  }).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ['data-html']
  });
})();
