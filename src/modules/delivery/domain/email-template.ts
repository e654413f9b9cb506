// The message of an invoice e-mail (docs/email.md): subject and body in Chinese or English, naming the seller (the
// tenant), in plain text and a simple HTML alternative. Every value is escaped in the HTML part, so a tenant or
// buyer name holding markup is shown as text. The attachments are the invoice's own documents; the body only says
// which invoice they are and how to check it.

export type EmailLang = 'zh' | 'en';
export type AttachmentFormat = 'pdf' | 'ofd' | 'xml';
export const ATTACHMENT_FORMATS: readonly AttachmentFormat[] = ['pdf', 'ofd', 'xml'];
export const EMAIL_LANGS: readonly EmailLang[] = ['zh', 'en'];

export interface TemplateInput {
  lang: EmailLang;
  sellerName: string;
  buyerName: string;
  number: string;
  issueDate: string;
  total: string;
  /** The 查验 page (GET /verify) of this server, or undefined. */
  verifyUrl?: string;
  formats: readonly AttachmentFormat[];
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const FORMAT_NAMES: Record<EmailLang, Record<AttachmentFormat, string>> = {
  zh: { pdf: 'PDF 版式文件', ofd: 'OFD 版式文件', xml: 'XML 数据文件' },
  en: { pdf: 'PDF', ofd: 'OFD', xml: 'XML data file' },
};

/** Subject and the lines of the body, in one language. */
function lines(i: TemplateInput): { subject: string; greeting: string; body: string[]; closing: string } {
  const files = i.formats.map((f) => FORMAT_NAMES[i.lang][f]).join(i.lang === 'zh' ? '、' : ', ');
  if (i.lang === 'zh') {
    return {
      subject: `【${i.sellerName}】电子发票 ${i.number}`,
      greeting: `${i.buyerName}：您好！`,
      body: [
        `${i.sellerName} 向您开具了一张数电发票。`,
        `发票号码：${i.number}`,
        `开票日期：${i.issueDate}`,
        `价税合计：¥${i.total}`,
        ...(files ? [`附件：${files}`] : []),
        ...(i.verifyUrl ? [`查验：${i.verifyUrl}`] : []),
      ],
      closing: '此邮件由系统自动发送，请勿直接回复。',
    };
  }
  return {
    subject: `[${i.sellerName}] E-invoice ${i.number}`,
    greeting: `Dear ${i.buyerName},`,
    body: [
      `${i.sellerName} has issued an electronic invoice to you.`,
      `Invoice number: ${i.number}`,
      `Issue date: ${i.issueDate}`,
      `Total including tax: CNY ${i.total}`,
      ...(files ? [`Attached: ${files}`] : []),
      ...(i.verifyUrl ? [`Verify it at: ${i.verifyUrl}`] : []),
    ],
    closing: 'This message was sent automatically; please do not reply to it.',
  };
}

export function renderEmail(i: TemplateInput): RenderedEmail {
  const l = lines(i);
  const text = [l.greeting, '', ...l.body, '', l.closing, ''].join('\n');
  const html = [
    `<!doctype html><html lang="${i.lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><title>${escapeHtml(l.subject)}</title></head>`,
    '<body style="font-family:sans-serif">',
    `<p>${escapeHtml(l.greeting)}</p>`,
    `<p>${l.body.map(escapeHtml).join('<br>')}</p>`,
    `<p style="color:#666">${escapeHtml(l.closing)}</p>`,
    '</body></html>',
  ].join('');
  // A subject is one line: a line break in a name must not start a header (nodemailer encodes, but be explicit).
  return { subject: l.subject.replace(/[\r\n]+/g, ' '), text, html };
}

/**
 * An SMTP reply as stored and shown: e-mail addresses replaced by `<address>` (a 550 reply usually quotes the
 * recipient, who is the buyer: personal data), controls removed, at most 500 characters.
 */
export function redactReply(reply: string): string {
  return reply
    .replace(/[^\s<>"'@]+@[^\s<>"'@]+/g, '<address>')
    .replace(/<<address>>/g, '<address>')
    .replace(/\p{Cc}+/gu, ' ')
    .trim()
    .slice(0, 500);
}
