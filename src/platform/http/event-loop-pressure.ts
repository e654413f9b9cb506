// Load shedding on event-loop lag: one monitor per process (shared by every listener that sheds), the mean delay of
// Node's event loop over the last window (perf_hooks.monitorEventLoopDelay, 10 ms resolution, as
// @fastify/under-pressure measures it). The mean is the typical length of a turn of the loop: it rises when every turn
// is long (the process has more work than CPU, and many requests arrive per turn), not for one stall (a GC, a large
// document), which the p99 would. While it is above `http.maxEventLoopDelayMs` (100 ms by default; 0 never sheds),
// the api, partner and push listeners answer a share of new requests 503 SERVICE_UNAVAILABLE with Retry-After before
// doing any work (build-server.ts), so a process that cannot keep up says so at once instead of letting every
// answer's latency grow; the admin and metrics listeners and the probes (/healthz, /readyz) are never shed, so an
// operator can still see and act.
//
// The share shed is set by a proportional controller, once per window: it grows by half the relative excess of the
// lag over the limit and shrinks the same way when the lag is below it, between 0 and 1. Refusing everything for a
// window and then nothing (an on/off verdict) makes the loop alternate between idle and flooded, and serves fewer
// requests than the machine can; the share settles where the lag is about the limit, so admitted requests keep a
// bounded latency and the node keeps working at its rate. The issue writer's queue limits (issuing.maxQueued,
// issuing.maxQueueWaitMs) shed issuing on their own; this catches whatever else fills the loop.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
/** Change of the shed share per window, per unit of relative lag excess ((lag − limit) / limit). */
const GAIN = 0.5;

export interface PressureOptions {
  /** Mean lag (ms) over a window above which requests are shed; 0: never. */
  maxDelayMs: number;
  /** Length of a window, ms (the verdict changes at most this often). */
  sampleMs?: number;
  /** Called once per shed request (the `fapiao_requests_shed_total` metric). */
  onShed?: () => void;
  /** Called at the end of each window with its lag (ms) and the share of requests shed in the next one. */
  onSample?: (lagMs: number, share: number) => void;
  /** Uniform in [0, 1): which requests of the share are shed (tests make it deterministic). */
  random?: () => number;
}

export class EventLoopPressure {
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lag = 0;
  private share = 0;
  private readonly sampleMs: number;
  private readonly random: () => number;

  constructor(private readonly opts: PressureOptions) {
    this.sampleMs = Math.max(RESOLUTION_MS * 5, opts.sampleMs ?? 1000);
    this.random = opts.random ?? Math.random;
  }

  get enabled(): boolean {
    return this.opts.maxDelayMs > 0;
  }

  /** The mean lag of the last complete window, ms; 0 before the first one ends. */
  get lagMs(): number {
    return this.lag;
  }

  /** Share of new requests shed in this window, 0 – 1. */
  get shedShare(): number {
    return this.share;
  }

  /** True while some requests are shed (the lag was above the limit lately). */
  get overloaded(): boolean {
    return this.enabled && this.share > 0;
  }

  /** Whether to refuse this request: true for the current share of requests, at random. */
  shouldShed(): boolean {
    return this.share > 0 && (this.share >= 1 || this.random() < this.share);
  }

  /** Seconds a shed client is told to wait: the rest of a window, at least 1. */
  get retryAfterSec(): number {
    return Math.max(1, Math.ceil(this.sampleMs / 1000));
  }

  shed(): void {
    this.opts.onShed?.();
  }

  start(): void {
    if (!this.enabled || this.histogram) return;
    const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    h.enable();
    this.histogram = h;
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  /** Closes the window now (also what the interval does). */
  sample(): void {
    const h = this.histogram;
    if (!h) return;
    // The histogram records the time between the fires of a 10 ms timer: subtract that resolution, as under-pressure
    // does. No fire at all in a window means the loop never got round to the timer: lagging a whole window.
    this.lag = h.count === 0 ? this.sampleMs : Math.max(0, h.mean / 1e6 - RESOLUTION_MS);
    h.reset();
    const max = this.opts.maxDelayMs;
    this.share = Math.min(1, Math.max(0, this.share + GAIN * ((this.lag - max) / max)));
    this.opts.onSample?.(this.lag, this.share);
  }

  /**
   * Starts a new window from now and forgets the verdict: called when a listener starts listening, so the work of
   * starting up (migrations, compiling the routes' schemas) is not taken for load.
   */
  restartWindow(): void {
    if (!this.histogram) return;
    this.histogram.reset();
    this.lag = 0;
    this.share = 0;
    this.timer?.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.histogram?.disable();
    this.histogram = undefined;
    this.timer = undefined;
  }
}
