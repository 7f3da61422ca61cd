// Runs service_worker/static/jcs.js over tests/vectors/jcs/cases.json for
// tests/certs/test_jcs_agreement.py. Prints one JSON object:
//   {"cases": {name: {"hex": utf8 hex} | {"error": name}},
//    "reject": {name: {...}}, "reject_javascript_values": {name: {...}}}
import { readFileSync } from "node:fs";

const jcsUrl = new URL("../../service_worker/static/jcs.js", import.meta.url);
const { canonicalize } = await import(jcsUrl.href);

const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));

function run(value) {
  try {
    return { hex: Buffer.from(canonicalize(value), "utf8").toString("hex") };
  } catch (error) {
    return { error: error.name };
  }
}

const cyclic = { a: 1 };
cyclic.self = cyclic;
// Values JSON text cannot express, named in the vectors file.
const javascriptValues = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  "-Infinity": Number.NEGATIVE_INFINITY,
  undefined,
  function: () => 1,
  symbol: Symbol("s"),
  bigint: 10n,
  "cyclic object": cyclic,
  Date: new Date(0),
  Map: new Map([["a", 1]]),
  "sparse array": [1, , 3], // a hole at index 1
  "undefined member": { a: undefined },
  "symbol key": { [Symbol("k")]: 1 },
  "boxed number": Object(1),
};

const output = { cases: {}, reject: {}, reject_javascript_values: {} };
for (const { name, json } of vectors.cases) {
  output.cases[name] = run(JSON.parse(json));
}
for (const { name, json } of vectors.reject) {
  output.reject[name] = run(JSON.parse(json));
}
for (const name of vectors.reject_javascript_values) {
  if (!Object.hasOwn(javascriptValues, name)) {
    throw new Error(`no JavaScript value named ${name}`);
  }
  output.reject_javascript_values[name] = run(javascriptValues[name]);
}
process.stdout.write(JSON.stringify(output));
