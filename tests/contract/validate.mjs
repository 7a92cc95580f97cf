// Validates recorded answers against openapi.yaml: node validate.mjs SPEC LOG.
// LOG has one JSON object a line, {method, url, prefix, status, headers, body}
// (tests/lib/assert.sh's req() writes them). For each answer: the path and
// method are an operation of the document (or a known path's 405, or an
// unknown path's 404), its status is one of the operation's responses, the
// response's required headers are there and every header it names matches
// its schema, and the body matches the response's content for its
// Content-Type (ajv, JSON Schema 2020-12, with ajv-formats). Prints one line
// per drift and exits 1 when there was any.
import fs from 'node:fs';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [specPath, logPath] = process.argv.slice(2);
const doc = YAML.parse(fs.readFileSync(specPath, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, 'api');

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
// Follows a $ref of the document: [object, its JSON pointer].
function deref(obj, ptr) {
  while (obj && obj.$ref) {
    ptr = obj.$ref.slice(1);
    obj = ptr.split('/').slice(1).reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return [obj, ptr];
}
const compiled = new Map();
function check(ptr, value) {
  if (!compiled.has(ptr)) compiled.set(ptr, ajv.compile({ $ref: 'api#' + ptr }));
  const v = compiled.get(ptr);
  return v(value) ? null : ajv.errorsText(v.errors);
}
// The document's path templates as regexes, most literal first; a
// parameter named *_path may span segments (what a client sends there).
const templates = Object.keys(doc.paths)
  .map((t) => ({ t, re: new RegExp('^' + t.replace(/\{[^}]+_path\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
                 literal: t.replace(/\{[^}]+\}/g, '').length }))
  .sort((a, b) => b.literal - a.literal);
const apiPrefixes = ['/media/', '/stream/', '/notifications/', '/uploads', '/live/', '/healthz', '/readyz', '/metrics'];

const drifts = [];
let checked = 0, nginxPages = 0;
const lines = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8').split('\n').filter(Boolean) : [];
for (const line of lines) {
  const a = JSON.parse(line);
  const u = new URL(a.url);
  let path = decodeURIComponent(u.pathname);
  if (a.prefix && path.startsWith(a.prefix + '/')) path = path.slice(a.prefix.length);
  else if (a.prefix) continue; // outside the mount: not the app's
  if (!apiPrefixes.some((p) => path === p || path.startsWith(p))) continue; // nginx's own files
  const status = String(a.status);
  const headers = {};
  for (const h of a.headers.split(/\r?\n/).slice(1)) {
    const i = h.indexOf(':');
    if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] ??= h.slice(i + 1).trim();
  }
  const where = `${a.method} ${u.pathname}${u.search ? '?…' : ''} → ${status}`;
  const drift = (msg) => drifts.push(`${where}: ${msg}`);
  checked++;
  const tpl = templates.find((x) => x.re.test(path));
  const method = a.method === 'HEAD' ? 'get' : a.method.toLowerCase();
  let op = tpl && doc.paths[tpl.t][method];
  let opPtr = tpl && `/paths/${esc(tpl.t)}/${method}`;
  if (!tpl || !op) {
    // An unknown path is 404, a known one's other method 405, both the error body.
    const want = tpl ? '405' : '404';
    if (status !== want && !(status === '503' || status === '413')) {
      drift(`${tpl ? 'no such operation' : 'no such path'} in the contract, and not ${want}`);
      continue;
    }
    op = { responses: { [status]: doc.components.responses[{ '404': 'NotFound', '405': 'MethodNotAllowed',
      '503': 'Unavailable', '413': 'TooLarge' }[status]] } };
    opPtr = null;
  }
  let resp = op.responses[status];
  let rptr = opPtr ? `${opPtr}/responses/${status}` : `/components/responses/${{ '404': 'NotFound',
    '405': 'MethodNotAllowed', '503': 'Unavailable', '413': 'TooLarge' }[status]}`;
  if (!resp) { drift(`status ${status} is not in the contract (${Object.keys(op.responses).join(', ')})`); continue; }
  [resp, rptr] = deref(resp, rptr);
  // nginx's built-in HTML pages (a request line it cannot parse) are not
  // the app's answers: checked only where the contract names text/html.
  if ((headers['content-type'] || '').startsWith('text/html') && !headers['x-request-id'] &&
      !(resp.content && resp.content['text/html'])) { nginxPages++; checked--; continue; }
  for (const [name, h0] of Object.entries(resp.headers || {})) {
    const [h, hptr] = deref(h0, `${rptr}/headers/${esc(name)}`);
    const v = headers[name.toLowerCase()];
    if (v === undefined) { if (h.required) drift(`header ${name} missing`); continue; }
    const err = check(`${hptr}/schema`, v);
    if (err) drift(`header ${name}: ${JSON.stringify(v)}: ${err}`);
  }
  const body = a.body ?? '';
  if (a.method === 'HEAD') continue; // curl -I prints the headers as the body
  if (status === '204' || status === '304') {
    if (body !== '') drift('a body where there must be none');
    continue;
  }
  if (!resp.content) { if (body !== '') drift('a body the contract does not describe'); continue; }
  const ctype = (headers['content-type'] || '').toLowerCase();
  const key = Object.keys(resp.content).find((k) => k.toLowerCase() === ctype) ||
              Object.keys(resp.content).find((k) => k.split(';')[0] === ctype.split(';')[0]);
  if (!key) { drift(`Content-Type ${ctype || '(none)'} is not in the contract (${Object.keys(resp.content).join(', ')})`); continue; }
  if (key.startsWith('application/json')) {
    let value;
    try { value = JSON.parse(body); } catch (e) { drift(`body is not JSON: ${body.slice(0, 120)}`); continue; }
    const err = check(`${rptr}/content/${esc(key)}/schema`, value);
    if (err) drift(`body ${body.slice(0, 200)}: ${err}`);
  }
}
for (const d of drifts) console.log('contract: ' + d);
console.log(`contract: ${checked} answers checked against ${specPath.split('/').pop()}, ${drifts.length} drifts` +
            (nginxPages ? ` (${nginxPages} of nginx's own HTML pages left aside)` : ''));
process.exit(drifts.length ? 1 : 0);
