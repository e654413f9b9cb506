// Low-level readers of configuration values: each takes a value from the config file or the environment and the name
// of the setting it came from, and either returns it typed or throws ConfigError naming that setting (never the value:
// it may be a secret). An absent value reads as undefined, so callers supply the default.
import { parseCidr } from '../shared/cidr.ts';

export class ConfigError extends Error {
  constructor(readonly setting: string, reason: string) {
    super(`invalid setting ${setting}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;
export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown, setting: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(setting, 'must be a non-empty string');
  return v;
}

export function int(v: unknown, setting: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(setting, `must be an integer from ${min} to ${max}`);
  }
  return n;
}

export function stringList(v: unknown, setting: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ConfigError(setting, 'must be an array of strings');
  return v;
}

export function cidrList(v: unknown, setting: string): string[] {
  const list = stringList(v, setting) ?? [];
  for (const e of list) if (!parseCidr(e)) throw new ConfigError(setting, 'entries must be addresses or CIDR blocks');
  return list;
}
