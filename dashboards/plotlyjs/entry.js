// The plotly.js bundle the Spyglass UI ships: only the trace types its panels
// draw (see README.md). The full bundle is 4.8 MB of JavaScript that every cold
// page load parses; this one is about a third of that.
'use strict';

var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),        // timeseries panels drawn as bars
    require('plotly.js/lib/heatmap'),    // heatmap panels
    require('plotly.js/lib/scattergl'),  // large timeseries and Explore (WebGL)
]);

module.exports = Plotly;
