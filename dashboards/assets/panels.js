/* Dashboard panels arrive as escaped HTML strings, one per section (see
 * dashboards/htmlrender.py and pages/dashboard.py): put each in place, draw its
 * plotly figures, and turn a drag-zoom on any graph into a new dashboard time range
 * (hidden input #dv-zoom). Keeping panels out of Dash's component tree is what keeps
 * a 125-panel dashboard fast: Dash's renderer does work per component on every
 * update.
 *
 * Figures are drawn top of the page first, in slices of about a frame, so the
 * first screen appears before the plots further down are drawn. Simple time series are
 * drawn on a canvas (assets/quickplot.js: a fraction of plotly's cost) and become
 * plotly graphs when the pointer first enters them.
 *
 * It also tells the server about the browser (dashboards/viewport.py): the window
 * size (the width sizes each query's step; a dashboard's first screen comes first)
 * and whether WebGL runs on a GPU. */
(function () {
  var CONFIG = { displayModeBar: false, responsive: true, doubleClick: false, scrollZoom: false };
  var SLICE_MS = 30;
  var scheduled = false;

  function setCookie(name, value) {
    document.cookie = name + '=' + value + '; path=/; max-age=31536000; SameSite=Lax';
  }

  function reportSize() {
    setCookie('spyglass_vw', String(Math.round(window.innerWidth || 1600)));
    setCookie('spyglass_vh', String(Math.round(window.innerHeight || 1000)));
  }

  // Who draws WebGL: a software rasteriser (SwiftShader, llvmpipe) takes seconds
  // for a large WebGL graph that SVG draws in a fraction of one. Found once per
  // browser, in idle time, so it never delays a page.
  function reportWebGL() {
    var kind = null;
    try { kind = window.localStorage.getItem('spyglass_gl'); } catch (e) { /* private mode */ }
    if (!kind) {
      kind = 'none';
      try {
        var canvas = document.createElement('canvas');
        var gl = canvas.getContext('webgl') || canvas.getContext('experimental-webgl');
        if (gl) {
          var info = gl.getExtension('WEBGL_debug_renderer_info');
          var renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
          kind = /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer) ? 'software' : 'gpu';
          var lose = gl.getExtension('WEBGL_lose_context');
          if (lose) lose.loseContext();
        }
      } catch (e) { kind = 'none'; }
      try { window.localStorage.setItem('spyglass_gl', kind); } catch (e) { /* private mode */ }
    }
    setCookie('spyglass_gl', kind);
  }

  reportSize();
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(reportSize, 200);
  });
  (window.requestIdleCallback || function (f) { setTimeout(f, 1000); })(reportWebGL);

  function sendZoom(a, b, id) {
    var target = document.getElementById(id || 'dv-zoom');
    if (!target) return;
    var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
    setter.call(target, JSON.stringify([a, b, Date.now()]));
    target.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function onZoom(plot) {
    plot.on('plotly_relayout', function (ev) {
      var a = ev['xaxis.range[0]'], b = ev['xaxis.range[1]'];
      if (a === undefined && Array.isArray(ev['xaxis.range'])) {
        a = ev['xaxis.range'][0]; b = ev['xaxis.range'][1];
      }
      if (a !== undefined && b !== undefined) sendZoom(a, b);
    });
  }

  function plotly(plot, fig) {
    return window.Plotly.newPlot(plot, fig.data, fig.layout, CONFIG).then(function () {
      plot.setAttribute('data-drawn', '1');
      onZoom(plot);
      return plot;
    });
  }

  // A quick-drawn panel becomes a plotly graph (hover, zoom) when first pointed at.
  function hydrate(plot) {
    if (plot.__sgHydrated || !window.Plotly) return Promise.resolve(plot);
    plot.__sgHydrated = true;
    var canvas = plot.querySelector('canvas.sg-quick');
    if (canvas) canvas.remove();
    return plotly(plot, JSON.parse(plot.getAttribute('data-figure')));
  }
  window.spyglassHydrate = hydrate;

  function quick(plot, fig, width) {
    window.SpyglassQuickPlot.draw(plot, fig, width);
    plot.setAttribute('data-drawn', '1');
    plot.setAttribute('data-quick', '1');
    plot.addEventListener('pointerenter', function () { hydrate(plot); }, { once: true });
  }

  // Draws plots (quickly when it can, with plotly otherwise) for about SLICE_MS.
  function drawBatch(plots) {
    var figs = plots.map(function (p) { return JSON.parse(p.getAttribute('data-figure')); });
    var canQuick = figs.map(function (f) { return !!window.SpyglassQuickPlot && window.SpyglassQuickPlot.quickable(f); });
    // read every width first, then draw: one layout for the batch, not one per plot
    var widths = plots.map(function (p, i) { return canQuick[i] ? p.clientWidth : 0; });
    plots.forEach(function (p, i) {
      p.__sgDrawn = true;
      if (canQuick[i]) quick(p, figs[i], widths[i]); else plotly(p, figs[i]);
    });
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

  // The plots still to draw, in page order (the top of the page first). Deciding
  // what is on screen would cost a layout of the whole page per batch.
  function pending() {
    return Array.prototype.filter.call(document.querySelectorAll('.sg-plot:not([data-drawn])'),
                                       function (p) { return !p.__sgDrawn; });
  }

  function drawSome() {
    scheduled = false;
    if (!window.Plotly) { setTimeout(schedule, 50); return; }  // plotly.js still loading
    var todo = pending().filter(function (p) { return p.isConnected; });
    var t0 = performance.now();
    while (todo.length && performance.now() - t0 < SLICE_MS) {
      drawBatch(todo.splice(0, 8));
    }
    // yield so the browser paints what is drawn, then carry on
    if (todo.length) setTimeout(drawSome, 0);
  }

  // quick drawings have a fixed size: draw them again when the window changes width
  var redrawTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(redrawTimer);
    redrawTimer = setTimeout(function () {
      document.querySelectorAll('.sg-plot[data-quick]').forEach(function (p) {
        if (p.__sgHydrated) return;
        var old = p.querySelector('canvas.sg-quick');
        if (old) old.remove();
        window.SpyglassQuickPlot.draw(p, JSON.parse(p.getAttribute('data-figure')), p.clientWidth);
      });
    }, 250);
  });

  function scan() {
    scheduled = false;
    attachExplore();
    document.querySelectorAll('.sg-html').forEach(update);
    drawSome();
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
