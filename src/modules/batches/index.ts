// The batch module's public surface (other modules import it only through here). Composition wires its HTTP and CLI
// adapters directly.
export { BatchService, MAX_BATCH_ITEMS } from './app/batch-service.ts';
export { BatchIssueJob } from './app/batch-job.ts';
export type { BatchRepository } from './storage/batch-repository.ts';
