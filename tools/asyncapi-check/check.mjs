// Parse an AsyncAPI document with the official parser and print its diagnostics as JSON.
// Usage: node check.mjs path/to/asyncapi.json   (exit 0 when valid, 1 otherwise)
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const text = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const errors = diagnostics.filter((d) => d.severity === 0);
const summary = {
  valid: document !== undefined && errors.length === 0,
  version: document?.version(),
  channels: document ? document.channels().all().map((c) => c.id()) : [],
  messages: document ? document.components().messages().all().map((m) => m.id()) : [],
  diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
};
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.valid ? 0 : 1);
