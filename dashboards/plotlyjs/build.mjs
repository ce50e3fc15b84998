// Builds ../assets/vendor/plotly-spyglass.min.js from the pinned plotly.js
// release with the same esbuild settings plotly.js uses for its own dist files
// (glsl shaders inlined, CSS inlined, a global `Plotly`). See README.md.
import { build } from 'esbuild';
import { environmentPlugin } from 'esbuild-plugin-environment';
import { glsl } from 'esbuild-plugin-glsl';
import InlineCSSPlugin from 'esbuild-plugin-inline-css';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const version = JSON.parse(readFileSync(join(here, 'node_modules/plotly.js/package.json'))).version;
// run from a copy outside the source tree (node_modules stays out of it)
const outfile = process.argv[2] || join(here, '..', 'assets', 'vendor', 'plotly-spyglass.min.js');

// registry.js always inlines maplibre-gl's stylesheet (83 kB), used only by map
// traces, which this bundle does not register: resolve it to nothing.
const noMapStyles = {
    name: 'no-map-styles',
    setup(b) {
        b.onResolve({ filter: /^maplibre-gl\/dist\/maplibre-gl\.css$/ }, () => ({ path: 'empty', namespace: 'no-map-styles' }));
        b.onLoad({ filter: /.*/, namespace: 'no-map-styles' }, () => ({ contents: '', loader: 'js' }));
    },
};

const result = await build({
    entryPoints: [join(here, 'entry.js')],
    outfile,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'eof',
    banner: { js: `/* plotly.js v${version} (MIT), partial bundle for Spyglass: scatter, scattergl, bar, heatmap */` },
    plugins: [noMapStyles, InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'info',
    metafile: true,
});

// Every npm package that ended up in the bundle, with its version and licence,
// next to the bundle (the minified file keeps only the licence comments).
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (!m || packages.has(m[1])) continue;
    const pkg = JSON.parse(readFileSync(join(here, 'node_modules', m[1], 'package.json')));
    packages.set(m[1], `${m[1]}@${pkg.version} ${typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license)}`);
}
writeFileSync(outfile.replace(/\.min\.js$/, '.packages.txt'),
    '# npm packages bundled into ' + outfile.split('/').pop() + ' (name@version licence)\n' +
    [...packages.values()].sort().join('\n') + '\n');
