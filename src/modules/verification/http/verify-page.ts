// The 发票查验 page a buyer opens from an invoice's QR code (docs/design.md §6): one self-contained HTML document with its
// CSS and script inline, so it loads in one round trip and its CSP can forbid every other source. The inline blocks
// are allowed by their SHA-256 (CSP Level 3 §8.3, hash-source), computed here once at load, so the page is a constant
// byte string: no nonce, no per-request rendering, nothing from the request reflected into it.
import { createHash } from 'node:crypto';
import { VERIFY_PAGE_SCRIPT } from './verify-page-script.ts';

const STYLE = `
:root{--ink:#1f2328;--mute:#59636e;--line:#d1d9e0;--brand:#b4232a;--ok:#116329;--okbg:#e9f7ee;--bad:#b42318;--badbg:#fdeceb;--warn:#7a4d00;--warnbg:#fff4d6}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Droid Sans Fallback",sans-serif;color:var(--ink);background:#f6f7f9}
header{background:var(--brand);color:#fff}
.bar{max-width:600px;margin:0 auto;padding:12px 16px;display:flex;align-items:center;justify-content:space-between;gap:12px}
h1{font-size:20px;margin:0;letter-spacing:.04em}
#lang{background:transparent;color:#fff;border:1px solid rgba(255,255,255,.7);border-radius:999px;padding:4px 14px;font:inherit;font-size:14px;cursor:pointer}
main{max-width:600px;margin:0 auto;padding:16px}
.lead{color:var(--mute);margin:4px 0 16px}
form{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px;display:grid;gap:12px}
label{display:block;font-weight:600;font-size:14px;margin-bottom:4px}
input{width:100%;font:inherit;padding:9px 11px;border:1px solid var(--line);border-radius:6px;background:#fff;color:inherit}
input:focus{outline:2px solid #0969da;outline-offset:0;border-color:#0969da}
input[aria-invalid=true]{border-color:var(--bad)}
#number,.mono{font-family:ui-monospace,"SF Mono",Menlo,Consolas,monospace;letter-spacing:.03em}
.err{color:var(--bad);font-size:13px;margin:4px 0 0;min-height:0}
.err:empty{display:none}
button[type=submit]{font:inherit;font-weight:600;color:#fff;background:var(--brand);border:0;border-radius:6px;padding:10px;cursor:pointer}
button[disabled]{opacity:.6;cursor:wait}
#out{margin-top:16px}
.note{color:var(--mute);font-size:14px;margin:0 0 8px}
.card{border-radius:10px;padding:14px 16px;border:1px solid var(--line);background:#fff}
.card h2{font-size:18px;margin:0 0 6px}
.card p{margin:0}
.ok{border-color:#8fd1a3;background:var(--okbg)}.ok h2{color:var(--ok)}
.bad{border-color:#f1a39b;background:var(--badbg)}.bad h2{color:var(--bad)}
.warn{border-color:#e8c36a;background:var(--warnbg)}.warn h2{color:var(--warn)}
.plain h2{color:var(--ink)}.plain p{color:var(--mute)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:10px 0 0;align-items:baseline}
dt{color:var(--mute);font-size:14px}
dd{margin:0;overflow-wrap:anywhere}
dd small{display:block;color:var(--mute);font-size:13px}
dd a{display:block;font-size:13px}
.num span{font-variant-numeric:tabular-nums}
.total span{font-weight:700;font-size:18px}
dd.st span{display:inline-block;padding:0 8px;border-radius:999px;background:#d2f0dc;color:var(--ok);font-size:14px}
dd.st.warn{background:none;border:0}dd.st.warn span{background:var(--warnbg);color:var(--warn)}
footer{max-width:600px;margin:0 auto;padding:8px 16px 24px;color:var(--mute);font-size:12px}
`;

const FIELD = (id: string, key: string, label: string, attrs: string): string =>
  `<div><label for="${id}" data-i18n="${key}">${label}</label><input id="${id}" name="${id}" ${attrs}><p class="err" id="${id}-err" aria-live="polite"></p></div>`;

const BODY = `<header><div class="bar"><h1 data-i18n="title">发票查验</h1><button id="lang" type="button" lang="en">English</button></div></header>
<main>
<p class="lead" data-i18n="lead">输入发票号码、开票日期和价税合计，查验电子发票是否真实有效。</p>
<noscript><p>此页面需要启用 JavaScript。This page needs JavaScript.</p></noscript>
<form id="f" novalidate>
${FIELD('number', 'number', '发票号码', 'inputmode="numeric" autocomplete="off" maxlength="24" placeholder="20 位数字" required')}
${FIELD('date', 'date', '开票日期', 'type="date" required')}
${FIELD('total', 'total', '价税合计', 'inputmode="decimal" autocomplete="off" maxlength="20" placeholder="113.00" required')}
<button id="go" type="submit" data-i18n="submit">查验</button>
</form>
<section id="out" aria-live="polite" hidden></section>
</main>
<footer>Fapiao · SM2/SM3</footer>`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const VERIFY_PAGE_HTML = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light">
<title>发票查验</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${VERIFY_PAGE_SCRIPT}</script>
</body>
</html>
`;

/** Only the two inline blocks run or style the page; it may talk to its own origin only and never be framed. */
export const VERIFY_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(VERIFY_PAGE_SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const VERIFY_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': VERIFY_PAGE_CSP,
  'x-frame-options': 'DENY',
  // The QR link carries the invoice number and total in its query: never pass it on to another site.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

const LIMITED_STYLE = 'body{font:16px/1.6 system-ui,sans-serif;max-width:32em;margin:15vh auto;padding:0 16px;color:#1f2328}';

/** The answer to a browser past its per-address limit: a page, not problem+json, with the same headers. */
export const VERIFY_LIMITED_HTML = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>查验过于频繁 · Too many requests</title><link rel="icon" href="data:,"><style>${LIMITED_STYLE}</style></head>
<body><h1>查验过于频繁</h1><p>请稍后再试。</p><h1 lang="en">Too many requests</h1><p lang="en">Please try again later.</p></body></html>
`;

export const VERIFY_LIMITED_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...VERIFY_PAGE_HEADERS,
  'content-security-policy': `default-src 'none'; style-src ${sha256(LIMITED_STYLE)}; img-src data:; frame-ancestors 'none'; base-uri 'none'`,
});
