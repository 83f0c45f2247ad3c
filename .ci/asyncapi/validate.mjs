// Validates an AsyncAPI document with the AsyncAPI parser, its Avro payload schemas included;
// exits 1 on any error (.ci/run runs it on docs/asyncapi.yaml).
import { fromFile, Parser } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const [path] = process.argv.slice(2);
const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const { document, diagnostics } = await fromFile(parser, path).parse();
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  const level = ['error', 'warning', 'info', 'hint'][d.severity];
  console.log(`${path}: ${level} ${d.code} at ${d.path.join('.') || '(root)'}: ${d.message}`);
}
if (!document || errors.length > 0) {
  console.log(`${path}: not a valid AsyncAPI document (${errors.length} error(s))`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels`);
