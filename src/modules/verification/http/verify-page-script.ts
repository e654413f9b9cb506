// The verify page's inline script, as text. It is served inside the HTML and allowed by its SHA-256 in the CSP
// (verify-page.ts), so it must stay byte-for-byte what is hashed: no interpolation here. String.raw keeps the regex
// backslashes. Everything from the server or the URL reaches the page through textContent, never innerHTML.
// Its parseQr reads the layout of parseQr() in src/modules/invoicing/domain/qr-payload.ts (version,type,,number,total,
// YYYYMMDD,,crc,hash,signature, separated by '*' in the compact form or ',' in invoices issued before it; in the
// compact form an eleventh field names an algorithm other than SM2, P256 or ED25519). The answer names the signature's
// algorithm (`signature.alg`), shown next to the key.
// Comments inside the script are shipped to every browser: keep them out.
export const VERIFY_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var T = {
    zh: {
      title: '发票查验', lead: '输入发票号码、开票日期和价税合计，查验电子发票是否真实有效。',
      number: '发票号码', date: '开票日期', total: '价税合计', submit: '查验', checking: '正在查验…',
      badNumber: '发票号码为 20 位数字', badDate: '请选择开票日期', badTotal: '请输入金额，例如 113.00',
      okTitle: '查验通过：发票真实有效', type: '发票类型', status: '状态', seller: '销售方', buyer: '购买方',
      taxId: '纳税人识别号', amount: '金额', tax: '税额', capitals: '大写', kind: '发票种类', red: '红字发票',
      original: '对应蓝字发票', signature: '数字签名', sigOk: '签名验证通过', key: '密钥',
      ledger: '公开账本', inLog: '已记入公开账本', leafAt: '索引 ', cpAt: '检查点：树大小 ', cpRoot: '根哈希 ',
      cpLink: '已签名检查点', pending: '待记入下一个检查点',
      normal: '普通发票（普票）', special: '增值税专用发票（专票）',
      'st-normal': '正常', 'st-red-flushed-partial': '部分红冲', 'st-red-flushed': '全额红冲',
      nfTitle: '未查到匹配的发票', nfText: '请核对发票号码、开票日期和价税合计是否与发票一致。同一发票每天可查验的次数有限。',
      tmTitle: '警告：发票数据与签名不符', tmText: '此发票号码的存储数据未通过签名校验，可能已被篡改。请勿信任此发票，并联系开票方。',
      rlTitle: '查验过于频繁', rlText: '请稍后再试，约 ', rlUnit: { s: ' 秒后', m: ' 分钟后', h: ' 小时后' },
      erTitle: '暂时无法查验', erText: '服务暂不可用，请稍后重试。',
      qrTitle: '二维码内容无法识别', qrText: '请手动输入发票信息。', fromQr: '已从二维码读取发票信息。'
    },
    en: {
      title: 'Invoice verification', lead: 'Enter the invoice number, issue date and total with tax to check that an e-invoice is authentic.',
      number: 'Invoice number', date: 'Issue date', total: 'Total with tax', submit: 'Verify', checking: 'Checking…',
      badNumber: 'The invoice number has 20 digits', badDate: 'Choose the issue date', badTotal: 'Enter an amount, e.g. 113.00',
      okTitle: 'Authentic invoice', type: 'Type', status: 'Status', seller: 'Seller', buyer: 'Buyer',
      taxId: 'Tax ID', amount: 'Amount', tax: 'Tax', capitals: 'In words', kind: 'Kind', red: 'Red-letter (credit) invoice',
      original: 'Reverses invoice', signature: 'Signature', sigOk: 'Signature valid', key: 'key',
      ledger: 'Public log', inLog: 'In the public log', leafAt: 'index ', cpAt: 'checkpoint: tree size ', cpRoot: 'root ',
      cpLink: 'Signed checkpoint', pending: 'In the next checkpoint',
      normal: 'Ordinary VAT invoice (普票)', special: 'Special VAT invoice (专票)',
      'st-normal': 'Normal', 'st-red-flushed-partial': 'Partly reversed (red-flushed)', 'st-red-flushed': 'Fully reversed (red-flushed)',
      nfTitle: 'No matching invoice', nfText: 'Check that the number, issue date and total match the invoice. Checks of one invoice per day are limited.',
      tmTitle: 'Warning: data does not match its signature', tmText: 'The stored data of this invoice number fails its signature check and may have been altered. Do not rely on it; contact the seller.',
      rlTitle: 'Too many checks', rlText: 'Please try again in about ', rlUnit: { s: ' s', m: ' min', h: ' h' },
      erTitle: 'Verification unavailable', erText: 'The service is unavailable; please try again later.',
      qrTitle: 'QR code not recognised', qrText: 'Please enter the invoice details by hand.', fromQr: 'Details read from the QR code.'
    }
  };
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var lang = 'zh';
  var last = null;
  var t = function (k) { return T[lang][k]; };

  function pickLang() {
    var q = params.get('lang');
    if (q === 'en' || q === 'zh') return q;
    try { var s = localStorage.getItem('fapiao.lang'); if (s === 'en' || s === 'zh') return s; } catch (e) { /* storage off */ }
    return 'zh';
  }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    document.querySelectorAll('[data-i18n]').forEach(function (n) { var k = n.getAttribute('data-i18n'); n.textContent = k ? t(k) : ''; });
    var b = $('lang');
    b.textContent = lang === 'zh' ? 'English' : '中文';
    b.lang = lang === 'zh' ? 'en' : 'zh-CN';
    if (last) render(last);
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function row(dl, label, values, cls) {
    dl.appendChild(el('dt', '', label));
    var dd = el('dd', cls || '');
    values.forEach(function (v, i) { if (v) dd.appendChild(el(i ? 'small' : 'span', '', v)); });
    dl.appendChild(dd);
  }

  function money(v) { return '¥' + v; }

  function duration(sec) {
    var u = t('rlUnit');
    if (sec < 90) return sec + u.s;
    if (sec < 5400) return Math.ceil(sec / 60) + u.m;
    return Math.ceil(sec / 3600) + u.h;
  }

  function card(cls, title, text) {
    var c = el('div', 'card ' + cls);
    c.appendChild(el('h2', '', title));
    if (text) c.appendChild(el('p', '', text));
    return c;
  }

  function render(r) {
    var out = $('out');
    out.replaceChildren();
    out.hidden = false;
    if (r.note) out.appendChild(el('p', 'note', t(r.note)));
    if (r.kind === 'authentic') {
      var inv = r.body.invoice, sig = r.body.signature;
      var c = card('ok', '✓ ' + t('okTitle'));
      c.id = 'result';
      c.dataset.result = 'authentic';
      var dl = el('dl');
      row(dl, t('number'), [inv.number], 'mono');
      row(dl, t('date'), [inv.issueDate]);
      row(dl, t('type'), [t(inv.type)]);
      row(dl, t('status'), [t('st-' + inv.status)], inv.status === 'normal' ? 'st' : 'st warn');
      if (inv.kind === 'red') row(dl, t('kind'), [t('red'), inv.originalNumber ? t('original') + ' ' + inv.originalNumber : '']);
      row(dl, t('seller'), [inv.seller.name, inv.seller.taxId ? t('taxId') + ' ' + inv.seller.taxId : '']);
      row(dl, t('buyer'), [inv.buyer.name, inv.buyer.taxId ? t('taxId') + ' ' + inv.buyer.taxId : '']);
      row(dl, t('amount'), [money(inv.totals.amount)], 'num');
      row(dl, t('tax'), [money(inv.totals.tax)], 'num');
      row(dl, t('total'), [money(inv.totals.total), t('capitals') + ' ' + inv.totals.totalInCapitals], 'num total');
      row(dl, t('signature'), [t('sigOk'), sig.alg + ' · ' + t('key') + ' ' + sig.keyId]);
      var lg = r.body.ledger;
      if (lg) {
        var ok = lg.status === 'integrated';
        row(dl, t('ledger'), ok ? [t('inLog'), t('leafAt') + lg.leafIndex + ' · ' + t('cpAt') + lg.treeSize, t('cpRoot') + lg.rootHash] : [t('pending'), t('leafAt') + lg.leafIndex]);
        if (ok) { var a = el('a', '', t('cpLink')); a.href = lg.checkpointUrl; a.id = 'checkpoint-link'; dl.lastChild.appendChild(a); }
      }
      c.appendChild(dl);
      out.appendChild(c);
      return;
    }
    var map = { 'not-found': ['plain', 'nf'], tampered: ['bad', 'tm'], limited: ['warn', 'rl'], error: ['warn', 'er'], badqr: ['plain', 'qr'] };
    var m = map[r.kind];
    var text = r.kind === 'limited' ? t('rlText') + duration(r.retry) + (lang === 'zh' ? '再试。' : '.') : t(m[1] + 'Text');
    var box = card(m[0], (r.kind === 'tampered' ? '⚠ ' : '') + t(m[1] + 'Title'), text);
    box.id = 'result';
    box.dataset.result = r.kind;
    if (r.kind === 'tampered') box.setAttribute('role', 'alert');
    out.appendChild(box);
  }

  function clean(id, re) { return $(id).value.replace(re, ''); }

  function validate() {
    var f = { number: clean('number', /\s+/g), issueDate: $('date').value, total: clean('total', /[\s,，¥￥]/g) };
    var bad = null;
    [['number', /^\d{20}$/.test(f.number), 'badNumber'], ['date', /^\d{4}-\d{2}-\d{2}$/.test(f.issueDate), 'badDate'],
      ['total', /^-?\d{1,13}(\.\d{1,2})?$/.test(f.total), 'badTotal']].forEach(function (c) {
      var input = $(c[0]), msg = $(c[0] + '-err');
      input.setAttribute('aria-invalid', c[1] ? 'false' : 'true');
      msg.textContent = c[1] ? '' : t(c[2]);
      msg.dataset.i18n = c[1] ? '' : c[2];
      if (!c[1] && !bad) bad = input;
    });
    if (bad) { bad.focus(); return null; }
    return f;
  }

  function check(note) {
    var body = validate();
    if (!body) return;
    var btn = $('go');
    btn.disabled = true;
    btn.textContent = t('checking');
    fetch('/v1/verify', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      credentials: 'omit', cache: 'no-store'
    }).then(function (res) {
      if (res.status === 429) return { kind: 'limited', retry: Number(res.headers.get('retry-after')) || 60 };
      if (!res.ok) return { kind: 'error' };
      return res.json().then(function (j) {
        return j.result === 'authentic' || j.result === 'not-found' || j.result === 'tampered' ? { kind: j.result, body: j } : { kind: 'error' };
      });
    }).catch(function () { return { kind: 'error' }; }).then(function (r) {
      r.note = note;
      last = r;
      render(r);
      btn.disabled = false;
      btn.textContent = t('submit');
    });
  }

  function crc16(s) {
    var b = new TextEncoder().encode(s), c = 0xffff;
    for (var i = 0; i < b.length; i++) {
      c ^= b[i] << 8;
      for (var k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    }
    return c.toString(16).toUpperCase().padStart(4, '0');
  }

  function parseQr(text) {
    var t = text.trim();
    var p = t.split(t.indexOf(',') < 0 ? '*' : ',');
    if (/^(P256|ED25519)$/.test(p[10])) p.pop();
    if (p.length !== 10 || crc16(p.slice(0, 7).join(',')) !== p[7]) return null;
    if (!/^\d{20}$/.test(p[3]) || !/^-?\d+(\.\d{1,2})?$/.test(p[4]) || !/^\d{8}$/.test(p[5])) return null;
    return { number: p[3], total: p[4], date: p[5].slice(0, 4) + '-' + p[5].slice(4, 6) + '-' + p[5].slice(6) };
  }

  $('f').addEventListener('submit', function (e) { e.preventDefault(); check(null); });
  $('lang').addEventListener('click', function () {
    lang = lang === 'zh' ? 'en' : 'zh';
    try { localStorage.setItem('fapiao.lang', lang); } catch (e) { /* storage off */ }
    params.set('lang', lang);
    history.replaceState(null, '', '?' + params.toString());
    applyLang();
  });
  lang = pickLang();
  applyLang();
  var qr = params.get('qr');
  if (qr) {
    var q = parseQr(qr);
    if (!q) { last = { kind: 'badqr' }; render(last); return; }
    $('number').value = q.number;
    $('date').value = q.date;
    $('total').value = q.total;
    check('fromQr');
  }
})();
`;
