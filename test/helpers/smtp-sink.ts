// A real SMTP server on 127.0.0.1 (npm `smtp-server`) that parses what it receives with `mailparser`, for the e-mail
// delivery tests. `reply` decides the answer to each RCPT TO (accept, or an SMTP error code); STARTTLS is offered when
// a key and certificate are given; AUTH is required when `auth` is.
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface Received {
  mail: ParsedMail;
  raw: Buffer;
  envelope: { from: string; to: string[] };
  secure: boolean;
  user: string | undefined;
}

export interface SmtpSink {
  port: number;
  received: Received[];
  /** RCPT TO attempts seen (accepted or not). */
  rcptAttempts: number;
  /** undefined: accept; a number: refuse the recipient with this code. */
  reply: (attempt: number) => number | undefined;
  close(): Promise<void>;
}

export async function startSmtpSink(opts: { tls?: { key: Buffer; cert: Buffer }; auth?: { user: string; pass: string } } = {}): Promise<SmtpSink> {
  const sink: SmtpSink = { port: 0, received: [], rcptAttempts: 0, reply: () => undefined, close: async () => {} };
  const options: SMTPServerOptions = {
    secure: false,
    logger: false,
    disabledCommands: [...(opts.tls ? [] : ['STARTTLS']), ...(opts.auth ? [] : ['AUTH'])],
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    authOptional: !opts.auth,
    // Like a submission server: AUTH only over TLS.
    allowInsecureAuth: false,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, cb) {
      sink.rcptAttempts++;
      const code = sink.reply(sink.rcptAttempts);
      if (code === undefined) return cb();
      const text = code === 421 ? 'Service not available, try again later' : `Mailbox unavailable: ${address.address}`;
      cb(Object.assign(new Error(text), { responseCode: code }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        void simpleParser(raw).then((mail) => {
          sink.received.push({
            mail, raw, secure: session.secure, user: session.user as string | undefined,
            envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
          });
          cb(null, `OK: queued as Q${sink.received.length}`);
        }, (err: Error) => cb(err));
      });
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}
