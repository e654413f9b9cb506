// Shared by the deployment-artefact tests: finding the tools, free ports, and filling the `${NAME}` templates the way
// the official nginx image's entrypoint does (envsubst restricted to the names given).
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export const REPO = new URL('../../', import.meta.url).pathname;
export const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;

/** The skip reason when `cmd` cannot be run (`args` must make it exit 0), else false. */
export function missingTool(cmd: string, args: string[], hint: string): string | false {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return r.error || r.status !== 0 ? `${cmd} not installed: ${hint}` : false;
}

/** A port free on `host` right now (the kernel's choice of an ephemeral port). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Replaces `${NAME}` for the names in `vars`; throws if a `${…}` placeholder is left, or a name is not used. */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(vars)) {
    const placeholder = `\${${name}}`;
    if (!out.includes(placeholder)) throw new Error(`template has no \${${name}}`);
    out = out.replaceAll(placeholder, value);
  }
  const left = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.exec(out.replace(/^\s*#.*$/gm, ''));
  if (left) throw new Error(`template placeholder ${left[0]} not filled`);
  return out;
}
