// The JSON body parser: plain JSON.parse, then a walk that refuses `__proto__` and `constructor` keys (prototype
// poisoning) and bodies nested deeper than a limit, naming the field at fault.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../shared/errors.ts';

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
export const MAX_JSON_DEPTH = 16;

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** JSON Pointer of the first forbidden key or too-deep value, or undefined when the value is acceptable. */
export function findForbidden(value: unknown, path = '', depth = 0): { path: string; reason: 'key' | 'depth' } | undefined {
  const hit = scan(value, depth);
  if (!hit) return undefined;
  // The pointer is built only for a refusal, from the segments gathered on the way back up.
  const pointer = path + hit.segments.reverse().map((k) => `/${typeof k === 'number' ? k : escapePointer(k)}`).join('');
  return { path: pointer || '/', reason: hit.reason };
}

function scan(value: unknown, depth: number): { segments: (string | number)[]; reason: 'key' | 'depth' } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth >= MAX_JSON_DEPTH) return { segments: [], reason: 'depth' };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = scan(value[i], depth + 1);
      if (hit) {
        hit.segments.push(i);
        return hit;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN.has(key)) return { segments: [key], reason: 'key' };
    const hit = scan((value as Record<string, unknown>)[key], depth + 1);
    if (hit) {
      hit.segments.push(key);
      return hit;
    }
  }
  return undefined;
}

export function registerJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    let value: unknown;
    try {
      value = JSON.parse(body as string);
    } catch (cause) {
      done(new AppError('MALFORMED_JSON', { cause }), undefined);
      return;
    }
    const bad = findForbidden(value);
    if (bad) {
      const detail = bad.reason === 'key' ? '__proto__, constructor and prototype keys are refused' : `nesting deeper than ${MAX_JSON_DEPTH} levels is refused`;
      done(new AppError('VALIDATION_FAILED', { field: bad.path, detail }), undefined);
      return;
    }
    done(null, value);
  });
}
