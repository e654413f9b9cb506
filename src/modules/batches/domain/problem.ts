// A refusal as a batch item keeps it: the stable code, its title and the fields at fault (never a stack or a cause).
import { isAppError } from '../../../shared/errors.ts';

export interface ItemProblem {
  code: string;
  title: string;
  detail?: string;
  errors?: { path: string; code: string; message: string }[];
}

export function problemOf(err: unknown): ItemProblem {
  if (!isAppError(err)) return { code: 'INTERNAL', title: 'Internal server error' };
  return {
    code: err.code,
    title: err.title,
    ...(err.detail !== undefined ? { detail: err.detail } : {}),
    ...(err.errors && err.errors.length > 0 ? { errors: err.errors.map((e) => ({ path: e.path, code: e.code, message: e.message })) } : {}),
  };
}
