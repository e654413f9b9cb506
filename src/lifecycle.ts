// What runs in a process besides request handling — storage, the signer threads, Redis, background jobs, the
// listeners — registered in the order they start and stopped in the reverse order, so a job added later plugs in
// without editing shutdown code. A component that fails to stop is logged and the others still stop.

export interface Component {
  name: string;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export interface LifecycleLog {
  error(obj: object, msg: string): void;
}

export class Lifecycle {
  private readonly components: Component[] = [];
  /** How many components (in registration order) have started. */
  private started = 0;
  private running = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly log?: LifecycleLog) {}

  /** Registers a component; if the lifecycle already started, starts it at once. */
  async add(component: Component): Promise<void> {
    if (this.stopping) throw new Error(`lifecycle is stopping: cannot add ${component.name}`);
    this.components.push(component);
    if (this.running) await this.start();
  }

  /** Starts every component not started yet, in registration order. */
  async start(): Promise<void> {
    this.running = true;
    for (; this.started < this.components.length; this.started++) await this.components[this.started]!.start?.();
  }

  names(): string[] {
    return this.components.map((c) => c.name);
  }

  /** Stops every component in reverse registration order (each once, even when called again). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of [...this.components].reverse()) {
        try {
          await c.stop?.();
        } catch (err) {
          this.log?.error({ err, component: c.name }, 'stopping a component failed');
        }
      }
    })();
    return this.stopping;
  }
}
