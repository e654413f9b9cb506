#!/usr/bin/env node
// The CLI entry: TypeScript sources run through tsx's loader, so `npx fapiao` works in a checkout without a build.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
