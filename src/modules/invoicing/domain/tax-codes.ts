// Short names (简称) of tax classification codes (税收分类编码, 19 digits), printed as `*简称*名称`
// (docs/invoice-rules.md, "Lines and tax math"), e.g. `*信息技术服务*软件开发费` for 3040201010000000000.
//
// The official table has thousands of entries and is revised by the tax authority; this is a deliberately small
// subset, matched by longest prefix. The service entries follow the categories of 销售服务 in 财税〔2016〕36号
// (交通运输, 邮政, 电信, 现代服务 with its sub-categories, 建筑, 金融, 生活服务), which the code's digits 2–5 mirror.
//
// Decision: a code with no entry here and no `shortName` from the caller is refused (the caller is told to send
// `shortName`) rather than printed with a guessed or coarse short name. An issued invoice never changes, so a wrong
// 简称 would need a red-letter correction; a clear error at integration time costs less.

export const TAX_CODE_PATTERN = /^\d{19}$/;

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '1010101': '谷物',
  '201': '加工劳务',
  '202': '修理修配劳务',
  '301': '运输服务',
  '302': '邮政服务',
  '303': '电信服务',
  '304': '现代服务',
  '30401': '研发和技术服务',
  '30402': '信息技术服务',
  '30403': '文化创意服务',
  '30404': '物流辅助服务',
  '30405': '租赁服务',
  '30406': '鉴证咨询服务',
  '30407': '广播影视服务',
  '30408': '商务辅助服务',
  '3040802': '经纪代理服务',
  '3040803': '人力资源服务',
  '305': '建筑服务',
  '306': '金融服务',
  '30601': '贷款服务',
  '30603': '保险服务',
  '307': '生活服务',
  '30701': '文化体育服务',
  '30702': '教育医疗服务',
  '3070301': '旅游服务',
  '3070302': '娱乐服务',
  '3070401': '餐饮服务',
  '3070402': '住宿服务',
  '30705': '居民日常服务',
};

const LONGEST_PREFIX = Math.max(...Object.keys(SHORT_NAMES).map((k) => k.length));

/** The short name for a 19-digit code by longest matching prefix, or undefined when the table has none. */
export function shortNameForTaxCode(taxCode: string): string | undefined {
  for (let n = Math.min(LONGEST_PREFIX, taxCode.length); n > 0; n--) {
    const hit = SHORT_NAMES[taxCode.slice(0, n)];
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** A name already in the printed form `*简称*名称`. */
export const PRINTED_NAME_PATTERN = /^\*[^*]+\*[^*]/;
