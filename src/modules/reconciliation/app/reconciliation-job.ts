// The background run of queued reconciliations, on every node: it takes one at a time (a compare-and-set on its row,
// storage/reconciliation-repository.ts `claim`), so nodes share the work and a run whose node died (lease over) is
// taken over. Stopping leaves a run between two batches (its lease runs out and it starts again). Idle it polls every `idleMs`; an upload on this node wakes it at once (`nudge`).
import type { Logger } from 'pino';
import type { ReconciliationService } from './reconciliation-service.ts';

export class ReconciliationJob {
  private running = false;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly deps: { work: ReconciliationService; log: Logger; idleMs?: number }) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.cycle();
  }

  nudge(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
  }

  private async cycle(): Promise<void> {
    while (this.running) {
      let busy = false;
      try {
        busy = await this.deps.work.runNext(() => !this.running);
      } catch (err) {
        // The lease runs out and the run is taken again (here or on another node).
        this.deps.log.error({ err }, 'a reconciliation run failed; it is retried when its lease ends');
      }
      if (busy || !this.running) continue;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.deps.idleMs ?? 1000);
      });
      clearTimeout(this.timer);
      this.wake = undefined;
    }
  }
}
