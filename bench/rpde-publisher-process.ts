import { startRpdePublisher, type RpdePublisherOptions } from '../src/simulators/rpde/publisher.js';

/**
 * Runs the RPDE simulator in its own process for the benchmark, so that building pages shares
 * neither an event loop nor a heap (and its garbage collections) with the harvester measured.
 * Started by bench/rpde-harvest.ts through fork(); options arrive as the first IPC message.
 */
const send = process.send?.bind(process);
if (!send) throw new Error('rpde-publisher-process must be started with fork()');

process.once('message', (options: RpdePublisherOptions) => {
  void startRpdePublisher(options).then((publisher) => {
    send({ url: publisher.url });
    process.once('message', () => void publisher.close().then(() => process.disconnect()));
  });
});
