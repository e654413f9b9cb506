// `fapiao serve` (and `npm start`): init on first start, the demo tenant on an empty database, then every listener.
// The server's modules are imported when the command runs, so that the other commands start without them.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Config } from '../../config/config.ts';
import { writeClientCert } from '../../modules/tenants/cli/client-cert-command.ts';
import { startProgress, withProgress } from '../../cli/progress.ts';

/** The demo seller of a fresh install: a real-format USCC (checksum valid), Shanghai. */
const DEMO_TENANT = { name: '上海演示科技有限公司', taxId: '91310000775785552L', regionCode: '31', address: '上海市浦东新区演示路1号', phone: '021-12345678' };

export function serveCommand(loadConfig: () => Readonly<Config>): Command {
  return new Command('serve')
    .description('start the server (runs init on first start and creates a demo tenant)')
    .option('--no-demo', 'do not create the demo tenant')
    .action(async (o: { demo: boolean }) => {
      const config = loadConfig();
      const app = await withProgress('starting the server', async () => {
        const [{ initDataDir }, { buildContainer }] = await Promise.all([import('../setup.ts'), import('../../container.ts')]);
        await initDataDir(config);
        return buildContainer(config, 'server');
      });
      if (o.demo) {
        const tenants = await app.services.tenants.list();
        if (tenants.length === 0) {
          // A tenant's first key has every scope, pii:read included: the demo tries every call, documents too.
          const { tenant, apiKey } = await app.services.tenants.create(DEMO_TENANT);
          const keyFile = join(config.dataDir, 'demo-api-key');
          // Overwritten: a file left from an earlier database would hold a key this one does not know.
          writeFileSync(keyFile, `${apiKey}\n`, { mode: 0o600 });
          chmodSync(keyFile, 0o600);
          process.stdout.write(`demo tenant ${tenant.id} (${tenant.name})\ndemo API key ${apiKey}\n(also saved in ${keyFile})\n`);
          const cert = await writeClientCert(config, tenant.id);
          process.stdout.write(`demo client certificate for the partner listener: ${cert.certPath}\n`);
        }
      }
      const { handleSignals, listen } = await import('../../main.ts');
      // Building the listeners (routes, OpenAPI, TLS) takes a while too; their `listening` lines follow.
      const building = startProgress('building the listeners');
      let running;
      try {
        running = await listen(app, { built: () => building.done() });
      } finally {
        building.done();
      }
      handleSignals(running, app);
    });
}
