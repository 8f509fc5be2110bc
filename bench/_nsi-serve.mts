import { startNsiProcess } from './_nsi-process-client.js';
const nsi = await startNsiProcess([{ id: 'DF_FULL', observations: Number(process.argv[2] ?? 1000000) }], { recorded: true, execArgv: ['--max-old-space-size=12288'] });
console.log(nsi.url);
process.on('SIGTERM', () => void nsi.close().then(() => process.exit(0)));
await new Promise(() => {});
