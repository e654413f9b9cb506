// The e-mail dispatcher as a use case (the real container on SQLite in memory, a manual clock, a real SMTP server on
// 127.0.0.1): a refused recipient (550) shows as failed with the server's reply and is retried on the documented
// schedule, then dead-lettered; a server that is temporarily unavailable (421) and then accepts gets the message once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JITTER, MAX_ATTEMPTS, RETRY_DELAYS_MS } from '../../src/modules/delivery/domain/retry-schedule.ts';
import { draft, SELLER, useCases, type Kit } from './kit.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { until } from '../helpers/webhook-receiver.ts';

const by = { actor: 'test' };

void describe('e-mail dispatcher (use case)', () => {
  const open: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const o of open.reverse()) await o.close();
  });
  const setUp = async (): Promise<{ kit: Kit; sink: SmtpSink }> => {
    const sink = await startSmtpSink();
    open.push(sink);
    const kit = await useCases({
      FAPIAO_SMTP_HOST: '127.0.0.1', FAPIAO_SMTP_PORT: String(sink.port), FAPIAO_SMTP_SECURITY: 'none', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '20',
    });
    open.push(kit);
    return { kit, sink };
  };
  const sendOne = async (kit: Kit) => {
    const tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    const issued = await kit.app.services.invoices.issue(tenant, draft({ buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', email: 'buyer@example.com' } }), { replayStatus: 201 });
    const { number } = issued;
    const d = await kit.app.services.email.send(tenant.id, number, { formats: ['xml'] }, by);
    const one = async () => (await kit.app.services.email.deliveries(tenant.id, number))[0]!;
    return { d, one };
  };

  void it('shows a refused recipient (550) as failed with the reply, retries it on the schedule, then dead-letters it', async () => {
    const { kit, sink } = await setUp();
    sink.reply = () => 550;
    const { one } = await sendOne(kit);
    await until(async () => (await one()).lastReplyCode === 550);
    let d = await one();
    assert.equal(d.status, 'failed');
    assert.match(d.lastReply!, /^550 Mailbox unavailable: <address>$/, 'the reply, without the buyer\'s address');
    for (let n = 1; n < MAX_ATTEMPTS; n++) {
      d = await one();
      assert.equal(d.attempts, n);
      assert.equal(d.status, 'failed');
      const wait = Date.parse(d.nextAttemptAt!) - Date.parse(d.lastAttemptAt!);
      const base = RETRY_DELAYS_MS[n - 1]!;
      assert.ok(wait >= base && wait <= base * (1 + JITTER), `after attempt ${n}: waited ${wait} ms, schedule ${base} ms`);
      kit.clock.set(new Date(Date.parse(d.nextAttemptAt!) - 1).toISOString());
      kit.app.services.emailDispatcher.nudge();
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(sink.rcptAttempts, n, 'not attempted a millisecond early');
      kit.clock.set(d.nextAttemptAt!);
      kit.app.services.emailDispatcher.nudge();
      await until(async () => (await one()).attempts === n + 1 && (await one()).lastAttemptAt === kit.clock.now().toISOString());
    }
    d = await one();
    assert.equal(d.status, 'dead');
    assert.equal(d.attempts, MAX_ATTEMPTS);
    assert.equal(d.nextAttemptAt, null);
    assert.equal(d.sentAt, null);
    assert.equal(d.messageId, null);
    assert.equal(sink.received.length, 0, 'never sent');
    assert.equal(sink.rcptAttempts, MAX_ATTEMPTS);
  });

  void it('sends once when the server is unavailable (421) and then accepts', async () => {
    const { kit, sink } = await setUp();
    sink.reply = (attempt) => (attempt === 1 ? 421 : undefined);
    const { d: queued, one } = await sendOne(kit);
    await until(async () => (await one()).lastReplyCode === 421);
    const failed = await one();
    assert.equal(failed.status, 'failed');
    assert.equal(sink.received.length, 0);
    kit.clock.set(failed.nextAttemptAt!);
    kit.app.services.emailDispatcher.nudge();
    await until(async () => (await one()).status === 'sent');
    const sent = await one();
    assert.equal(sent.attempts, 2);
    assert.equal(sent.lastReplyCode, 250);
    assert.equal(sent.messageId, `<${queued.id}@localhost>`);
    // Nothing more is due: further time and nudges send nothing again.
    kit.clock.advance(7 * 24 * 3_600_000);
    kit.app.services.emailDispatcher.nudge();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.received.length, 1);
    assert.deepEqual(sink.received[0]!.envelope.to, ['buyer@example.com']);
  });
});
