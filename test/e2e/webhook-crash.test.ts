// A crash never loses or invents a webhook delivery: `fapiao serve` is killed (SIGKILL) while its attempts hang on a
// real receiver on 127.0.0.1, and restarted; every issued invoice's event then arrives (at least once, same
// `webhook-id`, signatures valid per the `standardwebhooks` reference package), and nothing else does.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { spawnServer } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import { startReceiver, until } from '../helpers/webhook-receiver.ts';

const ENV = {
  FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '100',
  FAPIAO_WEBHOOKS_CONNECT_TIMEOUT_MS: '500', FAPIAO_WEBHOOKS_RESPONSE_TIMEOUT_MS: '1000',
};

describe('webhook delivery across a crash', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-e2e-hooks-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('delivers every event at least once after kill -9 mid-delivery, and nothing that was not issued', async () => {
    const hanging: ServerResponse[] = [];
    const rx = await startReceiver((_req, res) => hanging.push(res));
    const first = await spawnServer(dataDir, ENV);
    const headers = { authorization: `Bearer ${first.demoKey!}`, 'content-type': 'application/json' };
    let second: Awaited<ReturnType<typeof spawnServer>> | undefined;
    try {
      const created = await request(`${first.url}/v1/webhooks`, {
        method: 'POST', headers, dispatcher: first.agent, body: JSON.stringify({ url: `${rx.url}/hook`, eventTypes: ['invoice.issued'] }),
      });
      assert.equal(created.statusCode, 201);
      const endpoint = (await created.body.json()) as { id: string; secret: string };
      const numbers: string[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await request(`${first.url}/v1/invoices`, { method: 'POST', headers, body: JSON.stringify(sampleInvoice()), dispatcher: first.agent });
        assert.equal(res.statusCode, 201);
        numbers.push(((await res.body.json()) as { number: string }).number);
      }
      // Attempts are in flight (the receiver holds them): kill the node now.
      await until(() => hanging.length >= 4);
      const inFlightAtKill = hanging.length;
      first.proc.kill('SIGKILL');
      await first.stop('SIGKILL');
      rx.respond = (_req, res) => res.writeHead(200).end();
      for (const res of hanging) res.destroy();

      second = await spawnServer(dataDir, ENV);
      const deliveries = async () => {
        const res = await request(`${second!.url}/v1/webhooks/${endpoint.id}/deliveries?limit=100`, { headers: { authorization: headers.authorization }, dispatcher: second!.agent });
        return ((await res.body.json()) as { items: { status: string; eventId: string; attempts: number }[] }).items;
      };
      await until(async () => {
        const items = await deliveries();
        return items.length === numbers.length && items.every((d) => d.status === 'delivered');
      }, 100);

      const hook = new Webhook(endpoint.secret);
      const seen = new Map<string, string>();
      for (const r of rx.received) {
        const event = hook.verify(r.body, {
          'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']),
        }) as { id: string; data: { number: string } };
        assert.equal(event.id, r.headers['webhook-id']);
        const before = seen.get(event.id);
        if (before !== undefined) assert.equal(before, r.body, 'a repeated delivery carries the same bytes');
        seen.set(event.id, r.body);
      }
      const delivered = [...seen.values()].map((b) => (JSON.parse(b) as { data: { number: string } }).data.number).sort();
      assert.deepEqual(delivered, [...numbers].sort(), 'each issued invoice once or more, nothing else');
      assert.deepEqual(new Set((await deliveries()).map((d) => d.eventId)), new Set(seen.keys()));
      process.stdout.write(`# ${inFlightAtKill} attempts in flight at kill -9; ${rx.received.length} requests for ${numbers.length} events after restart\n`);
    } finally {
      if (second) assert.equal(await second.stop('SIGTERM'), 0);
      await rx.close();
    }
  });
});
