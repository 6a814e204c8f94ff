// Lint Cypher statements with Neo4j's front end (@neo4j-cypher/language-support, lintCypherQuery).
// stdin: {"base": {labels, relationshipTypes, propertyKeys}, "functions": [names], "procedures": [names],
//         "queries": [{"name", "text", "parameters"}]}
// The DbSchema gets only the listed functions/procedures, with the real Neo4j 5 + GDS signatures
// recorded in the package's catalogue (testData.mockSchema); an unlisted or unknown name is then
// an error, as is a wrong argument count. A listed name missing from the catalogue aborts.
// stdout: [{"name", "diagnostics": [{"severity": 1 error | 2 warning, "message", "line"}]}]
import { lintCypherQuery, testData } from '@neo4j-cypher/language-support';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { base, functions, procedures, queries } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const catalogue = testData.mockSchema;

function pick(registry, names, kind) {
  const scoped = {};
  for (const [version, entries] of Object.entries(registry)) {
    scoped[version] = {};
    for (const name of names) {
      if (entries[name]) scoped[version][name] = entries[name];
    }
  }
  const known = new Set(Object.values(scoped).flatMap((r) => Object.keys(r)));
  const absent = names.filter((n) => !known.has(n));
  if (absent.length) {
    process.stderr.write(`${kind} not in the package catalogue: ${absent.join(', ')}\n`);
    process.exit(2);
  }
  return scoped;
}

const fns = pick(catalogue.functions, functions, 'functions');
const procs = pick(catalogue.procedures, procedures, 'procedures');
// Statements are linted in groups joined by ";" (about 3x faster than one call each: the
// semantic analysis has a large per-call cost); diagnostics map back by line number.
const GROUP = 25;
const results = queries.map(({ name }) => ({ name, diagnostics: [] }));
for (let g = 0; g < queries.length; g += GROUP) {
  const group = queries.slice(g, g + GROUP);
  const starts = [];
  let line = 0;
  const texts = group.map(({ text }) => {
    starts.push(line);
    const t = text.replace(/;\s*$/, '');
    line += t.split('\n').length;
    return t;
  });
  const parameters = Object.assign({}, ...group.map((q) => q.parameters || {}));
  const schema = { ...base, functions: fns, procedures: procs, parameters };
  const { diagnostics } = lintCypherQuery(texts.join(';\n') + ';', schema);
  for (const d of diagnostics) {
    const at = d.range ? d.range.start.line : 0;
    let i = starts.length - 1;
    while (i > 0 && starts[i] > at) i -= 1;
    results[g + i].diagnostics.push({ severity: d.severity, message: d.message, line: at - starts[i] + 1 });
  }
}
process.stdout.write(JSON.stringify(results));
