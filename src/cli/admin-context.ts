// The CLI's way into the services: the container in its `admin` role (storage and the administrative services, no
// listeners), closed after the command whatever it throws, so a failed command never leaves the database open. The
// container is imported here, when a command runs, not when the CLI starts: `fapiao --help` and commands without a
// database stay quick.
import type { Config } from '../config/config.ts';
import type { Container } from '../container.ts';

export type AdminContext = Container;
import { startProgress, withProgress } from './progress.ts';

export type LoadConfig = () => Readonly<Config>;

/** Opens storage (migrating it) with "opening database…" on a terminal meanwhile. */
export function openAdmin(config: Readonly<Config>): Promise<AdminContext> {
  return withProgress('opening database', async () => (await import('../container.ts')).buildContainer(config, 'admin'));
}

/**
 * Runs `fn` over an open admin context. With `working`, the progress line stays up with that text while `fn` runs:
 * only for an `fn` that prints nothing itself (the caller prints what it returns).
 */
export async function withAdmin<T>(loadConfig: LoadConfig, fn: (ctx: AdminContext) => Promise<T>, opts: { working?: string } = {}): Promise<T> {
  const ctx = await openAdmin(loadConfig());
  const progress = opts.working ? startProgress(opts.working) : undefined;
  try {
    return await fn(ctx);
  } finally {
    progress?.done();
    await ctx.close();
  }
}

/**
 * Runs `fn` over the server-role container without its listeners or jobs (nothing is started): for commands whose
 * use cases issue invoices (a red-letter form reaching 01 or 04 issues its red invoice through the issue writer and
 * the signing key). Closed after `fn`, whatever it throws.
 */
export async function withIssuing<T>(loadConfig: LoadConfig, fn: (ctx: IssuingContext) => Promise<T>): Promise<T> {
  const ctx = await withProgress('opening database', async () => (await import('../container.ts')).buildContainer(loadConfig(), 'server'));
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export type IssuingContext = import('../container.ts').ServerContainer;
