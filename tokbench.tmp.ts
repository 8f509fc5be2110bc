import { CsvTokenizer as NewTok } from './src/sources/sdmx/csv-tokenizer.js';
import { CsvTokenizer as OldTok } from '/tmp/hs-before/src/sources/sdmx/csv-tokenizer.js';
const rows: string[] = ['STRUCTURE,STRUCTURE_ID,ACTION,A,B,C,TIME_PERIOD,OBS_VALUE,X,Y\n'];
for (let i = 0; i < 1_000_000; i += 1) rows.push(`dataflow,OECD:DF_X(1.0),I,A${i % 7},B${i % 13},C${i % 101},${2000 + (i % 24)},${i * 1.5},,Z\n`);
const text = rows.join('');
const chunks: string[] = [];
for (let at = 0; at < text.length; at += 65536) chunks.push(text.slice(at, at + 65536));
function run(Tok: typeof NewTok): number {
  const t = performance.now();
  const tok = new Tok(',');
  let n = 0;
  const on = () => { n += 1; };
  for (const c of chunks) tok.push(c, on);
  tok.end(on);
  if (n !== 1_000_001) throw new Error(String(n));
  return performance.now() - t;
}
const times: Record<string, number[]> = { old: [], new: [] };
for (let r = 0; r < 11; r += 1) { times.old!.push(run(OldTok as unknown as typeof NewTok)); times.new!.push(run(NewTok)); }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`text ${(text.length / 1e6).toFixed(1)} MB; old median ${med(times.old!).toFixed(0)} ms, new median ${med(times.new!).toFixed(0)} ms, new/old ${(med(times.new!) / med(times.old!)).toFixed(3)}`);
console.log(JSON.stringify(times));
