// The CLI's way into the services: an admin context over the configured storage (no listeners), closed after the
// command whatever it throws, so a failed command never leaves the database open.
import type { Config } from '../config/config.ts';
import { createAdminContext, type AdminContext } from '../app.ts';

export type LoadConfig = () => Readonly<Config>;

export async function withAdmin<T>(loadConfig: LoadConfig, fn: (ctx: AdminContext) => Promise<T>): Promise<T> {
  const ctx = await createAdminContext(loadConfig());
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
