// One message through the configured SMTP server (nodemailer): STARTTLS required (`starttls`), TLS from the first
// byte (`tls`, port 465) or neither (`none`, development), SMTP AUTH when a user is configured, the server's
// certificate checked against the configured CA (or the system's), TLS 1.2 at least. A message counts as sent only
// when the server accepted the recipient and answered the data with 2xx: nodemailer resolves only then, and a
// recipient it rejected is checked again here. The password never leaves the transport's options (nodemailer's own
// logger is off, and failures keep only the server's reply and code).
import { readFileSync } from 'node:fs';

export interface SmtpSettings {
  host: string;
  port: number;
  security: 'starttls' | 'tls' | 'none';
  user?: string;
  password?: string;
  caFile?: string;
  connectTimeoutMs: number;
  sendTimeoutMs: number;
}

export interface MailMessage {
  from: { name: string; address: string };
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  attachments: { filename: string; content: Buffer; contentType: string }[];
}

export type MailResult =
  | { ok: true; messageId: string; code: number; response: string }
  | { ok: false; code: number | null; response: string };

export type Mailer = (m: MailMessage) => Promise<MailResult>;

const CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

/** The leading reply code of an SMTP answer (`250 OK` → 250), or null. */
function codeOf(response: string | undefined): number | null {
  const m = /^([2-5]\d\d)[ -]/.exec(response ?? '');
  return m ? Number(m[1]) : null;
}

export function smtpMailer(s: SmtpSettings): Mailer {
  const ca = s.caFile ? readFileSync(s.caFile) : undefined;
  return async (m) => {
    // Loaded with the first message: a server that sends no e-mail never loads nodemailer.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: s.host, port: s.port,
      secure: s.security === 'tls',
      requireTLS: s.security === 'starttls',
      ignoreTLS: s.security === 'none',
      ...(s.user ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
      tls: { minVersion: 'TLSv1.2', ciphers: CIPHERS, rejectUnauthorized: true, ...(ca ? { ca } : {}) },
      connectionTimeout: s.connectTimeoutMs, greetingTimeout: s.connectTimeoutMs, socketTimeout: s.sendTimeoutMs,
      logger: false, debug: false,
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${s.sendTimeoutMs} ms`), { code: 'ETIMEDOUT' })), s.sendTimeoutMs);
      });
      const info = await Promise.race([transport.sendMail({
        from: m.from, to: m.to, subject: m.subject, text: m.text, html: m.html, messageId: m.messageId,
        attachments: m.attachments, disableFileAccess: true, disableUrlAccess: true,
      }), timeout]);
      const accepted = (info.accepted ?? []).map(String);
      const response = String(info.response ?? '');
      const code = codeOf(response);
      if (!accepted.some((a) => a.toLowerCase() === m.to.toLowerCase()) || (info.rejected ?? []).length > 0 || code === null || code >= 300) {
        return { ok: false, code, response: response || 'the server did not accept the recipient' };
      }
      return { ok: true, messageId: String(info.messageId ?? m.messageId), code, response };
    } catch (err) {
      const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
      const response = e.response ?? `${e.code ?? 'error'}: ${e.message ?? 'sending failed'}`;
      return { ok: false, code: e.responseCode ?? codeOf(e.response), response };
    } finally {
      clearTimeout(timer);
      transport.close();
    }
  };
}
