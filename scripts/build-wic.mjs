// Builds wwsf-static/vendor/jssip.js: JsSIP (pinned in package-lock.json) and its three small
// dependencies as ONE ES module for the browser. The npm package ships CommonJS only (no dist/
// build since 3.10), so this wraps each CommonJS file in a function and resolves require() the
// way Node does, preferring a package's "browser" entry. No bundler dependency is needed: JsSIP's
// requires are all static string literals. Run by `make build` (scripts/build-wic.sh) and by the
// browser tests; rewrites the file only when its content changes.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeModules = path.join(root, 'node_modules');
const out = path.join(root, 'wwsf-static', 'vendor', 'jssip.js');

function asFile(p) {
  for (const c of [p, `${p}.js`, `${p}.json`, path.join(p, 'index.js')]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  return null;
}

function resolve(spec, fromFile) {
  if (spec.startsWith('.')) {
    const f = asFile(path.resolve(path.dirname(fromFile), spec));
    if (!f) throw new Error(`cannot resolve ${spec} from ${fromFile}`);
    return f;
  }
  const dir = path.join(nodeModules, spec);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const entry = typeof pkg.browser === 'string' ? pkg.browser : pkg.main || 'index.js';
  const f = asFile(path.resolve(dir, entry));
  if (!f) throw new Error(`cannot resolve package ${spec}`);
  return f;
}

const ids = new Map(); // absolute file -> module number
const modules = [];
function add(file) {
  if (ids.has(file)) return ids.get(file);
  const id = modules.length;
  ids.set(file, id);
  modules.push(null);
  let src = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    src = `module.exports = ${src};`;
  } else {
    src = src.replace(/\brequire\(\s*(['"])([^'"]+)\1\s*\)/g, (_, q, spec) => `__req(${add(resolve(spec, file))})`);
  }
  modules[id] = `/* ${path.relative(nodeModules, file)} */ function (module, exports, __req) {\n${src}\n}`;
  return id;
}

const version = JSON.parse(fs.readFileSync(path.join(nodeModules, 'jssip', 'package.json'), 'utf8')).version;
const entry = add(resolve('jssip', root));
// JsSIP's parser too: the page checks each incoming message with it, because the UA drops an
// unparsable one without an event (wwsf-static/phone.js watchMalformed).
const parser = add(path.join(path.dirname(resolve('jssip', root)), 'Parser.js'));
const text = `// JsSIP ${version} (MIT, https://jssip.net) bundled by scripts/build-wic.mjs. Do not edit.
const __defs = [
${modules.join(',\n')}
];
const __cache = [];
function __req(id) {
  if (__cache[id]) return __cache[id].exports;
  const module = (__cache[id] = { exports: {} });
  __defs[id].call(module.exports, module, module.exports, __req);
  return module.exports;
}
const JsSIP = __req(${entry});
export default JsSIP;
export const Parser = __req(${parser});
`;
fs.mkdirSync(path.dirname(out), { recursive: true });
if (!fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== text) {
  fs.writeFileSync(out, text);
  console.log(`build-wic: wrote ${path.relative(root, out)} (JsSIP ${version}, ${modules.length} modules)`);
}
