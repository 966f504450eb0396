// `npm run bench`: runs every benchmark module built next to this file (*.bench.js), in name
// order, each printing its own figures and ratios against a baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export { pipelineCpuMicrosPerUplink } from './pipeline.bench';

interface BenchModule {
  run(): Promise<void>;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.js'))
    .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)))
    .sort();
  if (files.length === 0) throw new Error(`no benchmark matches ${only.join(', ')}`);
  console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString()}`);
  for (const file of files) {
    console.log(`\n=== ${file.replace(/\.bench\.js$/, '')} ===`);
    const mod = (await import(join(__dirname, file))) as BenchModule;
    await mod.run();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
