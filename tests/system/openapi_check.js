// Checks live responses against the response schemas of an OpenAPI 3.1 document.
// Usage: node openapi_check.js DOCUMENT SAMPLES; SAMPLES is a JSON list of
// {"method","route","status","body"}. Prints one line per failure; exits 1 if any.
// Covers the JSON Schema keywords keel-node's document uses, and refuses any other, so
// that a keyword it does not know cannot pass unchecked.
'use strict';
const fs = require('fs');
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const samples = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const known = new Set(['$ref', 'type', 'properties', 'additionalProperties', 'items', 'enum',
  'required', 'pattern', 'minimum', 'maximum', 'format', 'contentEncoding', 'minLength',
  'maxLength', 'description']);

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function check(schema, value, at, errors) {
  for (const k of Object.keys(schema))
    if (!known.has(k)) errors.push(`${at}: the checker does not know keyword '${k}'`);
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    return check(doc.components.schemas[name], value, at, errors);
  }
  const t = typeOf(value);
  if (schema.type && !(schema.type === t || (schema.type === 'number' && t === 'integer')))
    return errors.push(`${at}: ${JSON.stringify(value)} is ${t}, not ${schema.type}`);
  if (schema.enum && !schema.enum.includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum}`);
  if (schema.pattern && !new RegExp(schema.pattern).test(value))
    errors.push(`${at}: '${value}' does not match ${schema.pattern}`);
  if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below minimum`);
  if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above maximum`);
  if (t === 'array' && schema.items)
    value.forEach((item, i) => check(schema.items, item, `${at}[${i}]`, errors));
  if (t !== 'object') return;
  for (const r of schema.required || [])
    if (!(r in value)) errors.push(`${at}: required '${r}' is missing`);
  for (const [k, v] of Object.entries(value)) {
    const props = schema.properties || {};
    if (k in props) check(props[k], v, `${at}.${k}`, errors);
    else if (schema.additionalProperties === false) errors.push(`${at}: '${k}' is not in the schema`);
    else if (typeof schema.additionalProperties === 'object')
      check(schema.additionalProperties, v, `${at}.${k}`, errors);
  }
}

let failed = 0;
for (const s of samples) {
  const op = (doc.paths[s.route] || {})[s.method.toLowerCase()];
  const response = op && op.responses[String(s.status)];
  const where = `${s.method} ${s.route} ${s.status}`;
  if (!response) {
    console.log(`${where}: the document lists no such response`);
    failed++;
    continue;
  }
  const errors = [];
  check(response.content['application/json'].schema, JSON.parse(s.body), '$', errors);
  for (const e of errors) console.log(`${where}: ${e}`);
  if (errors.length) failed++;
}
console.log(`${samples.length - failed} of ${samples.length} responses match their schemas`);
process.exit(failed ? 1 : 0);
