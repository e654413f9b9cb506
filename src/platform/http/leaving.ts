// A node about to shut down (SIGTERM), before its listeners close: readiness answers 503 so the load balancer takes the
// node out, and every answer carries `Connection: close` so each client's keep-alive connection ends with the
// answer it is waiting for instead of being cut (or refused 503) when the listener closes. The client's next
// request opens a connection the balancer sends to another node. `http.shutdownDelayMs` is how long this lasts.
export class Leaving {
  private left = false;

  get leaving(): boolean {
    return this.left;
  }

  begin(): void {
    this.left = true;
  }
}
