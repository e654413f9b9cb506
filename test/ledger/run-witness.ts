// Runs one witness as its own process, the way `fapiao ledger witness` will: the configuration (state directory,
// signer key, logs) arrives as JSON on stdin, the URL leaves as one JSON line on stdout; SIGTERM closes it.
import { startWitness, type WitnessServerOptions } from '../../src/modules/ledger/witness/witness-server.ts';

const chunks: Buffer[] = [];
for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
const options = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WitnessServerOptions;
const running = await startWitness({ ...options, host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ url: running.url, verifierKey: running.verifierKey })}\n`);
process.once('SIGTERM', () => {
  void running.close().then(() => process.exit(0));
});
