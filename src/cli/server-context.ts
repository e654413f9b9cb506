// The CLI's way into the issuing services: the container in its `server` role (the signer threads, the issue writer,
// batch issuance) without starting anything it runs (no listeners, no background jobs), closed after the command
// whatever it throws. For commands that issue invoices themselves (`fapiao issue`), through the same use cases as the
// API.
import type { ServerContainer } from '../container.ts';
import type { LoadConfig } from './admin-context.ts';
import { withProgress } from './progress.ts';

export async function withServer<T>(loadConfig: LoadConfig, fn: (ctx: ServerContainer) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const ctx = await withProgress('opening database', async () => (await import('../container.ts')).buildContainer(config, 'server'));
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
