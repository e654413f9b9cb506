// E-mail delivery settings (modules/delivery/, docs/email.md): the SMTP server invoices are sent through. Without a
// host, e-mail delivery is off (`POST /v1/invoices/{number}/send` answers 409 EMAIL_NOT_CONFIGURED). The password is
// read from the environment only and never logged.
import { Type } from 'typebox';
import { int, oneOf, section, text } from './read.ts';

export const EMAIL_SCHEMA = section(
  {
    host: Type.Optional(text({
      env: 'FAPIAO_SMTP_HOST', pattern: '^[A-Za-z0-9.:\\[\\]-]+$', rule: 'must be a host name or an address',
      defaultText: 'none: e-mail delivery is off', description: 'The SMTP server invoices are sent through.',
    })),
    port: int(1, 65_535, { default: 587, env: 'FAPIAO_SMTP_PORT', description: 'Its port: 587 (submission, STARTTLS) or 465 (implicit TLS).' }),
    security: oneOf(['starttls', 'tls', 'none'] as const, {
      default: 'starttls', env: 'FAPIAO_SMTP_SECURITY',
      description: '`starttls`: plain connection upgraded with STARTTLS, refused if the server does not offer it; `tls`: TLS from the first byte (port 465); `none`: no encryption (development only).',
    }),
    user: Type.Optional(text({ env: 'FAPIAO_SMTP_USER', description: 'SMTP AUTH user name (none: no authentication).' })),
    password: Type.Optional(text({
      env: 'FAPIAO_SMTP_PASSWORD', envOnly: true,
      description: 'SMTP AUTH password. Environment only: a file value is ignored; never logged.',
    })),
    caFile: Type.Optional(text({
      env: 'FAPIAO_SMTP_CA_FILE',
      description: 'PEM file of the CA the SMTP server\'s certificate must chain to (e.g. `<dataDir>/tls/ca.pem` of the development PKI); default: the system\'s CAs.',
    })),
    from: text({
      default: 'fapiao@localhost', env: 'FAPIAO_SMTP_FROM', pattern: '^[^\\s@<>"]+@[^\\s@<>"]+$', rule: 'must be an e-mail address',
      description: 'The sender address (the tenant\'s name is its display name).',
    }),
    connectTimeoutMs: int(100, 120_000, { default: 10_000, env: 'FAPIAO_SMTP_CONNECT_TIMEOUT_MS', description: 'Time to connect and greet the SMTP server.' }),
    sendTimeoutMs: int(100, 600_000, { default: 60_000, env: 'FAPIAO_SMTP_SEND_TIMEOUT_MS', description: 'Time for the whole SMTP transaction of one message.' }),
    maxInFlight: int(1, 1000, { default: 4, description: 'Messages being sent at once per node.' }),
  },
  { title: 'E-mail', description: 'Delivery of invoices by e-mail through an SMTP server (modules/delivery/, docs/email.md).' },
);
