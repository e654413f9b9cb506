// `fapiao client-cert --tenant ID`: a client certificate for the partner listener (mutual TLS), issued by the
// development CA with the tenant id as subject CN, which the partner listener maps to the tenant.
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type { Config } from '../../../config/config.ts';
import { openAdmin } from '../../../cli/admin-context.ts';
import { withProgress } from '../../../cli/progress.ts';

/** Issues a client certificate (CN = tenant id) from the development CA into `<dir>/<tenant>.pem|.key`. */
export async function writeClientCert(
  config: Readonly<Config>, tenantId: string, opts: { dir?: string; days?: number } = {},
): Promise<{ certPath: string; keyPath: string; fingerprint256: string }> {
  // Imported here: the X.509 library is needed by this command and `serve` only (cli/main.ts starts without it).
  const [{ createClientCert }, { devTlsPaths }] = await Promise.all([import('../../../platform/crypto/dev-certs.ts'), import('../../../ops/setup.ts')]);
  const tls = devTlsPaths(config.dataDir);
  const ca = { certPem: readFileSync(tls.caCert, 'utf8'), keyPem: readFileSync(tls.caKey, 'utf8') };
  const pair = await createClientCert(ca, tenantId, { days: opts.days ?? 397 });
  const dir = opts.dir ?? join(tls.dir, 'clients');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, `${tenantId}.pem`);
  const keyPath = join(dir, `${tenantId}.key`);
  writeFileSync(certPath, pair.certPem);
  writeFileSync(keyPath, pair.keyPem, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  return { certPath, keyPath, fingerprint256: new X509Certificate(pair.certPem).fingerprint256 };
}

export function clientCertCommand(loadConfig: () => Readonly<Config>): Command {
  return new Command('client-cert')
    .description('issue a partner-listener client certificate for a tenant from the development CA')
    .requiredOption('--tenant <id>')
    .option('--out <dir>', 'where to write <tenant>.pem and <tenant>.key (default <data>/tls/clients)')
    .option('--days <n>', 'validity in days', '397')
    .action(async (o: { tenant: string; out?: string; days: string }) => {
      const config = loadConfig();
      const days = Number(o.days);
      if (!Number.isInteger(days) || days < 1 || days > 825) throw new Error('--days must be 1 to 825');
      const ctx = await openAdmin(config);
      try {
        await ctx.services.tenants.getOrThrow(o.tenant);
      } finally {
        await ctx.close();
      }
      const { certPath, keyPath, fingerprint256: fp } = await withProgress('issuing the certificate', () =>
        writeClientCert(config, o.tenant, { days, ...(o.out ? { dir: resolve(o.out) } : {}) }),
      );
      process.stdout.write(`certificate ${certPath}\nkey         ${keyPath}\nsha256      ${fp}\n`);
    });
}
