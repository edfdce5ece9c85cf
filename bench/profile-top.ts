// Summarizes a V8 .cpuprofile (as written by `npm run bench -- --cpu-prof`): where the main thread's time went,
// by package or file and by function (self time; native calls are charged to their JavaScript caller).
//
//   node --import tsx bench/profile-top.ts bench/.work/prof/CPU.….cpuprofile [N] [--last=SECONDS]
// --last: only the samples of the profile's final SECONDS (e.g. the last load phase, without start-up).
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: CallFrame }[];
  samples: number[];
  timeDeltas: number[];
}

const lastArg = process.argv.find((a) => a.startsWith('--last='));
const lastUs = lastArg ? Number(lastArg.slice('--last='.length)) * 1e6 : Infinity;
const [file, topArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node --import tsx bench/profile-top.ts FILE.cpuprofile [N]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
if (!Number.isInteger(top) || top <= 0) {
  // e.g. a glob that matched two profiles (node writes one per thread): the second would be taken for N.
  console.error(`N must be a positive whole number, not ${JSON.stringify(topArg)}: give one profile at a time`);
  process.exit(2);
}
const profile: Profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
const root = `file://${path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')}/`;

const selfTime = new Map<number, number>();
const span = profile.timeDeltas.reduce((a, b) => a + b, 0);
let at = 0;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  if (at >= span - lastUs) selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfTime.values()].reduce((a, b) => a + b, 0);

const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
const add = (m: Map<string, number>, k: string, t: number) => m.set(k, (m.get(k) ?? 0) + t);
for (const [id, t] of selfTime) {
  const cf = frames.get(id)!;
  const where = cf.url ? cf.url.replace(root, '') : '(native)';
  add(byFunction, `${cf.functionName || '(anonymous)'}  ${where}${cf.url ? `:${cf.lineNumber + 1}` : ''}`, t);
  add(byModule, where.replace(/^node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$1 (package)'), t);
}

const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(t / 1000).toFixed(0).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)} %  ${k}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
print('by package or file', byModule);
print('by function', byFunction);
